"""Two ways to carry one Kubernetes REST call, behind one tiny interface.

* :class:`HttpTransport` — stdlib ``http.client`` over a kept-alive connection per thread,
  configured by :mod:`backends.kubernetes.kubeconfig`. Costs nothing to import, so a headless
  ``cockpit history`` starts nearly as fast as ``kubectl``.
* :class:`OfficialTransport` — the official ``kubernetes`` client's ``ApiClient.call_api``
  with ``_preload_content=False`` (we parse the JSON ourselves and skip its model classes).
  Used when the kubeconfig needs an ``exec``/``auth-provider`` plugin, or when
  ``COCKPIT_KUBE_CLIENT=official``.

Both map API errors to :mod:`cockpit.errors` (the ``Status`` message, sanitized), apply a
timeout to every call (``COCKPIT_KUBE_TIMEOUT`` seconds, default 10, as kubectl's
``--request-timeout``), send ``User-Agent: cockpit/<version>``, and — the readonly guarantee —
refuse every method but GET before a byte is sent when built ``readonly``.

Faults on the wire. A read (GET, HEAD) that meets a passing fault — HTTP 500/502/503/504 or
429, a reset connection, a timeout, an answer cut short — is tried again a few times
(:mod:`backends.kubernetes.retries`). A write is never sent twice by the transport: a kept-alive connection the server has closed is replaced
*before* a write goes out, and a write whose answer is lost raises
:class:`~cockpit.errors.UnreachableError` titled "No answer" — the caller reads the object
back to learn whether it took effect (see ``kubernetes.rollback``). A 5xx or 429 is a
:class:`~cockpit.errors.ServerError` carrying ``status`` and ``retry_after``.
"""
from __future__ import annotations

import http.client
import json
import os
import select
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from cockpit import __version__
from cockpit.errors import (CockpitError, ConfigError, ConflictError, NotFoundError, ReadonlyError, ServerError,
                            UnreachableError)
from cockpit.text import sanitize

from backends.kubernetes.kubeconfig import Connection, TokenFile
from backends.kubernetes.retries import IDEMPOTENT, RETRY_STATUS, read_with_retries

USER_AGENT = f"cockpit/{__version__}"
FIELD_MANAGER = "cockpit"
DEFAULT_TIMEOUT = 10.0
MAX_BODY = 256 << 20  # a list bigger than this is a mistake, not a history
WATCH_GRACE = 2.0
"""A watch's socket waits this long past the server's ``timeoutSeconds`` before it gives up
on a stream that went silent."""


def default_timeout() -> float:
    """``COCKPIT_KUBE_TIMEOUT`` (seconds, as kubectl's ``--request-timeout``), else 10."""
    raw = os.environ.get("COCKPIT_KUBE_TIMEOUT", "")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"COCKPIT_KUBE_TIMEOUT={sanitize(raw, max_len=40)!r}: expected a number of seconds above 0")
    return value


class Transport(Protocol):
    server: str
    readonly: bool

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any: ...

    def stream(self, path: str, query: dict[str, Any] | None = None, timeout: float = 30.0) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the delta-seconds form; an HTTP date is not honoured)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _error(status: int, raw: bytes, method: str, path: str, retry_after: str | None = None) -> CockpitError:
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
    if status in RETRY_STATUS or status >= 500:
        wait = _retry_after(retry_after)
        busy = status in (429, 503)
        err = ServerError(
            f"{method} {path}: the API server answered HTTP {status}: {message}"
            + (f" (it asks to retry after {wait:g}s)" if wait is not None else ""),
            title="API server busy" if busy else "API server error",
            hint="the API server is " + ("overloaded or restarting" if busy else "failing")
                 + "; try again in a minute (`kubectl get --raw /readyz` shows its health)")
        err.status, err.retry_after = status, wait
        return err
    return CockpitError(f"{method} {path}: {message}", title="API server error")


