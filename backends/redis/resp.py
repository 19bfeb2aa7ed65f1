"""A minimal RESP2 connection for the hot path: a socket and the hiredis reply parser.

``cockpit redis invalidate`` is a whole process racing a shell pipeline; importing redis-py
costs more than the work on a small keyspace (it pulls in asyncio). When hiredis is
installed and the URL is plain ``redis://`` or ``unix://``, the backend talks RESP over this
connection; otherwise (``rediss://``, no hiredis) it uses redis-py's own connection. Both
offer the same three calls: :meth:`send` (packed bytes), :meth:`read` (one reply),
:meth:`close`. Replies that are errors raise :class:`RespError`.
"""
from __future__ import annotations

import socket
from typing import Any


class RespError(Exception):
    """The server answered with an error reply (``-ERR ...``)."""


def pack(*args: Any) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8", "surrogateescape")
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def have_hiredis() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


class FastConnection:
    """Socket + ``hiredis.Reader``. Connect, AUTH, SELECT and CLIENT SETNAME in one round trip."""

    def __init__(self, *, host: str | None, port: int, path: str | None, db: int, username: str | None,
                 password: str | None, connect_timeout: float, socket_timeout: float, name: str = "cockpit") -> None:
        import hiredis

        self._reader = hiredis.Reader(replyError=RespError)
        if path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(connect_timeout)
            try:
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(socket_timeout)
        self._sock = sock
        hello = []
        if password:
            hello.append(pack("AUTH", username, password) if username else pack("AUTH", password))
        if db:
            hello.append(pack("SELECT", db))
        hello.append(pack("CLIENT", "SETNAME", name))
        try:
            self.send(b"".join(hello))
            for _ in hello:
                self.read()
        except BaseException:
            self.close()
            raise

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def read(self) -> Any:
        reader = self._reader
        reply = reader.gets()
        while reply is False:
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            reader.feed(chunk)
            reply = reader.gets()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


class RedisPyConnection:
    """The same three calls over a redis-py connection (TLS, no hiredis...)."""

    def __init__(self, client: Any) -> None:
        self._pool = client.connection_pool
        self._conn = self._pool.get_connection()

    def send(self, data: bytes) -> None:
        self._conn.send_packed_command([data], check_health=False)

    def read(self) -> Any:
        import redis

        try:
            return self._conn.read_response()
        except redis.ResponseError as exc:
            raise RespError(str(exc)) from None

    def close(self) -> None:
        self._conn.disconnect()
        self._pool.release(self._conn)
