"""The Redis backend: SCAN-based pattern invalidation, counts, DBSIZE, guarded FLUSH.

Invalidation is built for speed on a large keyspace without blocking the server: ``SCAN``
with a large ``COUNT`` (the server does the matching), and each batch of keys it returns is
sent as one ``UNLINK`` *in the same write* as the next ``SCAN``, so one round trip does both
and no key is ever sent twice. Replies are parsed by hiredis when it is installed. Each SCAN
call is bounded (``scan_count`` buckets), so the server never stalls for long.

Readonly: a backend built ``readonly=True`` refuses UNLINK/DEL/FLUSH* (and every other
command not on its read allowlist) before anything is sent. Our connections are named
``cockpit`` (``CLIENT SETNAME``). The URL's password never leaves this module
(:attr:`display_url`).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from backends.redis.models import CountResult, FlushResult, InvalidateProgress
from cockpit.errors import Aborted, CockpitError, ConfigError, ConflictError, ReadonlyError, UnreachableError
from cockpit.text import redact_url, sanitize

DEFAULT_SCAN_COUNT = 10_000
KEYS_VERIFY_MAX = 250_000
"""Verification after an invalidation uses one ``KEYS pattern`` when the database holds at
most this many keys: KEYS matches in place (~0.1-0.2 µs a key, so ≤ ~50 ms of server time
here) where SCAN copies every key it visits (~0.9 µs a key, 6× the server CPU). Above it,
or when KEYS is renamed/forbidden, the verification SCANs like the rest."""

_READ_COMMANDS = frozenset(
    {b"PING", b"SCAN", b"DBSIZE", b"INFO", b"TYPE", b"TTL", b"PTTL", b"EXISTS", b"GET", b"STRLEN",
     b"MEMORY", b"CLIENT", b"ECHO", b"TIME", b"KEYS"}
)


_READ_SUBCOMMANDS = {
    b"CLIENT": frozenset({b"GETNAME", b"SETNAME", b"ID", b"INFO", b"LIST"}),
    b"MEMORY": frozenset({b"USAGE", b"STATS", b"DOCTOR"}),
}


def _word(value: Any) -> bytes:
    return (value if isinstance(value, bytes) else str(value).encode()).upper()


class AuthenticationError(ConfigError):
    title = "Authentication failed"


class ConfirmationMismatch(ConflictError):
    title = "Confirmation mismatch"


class RedisCommandError(CockpitError):
    title = "Redis error"


def _pack_py(name: bytes, args: list[bytes]) -> bytes:
    """RESP encoding of ``name *args`` (keys as bytes, as SCAN returned them)."""
    parts = [b"*%d\r\n$%d\r\n%s\r\n" % (len(args) + 1, len(name), name)]
    parts += [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]
    return b"".join(parts)


def _pack(name: bytes, args: list[bytes]) -> bytes:
    """Like :func:`_pack_py`, in C when hiredis has ``pack_command`` (a third of the CPU)."""
    global _pack
    try:
        from hiredis import pack_command
    except ImportError:
        _pack = _pack_py
        return _pack_py(name, args)

    def _pack_c(name: bytes, args: list[bytes]) -> bytes:
        return pack_command((name, *args))

    _pack = _pack_c
    return _pack_c(name, args)


def _scan_cmd(cursor: bytes, pattern: bytes, count: int) -> bytes:
    return _pack(b"SCAN", [cursor, b"MATCH", pattern, b"COUNT", b"%d" % count])


class RedisBackend:
    """Synchronous Redis adapter. One instance per URL; not shared between threads mid-call."""

    readonly: bool

    def __init__(self, url: str, *, readonly: bool = False, connect_timeout: float = 5.0,
                 socket_timeout: float = 10.0, scan_count: int = DEFAULT_SCAN_COUNT,
                 max_batch: int = 20_000, transport: str = "auto",
                 verify_with_keys: bool = True) -> None:
        if not isinstance(url, str) or not url.strip():
            raise ConfigError("no Redis URL given", hint="pass --url redis://host:6379/0")
        self.url = url
        self.readonly = readonly
        self.connect_timeout = connect_timeout
        self.socket_timeout = socket_timeout
        self.scan_count = max(10, int(scan_count))
        self.max_batch = max(1, int(max_batch))
        try:
            parts = urlsplit(url)
            self._password = unquote(parts.password or "")
            port = parts.port or 6379
            host = parts.hostname or ("unix" if parts.scheme == "unix" else "localhost")
        except ValueError as exc:
            raise ConfigError(f"bad Redis URL {self._redact(url)}: {sanitize(str(exc))}") from None
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"bad Redis URL {self._redact(url)}: the scheme must be redis://, rediss:// or unix://")
        db = 0
        path = (parts.path or "").strip("/")
        if parts.scheme != "unix" and path:
            try:
                db = int(path)
            except ValueError:
                raise ConfigError(f"bad Redis URL {self._redact(url)}: database {sanitize(path)!r} is not a number") from None
        for q in (parts.query or "").split("&"):
            if q.startswith("db="):
                try:
                    db = int(q[3:])
                except ValueError:
                    raise ConfigError(f"bad Redis URL {self._redact(url)}: db= must be a number") from None
        self.host = sanitize(host if parts.scheme != "unix" else parts.path)
        self.port = port if parts.scheme != "unix" else 0
        self.db = db
        self._scheme = parts.scheme
        self.transport = transport
        self.verify_with_keys = verify_with_keys
        """``auto`` (hiredis fast path when possible), ``fast`` or ``redis-py``."""
        self._client: Any = None
        self._connection: Any = None

    # ------------------------------------------------------------------ identity

    def _redact(self, text: str) -> str:
        pw = getattr(self, "_password", "")
        out = redact_url(text)
        try:
            p = urlsplit(text)
            if p.password:
                out = out.replace(":" + p.password + "@", ":***@")
        except ValueError:
            pass
        if pw:
            out = out.replace(pw, "***")
        return sanitize(out)

    @property
    def display_url(self) -> str:
        return self._redact(self.url)

    @property
    def server(self) -> str:
        """``host:port`` (what FLUSHALL's confirmation must name)."""
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def target(self) -> str:
        """``host:port/db`` (what FLUSHDB's confirmation must name)."""
        return f"{self.server}/{self.db}"

    # ------------------------------------------------------------------ plumbing

    def _refuse_if_readonly(self, action: str) -> None:
        if self.readonly:
            raise ReadonlyError(f"{action} refused: the Redis backend is readonly; nothing was sent")

    @property
    def client(self) -> Any:
        """A redis-py client for this URL (named ``cockpit``, bounded timeouts, no retries)."""
        if self._client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            try:
                self._client = redis.Redis.from_url(
                    self.url, db=self.db, client_name="cockpit", socket_connect_timeout=self.connect_timeout,
                    socket_timeout=self.socket_timeout, retry=Retry(NoBackoff(), 0), decode_responses=False,
                )
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"bad Redis URL {self.display_url}: {self._redact(str(exc))}") from None
        return self._client

    def _open(self) -> Any:
        """A RESP connection: the hiredis fast path for redis:// and unix://, else redis-py's."""
        from backends.redis.resp import FastConnection, RedisPyConnection, have_hiredis

        if self.transport in ("auto", "fast") and self._scheme in ("redis", "unix") and have_hiredis():
            p = urlsplit(self.url)
            return FastConnection(
                host=p.hostname or "localhost", port=self.port, path=p.path if self._scheme == "unix" else None,
                db=self.db, username=unquote(p.username) if p.username else None, password=self._password or None,
                connect_timeout=self.connect_timeout, socket_timeout=self.socket_timeout,
            )
        return RedisPyConnection(self.client)

    def _conn(self) -> Any:
        if self._connection is None:
            try:
                self._connection = self._open()
            except Exception as exc:  # noqa: BLE001 — mapped to CockpitErrors
                raise self._error(exc) from None
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _error(self, exc: Exception) -> CockpitError:
        if isinstance(exc, CockpitError):
            return exc
        msg = self._redact(str(exc).strip() or type(exc).__name__)
        names = {c.__name__ for c in type(exc).__mro__}
        if "AuthenticationError" in names or "WRONGPASS" in msg or "NOAUTH" in msg or "invalid password" in msg:
            return AuthenticationError(f"Redis at {self.server} rejected the credentials: {msg}",
                                       hint="check the user and password in the URL")
        if isinstance(exc, OSError) or names & {"ConnectionError", "TimeoutError"}:
            return UnreachableError(f"cannot reach Redis at {self.server}: {msg}",
                                    hint=f"check host, port and network (connect timeout {self.connect_timeout:g}s)")
        return RedisCommandError(f"{self.target}: {msg}")

    def execute(self, *args: Any) -> Any:
        """One command. Readonly: only read commands (and CLIENT SETNAME) are sent."""
        from backends.redis.resp import pack

        name = _word(args[0])
        if self.readonly and (name not in _READ_COMMANDS or (
                name in _READ_SUBCOMMANDS and (len(args) < 2 or _word(args[1]) not in _READ_SUBCOMMANDS[name]))):
            raise ReadonlyError(f"{name.decode()} refused: the Redis backend is readonly; nothing was sent")
        conn = self._conn()
        try:
            conn.send(pack(*args))
            return conn.read()
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc)
            if not isinstance(err, RedisCommandError):
                self._drop()
            raise err from None

    def close(self) -> None:
        self._drop()
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def __enter__(self) -> RedisBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reads

    def ping(self) -> bool:
        return bool(self.execute("PING"))

    def dbsize(self) -> int:
        return int(self.execute("DBSIZE"))

    def client_name(self) -> str:
        name = self.execute("CLIENT", "GETNAME")
        return (name or b"").decode() if isinstance(name, bytes) else str(name or "")

    def count(self, pattern: str, *, cancel: threading.Event | None = None, sample: int = 5) -> CountResult:
        """Dry run: how many keys match ``pattern`` (SCAN, nothing deleted)."""
        last = None
        samples: list[str] = []
        for last in self._run(pattern, delete=False, cancel=cancel, samples=samples, sample=sample):
            pass
        assert last is not None
        return CountResult(pattern=sanitize(pattern), matched=last.matched, dbsize=last.dbsize_before,
                           scan_calls=last.scan_calls, elapsed=last.elapsed, sample=tuple(samples))

    # ------------------------------------------------------------------ writes

    def invalidate(self, pattern: str, *, cancel: threading.Event | None = None, dry_run: bool = False,
                   verify: bool = True) -> Iterator[InvalidateProgress]:
        """Delete every key matching ``pattern``, streaming progress; the last item is ``done``
        and, with ``verify``, carries ``remaining`` (keys still matching after a fresh SCAN).
        ``dry_run`` counts instead. Readonly refuses (a dry run is allowed)."""
        if not dry_run:
            self._refuse_if_readonly(f"invalidating {sanitize(pattern)!r} on {self.target}")
        if not pattern:
            raise ConfigError("an empty pattern matches nothing; use a glob such as 'moshimoshi:*'")
        return self._run(pattern, delete=not dry_run, cancel=cancel, verify=verify and not dry_run)

    def invalidate_all(self, pattern: str, **kw: Any) -> InvalidateProgress:
        last = None
        for last in self.invalidate(pattern, **kw):
            pass
        assert last is not None
        return last

    def flush(self, *, confirm: str, scope: str = "db") -> FlushResult:
        """FLUSHDB (``scope='db'``, confirm ``host:port/db``) or FLUSHALL (``'all'``, confirm
        ``host:port``), ASYNC; DBSIZE before and after. Readonly refuses before connecting."""
        if scope not in ("db", "all"):
            raise ConfigError(f"flush scope must be 'db' or 'all', not {sanitize(scope)!r}")
        expected = self.target if scope == "db" else self.server
        self._refuse_if_readonly(f"FLUSH{'DB' if scope == 'db' else 'ALL'} on {expected}")
        if (confirm or "").strip() != expected:
            raise ConfirmationMismatch(
                f"flush refused: you typed {sanitize(confirm)!r}, the {'database' if scope == 'db' else 'server'} is {expected!r}",
                hint=f"type {expected} to confirm",
            )
        started = time.monotonic()
        before = self.dbsize()
        self.execute("FLUSHDB" if scope == "db" else "FLUSHALL", "ASYNC")
        after = self.dbsize()
        return FlushResult(target=expected, scope=scope, dbsize_before=before, dbsize_after=after,
                           elapsed=time.monotonic() - started)

    # ------------------------------------------------------------------ the loop

    def _run(self, pattern: str, *, delete: bool, cancel: threading.Event | None, verify: bool = False,
             samples: list[str] | None = None, sample: int = 0) -> Iterator[InvalidateProgress]:
        """The SCAN (and UNLINK) loop, overlapped so the server always has work queued.

        Turn *n*: read SCAN *n*'s reply; send SCAN *n+1* at once (the server starts on it),
        then pack and send UNLINK *n* for the keys just received; then read UNLINK *n-1*'s
        reply, which the server sent right after SCAN *n*'s. Replies are read in the order the
        commands went out.
        """
        shown = sanitize(pattern)
        pat = pattern.encode("utf-8", "surrogateescape")
        count = self.scan_count
        step = self.max_batch
        started = time.monotonic()
        dbsize_before = self.dbsize()
        conn = self._conn()
        send, read = conn.send, conn.read
        calls = matched = deleted = 0
        unread = 0  # UNLINK replies of the previous turn, still in the stream
        ok = False
        try:
            yield InvalidateProgress(shown, 0, 0, 0, 0.0, dbsize_before, dry_run=not delete)
            send(_scan_cmd(b"0", pat, count))
            more = True
            while more:
                cursor, keys = read()
                calls += 1
                more = cursor != b"0"
                if more:
                    send(_scan_cmd(cursor, pat, count))
                nkeys = len(keys)
                matched += nkeys
                if samples is not None and len(samples) < sample and keys:
                    samples.extend(sanitize(k.decode("utf-8", "backslashreplace"), max_len=200)
                                   for k in keys[: sample - len(samples)])
                if cancel is not None and cancel.is_set():
                    raise Aborted(f"invalidation of {shown!r} cancelled after about {deleted} keys")
                sent = 0
                if delete and nkeys:
                    if self.readonly:  # defence in depth: never reached (refused up front)
                        raise ReadonlyError("UNLINK refused: readonly")
                    send(b"".join(_pack(b"UNLINK", keys[i:i + step]) for i in range(0, nkeys, step)))
                    sent = (nkeys + step - 1) // step
                for _ in range(unread):
                    deleted += read()
                unread = sent
                yield InvalidateProgress(shown, calls, matched, deleted, time.monotonic() - started,
                                         dbsize_before, dry_run=not delete)
            for _ in range(unread):
                deleted += read()
            unread = 0
            ok = True
        except CockpitError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from None
        finally:
            if not ok:
                self._drop()  # replies may still be in flight: this connection is done
        dbsize_after = self.dbsize()
        remaining = self._count_matching(pat, dbsize_after) if verify else None
        yield InvalidateProgress(shown, calls, matched, deleted, time.monotonic() - started, dbsize_before,
                                 dry_run=not delete, done=True, remaining=remaining, dbsize_after=dbsize_after)

    def _count_matching(self, pat: bytes, dbsize: int | None = None) -> int:
        """How many keys match now (the verification after an invalidation): a fresh SCAN,
        or one bounded KEYS on a small database (see :data:`KEYS_VERIFY_MAX`)."""
        if self.verify_with_keys and dbsize is not None and dbsize <= KEYS_VERIFY_MAX:
            try:
                return len(self.execute("KEYS", pat))
            except RedisCommandError:
                pass  # renamed or forbidden: SCAN instead
        n = 0
        cursor: Any = b"0"
        while True:
            cursor, keys = self.execute("SCAN", cursor, "MATCH", pat, "COUNT", self.scan_count)
            n += len(keys)
            if cursor in (0, b"0", "0"):
                return n