def _json(raw: bytes, method: str, path: str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise ServerError(f"{method.upper()} {path}: the API answered something that is not JSON (cut short?)",
                          title="API server error",
                          hint="check that the kubeconfig's server is a Kubernetes API server") from None


def _guard(readonly: bool, method: str, path: str) -> None:
    if readonly and method.upper() not in ("GET", "HEAD"):
        raise ReadonlyError(f"refusing {method.upper()} {sanitize(path)}: this cockpit is readonly (nothing was sent)")


def _with_manager(method: str, query: dict[str, Any] | None) -> dict[str, Any]:
    q = dict(query or {})
    if method.upper() in ("POST", "PUT", "PATCH"):
        q.setdefault("fieldManager", FIELD_MANAGER)
    return q


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """Has the server closed this idle kept-alive connection (or sent something unasked)?
    Checked before a write goes out on it, so that a write is never sent on a dead
    connection and then sent again on a fresh one."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _lost(what: str, reason: str) -> UnreachableError:
    """A write went out and its answer did not come back: whether it took effect is unknown."""
    return UnreachableError(f"{what}: the request was sent but its answer was lost ({reason}); it may or may "
                            "not have taken effect", title="No answer",
                            hint="nothing more was sent; running the same command again looks at what took effect "
                                 "before it sends anything")


class HttpTransport:
    def __init__(self, conn: Connection, *, readonly: bool = False, timeout: float | None = None) -> None:
        self.conn = conn
        self.server = conn.server
        self.readonly = readonly
        self.timeout = timeout or default_timeout()
        parts = urlsplit(conn.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"kubeconfig server {conn.server!r}: expected an http(s) URL")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self._local = threading.local()
        self._ssl = self._ssl_context() if self._scheme == "https" else None
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._token_file = TokenFile(conn.token_file) if conn.token_file else None
        token = self._token_file.read() if self._token_file else conn.token
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif conn.username and conn.password is not None:
            import base64

            cred = base64.b64encode(f"{conn.username}:{conn.password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {cred}"

    def _auth(self) -> dict[str, str]:
        """The headers to send, with the token file's current token (a rotated one at once)."""
        if self._token_file is not None:
            token = self._token_file.read()
            if token and self._headers.get("Authorization") != f"Bearer {token}":
                self._headers = {**self._headers, "Authorization": f"Bearer {token}"}
        return self._headers

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

    def _unreachable(self, exc: Exception, write: str = "") -> UnreachableError:
        """``write``: the method and path of a write that went out (its answer is lost)."""
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        if isinstance(exc, (socket.timeout, TimeoutError)):
            reason = f"timed out after {self.timeout:g}s" if not write else "timed out"
        elif isinstance(exc, http.client.IncompleteRead):
            reason = "the answer was cut short"
        refused = isinstance(exc, (ConnectionRefusedError, socket.gaierror))
        if write and not refused:
            err = _lost(write, reason)
        else:
            err = UnreachableError(f"Kubernetes API at {self.server} did not answer: {reason}",
                                   hint="check the context (--context) and that the cluster is reachable")
        err.transient = not refused  # type: ignore[attr-defined]
        return err

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: Any, content_type: str,
              timeout: float | None, accept: str, decode: Callable[[bytes], Any]) -> Any:
        """Send (reads: again on a passing fault) and ``decode`` the answer — inside the retry,
        so an answer cut short into something that does not parse is tried again too."""
        method = method.upper()
        _guard(self.readonly, method, path)
        url = self._url(path, _with_manager(method, query))
        headers = {**self._auth(), "Accept": accept}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        wait = timeout or self.timeout
        return read_with_retries(method, lambda: decode(self._send_once(method, path, url, payload, headers, wait)))

    def _send_once(self, method: str, path: str, url: str, payload: bytes | None, headers: dict[str, str],
                   timeout: float) -> bytes:
        write = method not in IDEMPOTENT
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is not None and write and _closed_by_peer(conn):
                self._drop()  # replaced before the write goes out, never after
                conn = None
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
                # A read on a kept-alive connection the server had closed goes again on a fresh
                # one; a write never does (it may have been received): its caller reads back.
                if fresh or attempt == 2 or write:
                    raise self._unreachable(exc, f"{method} {path}" if write else "") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise self._unreachable(exc, f"{method} {path}" if write else "") from None
        if resp.status >= 400:
            raise _error(resp.status, raw, method, path, resp.getheader("Retry-After"))
        return raw

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any:
        return self._send(method, path, query, body, content_type, timeout, "application/json",
                          lambda raw: _json(raw, method, path))

    def request_text(self, method: str, path: str, query: dict[str, Any] | None = None,
                     timeout: float | None = None) -> str:
        """For the endpoints that answer text (pod logs)."""
        return self._send(method, path, query, None, "application/json", timeout, "text/plain, */*",
                          lambda raw: raw.decode("utf-8", "replace"))

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def stream(self, path: str, query: dict[str, Any] | None = None, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
        """A watch: newline-delimited JSON events on a connection of its own. A stream that
        goes silent for ``timeout`` + :data:`WATCH_GRACE` seconds, is cut (even mid-event) or
        carries something that is not JSON raises UnreachableError (the caller re-lists)."""
        conn = self._new_connection(timeout + WATCH_GRACE)
        try:
            conn.request("GET", self._url(path, query), headers=self._auth())
            resp = conn.getresponse()
            if resp.status >= 400:
                raise _error(resp.status, resp.read(), "GET", path, resp.getheader("Retry-After"))
            while True:
                line = resp.readline()
                if not line:
                    return
                if not line.endswith(b"\n"):
                    raise self._unreachable(http.client.IncompleteRead(line))
                if line.strip():
                    yield _watch_event(line, self.server)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            conn.close()

    def close(self) -> None:
        self._drop()


def _watch_event(line: bytes, server: str) -> dict[str, Any]:
    try:
        doc = json.loads(line)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        err = UnreachableError(f"the watch stream from {server} carried something that is not a JSON event",
                               hint="check that the kubeconfig's server is a Kubernetes API server")
        err.transient = True  # type: ignore[attr-defined]
        raise err
    return doc


class OfficialTransport:
    """The official client's ApiClient, used raw (no model deserialization)."""

    def __init__(self, conn: Connection, *, readonly: bool = False, timeout: float | None = None) -> None:
        from kubernetes import config as kconfig

        self.conn = conn
        self.server = conn.server
        self.readonly = readonly
        self.timeout = timeout or default_timeout()
        from kubernetes import client as kclient

        try:
            cfg = kclient.Configuration()
            if conn.context == "in-cluster":
                kconfig.load_incluster_config(client_configuration=cfg)
            else:
                kconfig.load_kube_config(config_file=conn.kubeconfig, context=conn.context, client_configuration=cfg)
        except Exception as exc:  # the client raises ConfigException and friends
            raise ConfigError(f"kubeconfig context {conn.context!r}: {sanitize(exc)}") from None
        # No retries below us: urllib3 would otherwise sleep out any Retry-After (even minutes)
        # and retry PUTs and DELETEs on its own. Reads are retried by read_with_retries.
        cfg.retries = False
        self.api = kclient.ApiClient(cfg)
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
            raise self._unreachable(exc, method, path) from None
        if resp.status >= 400:
            raise _error(resp.status, resp.read() or b"", method, path, resp.headers.get("Retry-After"))
        return resp

    def _unreachable(self, exc: Exception, method: str, path: str) -> UnreachableError:
        from urllib3.exceptions import NewConnectionError

        refused = isinstance(exc, (NewConnectionError, ConnectionRefusedError))
        if method.upper() not in IDEMPOTENT and not refused:
            err = _lost(f"{method.upper()} {path}", sanitize(exc, max_len=200))
        else:
            err = UnreachableError(f"Kubernetes API at {self.server} did not answer: {sanitize(exc, max_len=200)}")
        err.transient = not refused  # type: ignore[attr-defined]
        return err

    def _read(self, method: str, path: str, query: dict[str, Any] | None, body: Any, content_type: str,
              timeout: float) -> bytes:
        from urllib3.exceptions import HTTPError as Urllib3Error

        resp = self._call(method, path, query, body, content_type, timeout)
        try:
            return resp.read() or b""
        except (Urllib3Error, OSError) as exc:  # the body was cut short
            raise self._unreachable(exc, method, path) from None

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any:
        method = method.upper()
        _guard(self.readonly, method, path)
        q = _with_manager(method, query)
        return read_with_retries(
            method, lambda: _json(self._read(method, path, q, body, content_type, timeout or self.timeout), method, path))

    def request_text(self, method: str, path: str, query: dict[str, Any] | None = None,
                     timeout: float | None = None) -> str:
        _guard(self.readonly, method, path)
        m = method.upper()
        raw = read_with_retries(m, lambda: self._read(m, path, query, None, "application/json", timeout or self.timeout))
        return raw.decode("utf-8", "replace")

    def stream(self, path: str, query: dict[str, Any] | None = None, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
        from urllib3.exceptions import HTTPError as Urllib3Error

        resp = self._call("GET", path, query, None, "application/json", timeout + WATCH_GRACE).response
        buf = b""
        try:
            for chunk in resp.stream(amt=None, decode_content=False):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield _watch_event(line, self.server)
            if buf.strip():
                raise self._unreachable(http.client.IncompleteRead(buf), "GET", path)
        except (Urllib3Error, OSError) as exc:
            raise self._unreachable(exc, "GET", path) from None
        finally:
            resp.release_conn()

    def close(self) -> None:
        self.api.close()


def make_transport(conn: Connection, *, readonly: bool = False, timeout: float | None = None) -> Transport:
    if conn.needs_plugin or os.environ.get("COCKPIT_KUBE_CLIENT") == "official":
        return OfficialTransport(conn, readonly=readonly, timeout=timeout)
    return HttpTransport(conn, readonly=readonly, timeout=timeout)
