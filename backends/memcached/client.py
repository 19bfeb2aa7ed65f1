"""Memcached, guarded like Redis FLUSHALL: ``stats`` and ``flush_all`` (pymemcache).

``flush_all`` wipes every item on the server, so it is refused unless the operator typed the
server's ``host:port`` (:meth:`MemcachedBackend.flush`), and refused before connecting when
readonly. ``stats`` before and after say what was there and what is left; ``cmd_flush`` (the
server's count of ``flush_all`` commands) is how a retry after a crash tells whether the
flush it journaled already happened, without flushing twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cockpit.errors import ConfigError, ConflictError, ReadonlyError, UnreachableError
from cockpit.text import sanitize

DEFAULT_PORT = 11211


class ConfirmationMismatch(ConflictError):
    title = "Confirmation mismatch"


@dataclass(frozen=True)
class Stats:
    items: int
    bytes: int
    cmd_flush: int
    uptime_s: int
    version: str


@dataclass(frozen=True)
class FlushResult:
    target: str
    items_before: int
    items_after: int
    cmd_flush_before: int
    cmd_flush_after: int
    verified: bool
    """A probe item stored just before the flush is a miss after it: every earlier item is gone
    (memcached drops flushed items lazily, so ``curr_items`` alone would not show it)."""
    elapsed: float


def parse_server(server: str | None) -> tuple[str, int]:
    """``host:port`` (or ``host``: port 11211); a bad one is one clear line (exit 2)."""
    text = (server or "").strip()
    if not text:
        raise ConfigError("no memcached server", hint="pass --server HOST:PORT or set MEMCACHED_SERVER")
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"memcached server {sanitize(text, max_len=200)!r} is not HOST:PORT",
                          hint="e.g. --server cache.internal:11211")
    return host, int(port)


class MemcachedBackend:
    def __init__(self, server: str, *, readonly: bool = False, timeout: float = 5.0) -> None:
        self.host, self.port = parse_server(server)
        self.readonly, self.timeout = readonly, timeout
        self._client: Any = None

    @property
    def target(self) -> str:
        """What the operator types to confirm a flush: ``host:port``."""
        return f"{self.host}:{self.port}"

    def _conn(self) -> Any:
        if self._client is None:
            from pymemcache.client.base import Client

            self._client = Client((self.host, self.port), connect_timeout=self.timeout, timeout=self.timeout)
        return self._client

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn(self._conn())
        except (OSError, EOFError) as exc:
            self.close()
            raise UnreachableError(f"memcached at {self.target} did not answer {what}: {sanitize(str(exc), max_len=200)}",
                                   hint="check the server and port (nothing was changed)") from None
        except Exception as exc:  # noqa: BLE001 — pymemcache's protocol errors: one line, never a traceback
            self.close()
            raise UnreachableError(f"memcached at {self.target} answered {what} with an error: "
                                   f"{type(exc).__name__}: {sanitize(str(exc), max_len=200)}") from None

    def stats(self) -> Stats:
        raw = self._call("stats", lambda c: c.stats())

        def num(key: str) -> int:
            v = raw.get(key.encode()) if isinstance(next(iter(raw), b""), bytes) else raw.get(key)
            try:
                return int(v)
            except (TypeError, ValueError):
                return 0

        version = raw.get(b"version", raw.get("version", b""))
        return Stats(items=num("curr_items"), bytes=num("bytes"), cmd_flush=num("cmd_flush"),
                     uptime_s=num("uptime"), version=sanitize(version.decode() if isinstance(version, bytes) else str(version)))

    def flush(self, *, confirm: str) -> FlushResult:
        """``flush_all`` (every item on the server), only when ``confirm`` is ``host:port``;
        readonly refuses before connecting; stats before and after."""
        if self.readonly:
            raise ReadonlyError(f"readonly: flush_all on {self.target} refused (nothing was sent)")
        if (confirm or "").strip() != self.target:
            raise ConfirmationMismatch(
                f"flush refused: you typed {sanitize(confirm or '', max_len=100)!r}, the server is {self.target!r}",
                hint=f"type {self.target} to confirm")
        import uuid

        started = time.monotonic()
        before = self.stats()
        probe = f"cockpit:flush-probe:{uuid.uuid4().hex}"
        self._call("set", lambda c: c.set(probe, b"1", expire=60, noreply=False))
        self._call("flush_all", lambda c: c.flush_all(noreply=False))
        gone = self._call("get", lambda c: c.get(probe)) is None
        after = self.stats()
        return FlushResult(self.target, before.items, after.items, before.cmd_flush, after.cmd_flush, gone,
                           time.monotonic() - started)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 — closing never fails a command
                pass

    def __enter__(self) -> MemcachedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
