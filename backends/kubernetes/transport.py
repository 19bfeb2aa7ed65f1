"""Two ways to carry one Kubernetes REST call, behind one tiny interface.

* :class:`HttpTransport` — stdlib ``http.client`` over a kept-alive connection per thread,
  configured by :mod:`backends.kubernetes.kubeconfig`. Costs nothing to import, so a headless
  ``cockpit history`` starts nearly as fast as ``kubectl``.
* :class:`OfficialTransport` — the official ``kubernetes`` client's ``ApiClient.call_api``
  with ``_preload_content=False`` (we parse the JSON ourselves and skip its model classes).
  Used when the kubeconfig needs an ``exec``/``auth-provider`` plugin, or when
  ``COCKPIT_KUBE_CLIENT=official``.

Both map API errors to :mod:`cockpit.errors` (the ``Status`` message, sanitized), apply a
timeout to every call, send ``User-Agent: cockpit/<version>``, and — the readonly guarantee —
refuse every method but GET before a byte is sent when built ``readonly``.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from cockpit import __version__
from cockpit.errors import CockpitError, ConfigError, ConflictError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.text import sanitize

from backends.kubernetes.kubeconfig import Connection

USER_AGENT = f"cockpit/{__version__}"
FIELD_MANAGER = "cockpit"
DEFAULT_TIMEOUT = 10.0
MAX_BODY = 256 << 20  # a list bigger than this is a mistake, not a history


class Transport(Protocol):
    server: str
    readonly: bool

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any: ...

    def stream(self, path: str, query: dict[str, Any] | None = None, timeout: float = 30.0) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


def _error(status: int, raw: bytes, method: str, path: str) -> CockpitError:
    message = ""
    try:
        doc = json.loads(raw)
        if isinstance(doc, dict):
            message = doc.get("message") or doc.get("reason") or ""
    except ValueError:
        message = raw[:300].decode("utf-8", "replace")
    message = sanitize(message or f"HTTP {status}", max_len=500)
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return ConflictError(message)
    if status in (401, 403):
        return CockpitError(message, title="Forbidden" if status == 403 else "Unauthorized",
                            hint="check the kubeconfig user's credentials and RBAC")
    if status in (400, 422):
        return CockpitError(message, title="Rejected by the API server")
    return CockpitError(f"{method} {path}: {message}", title="API server error")


def _guard(readonly: bool, method: str, path: str) -> None:
    if readonly and method.upper() not in ("GET", "HEAD"):
        raise ReadonlyError(f"refusing {method.upper()} {sanitize(path)}: this cockpit is readonly (nothing was sent)")


def _with_manager(method: str, query: dict[str, Any] | None) -> dict[str, Any]:
    q = dict(query or {})
    if method.upper() in ("POST", "PUT", "PATCH"):
        q.setdefault("fieldManager", FIELD_MANAGER)
    return q


class HttpTransport:
    def __init__(self, conn: Connection, *, readonly: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.conn = conn
        self.server = conn.server
        self.readonly = readonly
        self.timeout = timeout
        parts = urlsplit(conn.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"kubeconfig server {conn.server!r}: expected an http(s) URL")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self._ssl = self._ssl_context() if self._scheme == "https" else None
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        token = conn.bearer()
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif conn.username and conn.password is not None:
            import base64

            cred = base64.b64encode(f"{conn.username}:{conn.password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {cred}"

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.conn.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.conn.ca_data:
            ctx.load_verify_locations(cadata=self.conn.ca_data.decode("ascii", "replace"))
        if self.conn.cert_data and self.conn.key_data:
            # ssl wants files: write them 0600, load, remove at once.
            with tempfile.TemporaryDirectory(prefix="cockpit-tls-") as d:
                cert, key = os.path.join(d, "c"), os.path.join(d, "k")
                for p, data in ((cert, self.conn.cert_data), (key, self.conn.key_data)):
                    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                ctx.load_cert_chain(cert, key)
        return ctx

    def _new_connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _url(self, path: str, query: dict[str, Any] | None) -> str:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        return self._prefix + path + (("?" + urlencode(q)) if q else "")

    def _unreachable(self, exc: Exception) -> UnreachableError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        if isinstance(exc, (socket.timeout, TimeoutError)):
            reason = "timed out"
        return UnreachableError(f"Kubernetes API at {self.server} did not answer: {reason}",
                                hint="check the context (--context) and that the cluster is reachable")

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: Any, content_type: str,
              timeout: float | None, accept: str) -> bytes:
        method = method.upper()
        _guard(self.readonly, method, path)
        url = self._url(path, _with_manager(method, query))
        headers = {**self._headers, "Accept": accept}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        timeout = timeout or self.timeout
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            fresh = conn is None
            if fresh:
                conn = self._local.conn = self._new_connection(timeout)
            try:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request(method, url, body=payload, headers=headers)
                resp = conn.getresponse()
                raw = resp.read(MAX_BODY + 1)
                if len(raw) > MAX_BODY:
                    self._drop()
                    raise CockpitError(f"{method} {path}: the answer is larger than {MAX_BODY >> 20} MiB",
                                       title="API server error")
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                # A kept-alive connection the server closed: retry once on a fresh one.
                if fresh or attempt == 2:
                    raise self._unreachable(exc) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise self._unreachable(exc) from None
        if resp.status >= 400:
            raise _error(resp.status, raw, method, path)
        return raw

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any:
        raw = self._send(method, path, query, body, content_type, timeout, "application/json")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise CockpitError(f"{method} {path}: the API answered something that is not JSON",
                               title="API server error") from None

    def request_text(self, method: str, path: str, query: dict[str, Any] | None = None,
                     timeout: float | None = None) -> str:
        """For the endpoints that answer text (pod logs)."""
        return self._send(method, path, query, None, "application/json", timeout, "text/plain, */*").decode("utf-8", "replace")

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def stream(self, path: str, query: dict[str, Any] | None = None, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
        """A watch: newline-delimited JSON events on a connection of its own."""
        conn = self._new_connection(timeout + 5)
        try:
            conn.request("GET", self._url(path, query), headers=self._headers)
            resp = conn.getresponse()
            if resp.status >= 400:
                raise _error(resp.status, resp.read(), "GET", path)
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()

    def close(self) -> None:
        self._drop()


class OfficialTransport:
    """The official client's ApiClient, used raw (no model deserialization)."""

    def __init__(self, conn: Connection, *, readonly: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
        from kubernetes import config as kconfig

        self.conn = conn
        self.server = conn.server
        self.readonly = readonly
        self.timeout = timeout
        try:
            if conn.context == "in-cluster":
                from kubernetes import client as kclient

                cfg = kclient.Configuration()
                kconfig.load_incluster_config(client_configuration=cfg)
                self.api = kclient.ApiClient(cfg)
            else:
                self.api = kconfig.new_client_from_config(config_file=conn.kubeconfig, context=conn.context)
        except Exception as exc:  # the client raises ConfigException and friends
            raise ConfigError(f"kubeconfig context {conn.context!r}: {sanitize(exc)}") from None
        self.api.user_agent = USER_AGENT

    def _call(self, method: str, path: str, query: dict[str, Any] | None, body: Any, content_type: str,
              timeout: float) -> Any:
        """Serialize with the client's own machinery, send, and return the raw response
        (``preload_content=False`` under the hood; we parse the JSON ourselves)."""
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            method, url, headers, payload, post = self.api.param_serialize(
                method, path,
                query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body, auth_settings=["BearerToken"],
            )
            resp = self.api.call_api(method, url, header_params=headers, body=payload, post_params=post,
                                     _request_timeout=timeout)
        except (Urllib3Error, OSError) as exc:
            raise UnreachableError(f"Kubernetes API at {self.server} did not answer: {sanitize(exc, max_len=200)}") from None
        if resp.status >= 400:
            raise _error(resp.status, resp.read() or b"", method, path)
        return resp

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any:
        method = method.upper()
        _guard(self.readonly, method, path)
        raw = self._call(method, path, _with_manager(method, query), body, content_type, timeout or self.timeout).read()
        return json.loads(raw) if raw else None

    def request_text(self, method: str, path: str, query: dict[str, Any] | None = None,
                     timeout: float | None = None) -> str:
        _guard(self.readonly, method, path)
        raw = self._call(method.upper(), path, query, None, "application/json", timeout or self.timeout).read()
        return (raw or b"").decode("utf-8", "replace")

    def stream(self, path: str, query: dict[str, Any] | None = None, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
        resp = self._call("GET", path, query, None, "application/json", timeout + 5).response
        buf = b""
        try:
            for chunk in resp.stream(amt=None, decode_content=False):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()

    def close(self) -> None:
        self.api.close()


def make_transport(conn: Connection, *, readonly: bool = False, timeout: float = DEFAULT_TIMEOUT) -> Transport:
    if conn.needs_plugin or os.environ.get("COCKPIT_KUBE_CLIENT") == "official":
        return OfficialTransport(conn, readonly=readonly, timeout=timeout)
    return HttpTransport(conn, readonly=readonly, timeout=timeout)
