"""The HTTP layer: HTTP/1.1 on ``http.server`` with keep-alive, request bodies (JSON, YAML,
protobuf), chunked newline-delimited watch streams, server-side Tables when the Accept header
asks for them, and ``kind: Status`` errors. The logic lives in :mod:`.verbs` and
:mod:`.discovery`; this module only parses and encodes.
"""
from __future__ import annotations

import json
import queue
import re
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cockpit.world import discovery, proxy, tables
from cockpit.world import selectors as sel
from cockpit.world.resources import RESOURCES, Resource
from cockpit.world.store import Obj, StoreError, dumps, status_obj
from cockpit.world.verbs import TRUE, Api, request_verb

Request = tuple[Resource, "str | None", "str | None", "str | None", dict[str, str]]

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value: Any) -> Any:
    """A decoded body with every lone surrogate (``"\\ud800"`` in JSON, which Python decodes
    to an unencodable code point) replaced by U+FFFD, in keys and values — what a real API
    server's JSON decoder does. Without it the object is stored and every later read of it
    fails to encode (a 500 forever)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {valid_text(k): valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_text(v) for v in value]
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cockpit-drill"
    api: Api  # set on the subclass the server builds
    _raw = b""  # the request body, read by _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, and without Nagle: otherwise each response
        # waits for the client's delayed ACK (~40 ms) and a kubectl call takes 3-4 times longer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ------------------------------------------------------------------ plumbing
    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _send_obj(self, code: int, obj: Any, ctype: str = "application/json") -> None:
        self._send(code, dumps(obj), ctype)

    def _error(self, e: StoreError) -> None:
        self._send_obj(e.code, status_obj(e.code, e.reason, e.message, e.details))

    def _read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(chunks)
        return raw

    def _body(self) -> Any:
        raw = self._raw
        ctype = self.headers.get("Content-Type", "application/json")
        if not raw:
            return None
        if "protobuf" in ctype:
            from cockpit.world import protobuf

            try:
                return protobuf.decode(raw)
            except (protobuf.ProtobufError, UnicodeDecodeError, KeyError, IndexError) as e:
                raise StoreError(415, "UnsupportedMediaType", str(e)) from None
        try:
            text = raw.decode("utf-8", "replace")  # invalid UTF-8 becomes U+FFFD, as Go decodes it
            if "yaml" in ctype:
                import yaml

                return valid_text(yaml.safe_load(text))
            return valid_text(json.loads(text))
        except ValueError as e:
            raise StoreError(400, "BadRequest", f"the body of the request could not be decoded: {e}") from None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ routing
    def _dispatch(self, method: str) -> None:
        api = self.api
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        api.record(method, path, self.headers.get("Authorization"))
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            # The body is read before anything can fail: an error answered with the body still
            # unread would leave it on the kept-alive connection, to be parsed as the next request.
            self._raw = self._read_body()
            if method in ("GET", "HEAD"):
                found = discovery.discover(path, self.headers.get("Accept", ""), api.version)
                if found is not None:
                    code, obj, ctype = found
                    self._send_obj(code, obj, ctype)
                    return
                if discovery.is_openapi(path):
                    raise StoreError(404, "NotFound", "the server could not find the requested resource")
            preq = proxy.match(url.path)
            if preq is not None:
                api.authorize(request_verb(method, preq.name, q), RESOURCES[preq.resource], preq.namespace,
                              preq.name, "proxy")
                self._proxy(preq, method, url.query)
                return
            res, ns, name, sub = api.parse_path(path)
            api.authorize(request_verb(method, name, q), res, ns, name, sub)
            VERB_HANDLERS[method](self, (res, ns, name, sub, q))
        except StoreError as e:
            self._error(e)
        except sel.SelectorError as e:
            self._error(StoreError(400, "BadRequest", str(e)))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - answer 500 like a server would
            import traceback

            traceback.print_exc()
            self._error(StoreError(500, "InternalError", f"Internal error occurred: {e}"))
            self.close_connection = True  # the request may not have been read whole

    def _proxy(self, preq: proxy.ProxyRequest, method: str, query: str) -> None:
        """services|pods/NAME[:PORT]/proxy/PATH: forwarded to what serves it, its answer passed through."""
        base = self.api.proxy.resolve(preq)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("accept", "content-type", "user-agent", "accept-encoding")}
        code, ctype, body = self.api.proxy.forward(base, method, preq.path, query, self._raw, headers)
        self._send(code, body, ctype)

    @staticmethod
    def _not_allowed() -> StoreError:
        return StoreError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _get(self, req: Request) -> None:
        res, ns, name, sub, q = req
        accept = self.headers.get("Accept", "")
        if name is None:
            if q.get("watch") in TRUE:
                self._watch(res, ns, q, accept)
            else:
                items, rv = self.api.list(res, ns, q)
                self._send_list(res, items, rv, accept, q)
        elif sub == "log":
            self._send(200, self.api.pod_log_text(ns, name, q).encode(), "text/plain")
        else:
            obj = self.api.get(res, ns, name, sub)
            if "as=Table" in accept and sub is None:
                self._send_obj(200, tables.table(res.name, [obj], obj["metadata"].get("resourceVersion", ""),
                                                 q.get("includeObject", "Metadata")))
            else:
                self._send(200, self._encode(res, obj, sub))

    def _post(self, req: Request) -> None:
        res, ns, name, _sub, q = req
        if name is not None:
            raise self._not_allowed()
        out = self.api.create(res, ns, self._body(), q.get("dryRun") == "All")
        self._send(201, self._encode(res, out, None))

    def _put(self, req: Request) -> None:
        res, ns, name, sub, q = req
        if name is None:
            raise self._not_allowed()
        out, created = self.api.put(res, ns, name, sub, self._body(), q.get("dryRun") == "All")
        self._send(201 if created else 200, self._encode(res, out, sub))

    def _patch(self, req: Request) -> None:
        res, ns, name, sub, q = req
        if name is None:
            raise self._not_allowed()
        body = self._body()
        out = self.api.patch(res, ns, name, sub, body, self.headers.get("Content-Type", ""), q.get("dryRun") == "All")
        self._send(200, self._encode(res, out, sub))

    def _delete(self, req: Request) -> None:
        res, ns, name, _sub, q = req
        dry = q.get("dryRun") == "All"
        if name is None:
            self._send_obj(200, self.api.delete_collection(res, ns, q, dry))
            return
        body = self._body() or {}
        prop = q.get("propagationPolicy") or (body.get("propagationPolicy") if isinstance(body, dict) else None)
        self._send_obj(200, self.api.delete(res, ns, name, dry, prop))

    # ------------------------------------------------------------------ encoding
    def _encode(self, res: Resource, obj: Obj, sub: str | None) -> bytes:
        if sub is None and obj.get("metadata", {}).get("resourceVersion"):
            stored = self.api.store.get(res.name, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if stored is obj:
                return self.api.store.encoded(res.name, obj)
        return dumps(obj)

    def _send_list(self, res: Resource, items: list[Obj], rv: str, accept: str, q: dict[str, str]) -> None:
        if "as=Table" in accept:
            self._send_obj(200, tables.table(res.name, items, rv, q.get("includeObject", "Metadata")))
            return
        store = self.api.store
        head = dumps({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": {"resourceVersion": rv}})
        body = head[:-1] + b',"items":[' + b",".join(store.encoded(res.name, o) for o in items) + b"]}"
        self._send(200, body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _watch(self, res: Resource, ns: str | None, q: dict[str, str], accept: str) -> None:
        api = self.api
        w = api.watch(res, ns, q)
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            timeout = 1800.0
        deadline = time.monotonic() + timeout
        as_table = "as=Table" in accept
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        first = True
        try:
            while not api.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = w.queue.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                if item is None:
                    break
                etype, data = item
                if as_table and etype in ("ADDED", "MODIFIED", "DELETED"):
                    obj = json.loads(data)["object"]
                    data = dumps({"type": etype, "object": tables.table(
                        res.name, [obj], obj["metadata"].get("resourceVersion", ""),
                        q.get("includeObject", "Metadata"), with_columns=first)})
                    first = False
                self._chunk(data + b"\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            api.store.unwatch(w)


VERB_HANDLERS = {"GET": Handler._get, "HEAD": Handler._get, "POST": Handler._post, "PUT": Handler._put,
                 "PATCH": Handler._patch, "DELETE": Handler._delete}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection (a reset, a proxy giving up) or refuses the TLS
        handshake (it does not trust the certificate) is ordinary network life, not a server
        bug: no traceback on stderr for it, as from a real API server."""
        import ssl
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def make_server(api: Api, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None) -> Server:
    """The API server; with ``tls`` (certificate file, key file) it serves HTTPS, as a real
    API server does (the in-cluster configuration always speaks TLS)."""
    handler = type("BoundHandler", (Handler,), {"api": api})
    server = Server((host, port), handler)
    if tls is not None:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        # the handshake happens in the request's thread, never in the accepting one
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server
