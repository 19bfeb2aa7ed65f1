"""The journal's mirror in Redis Streams (redis-py): one stream per incident, an index of them.

Keys (``cockpit:mirror:`` prefix; ``<id>`` is the incident's id):

- ``cockpit:mirror:stream:<id>`` — the incident's records, entry ID ``<seq>-0``, field
  ``r`` = the record's JSON. Stream IDs only grow, and the append script adds a record only
  when its ``seq`` is above the incident's last one: a replay never duplicates.
- ``cockpit:mirror:incident:<id>`` — a hash, the index row: target, who, opened, phase,
  resolved, closed, drill, ``last_seq``, ``last_ts``, ``heartbeat``.
- ``cockpit:mirror:open`` / ``cockpit:mirror:all`` — sorted sets of ids by when they opened
  (the open ones; every one: the team's history).
- ``cockpit:mirror:version`` — the key layout's version (set on first use).

An append is one Lua script (atomic: the seq check, ``XADD`` of what the store lacks, the
index and the sorted sets). Followers block on ``XREAD`` after the last ID they saw.

Readonly (observers): ``append`` and ``heartbeat`` refuse before sending, and the client
itself refuses every command outside a read allowlist (scripts included). Connections are
named ``cockpit``; the URL's password never leaves this module (:attr:`RedisMirror.display`).
Single-node Redis (the index keys and an incident's keys are not hash-tagged for a cluster).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cockpit.errors import CockpitError, ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.mirror import MirroredIncident, index_fields, parse_time, seq_of
from cockpit.text import redact_url, sanitize

LAYOUT_VERSION = 1
PREFIX = "cockpit:mirror:"
PAGE = 1000

READ_COMMANDS = frozenset({"PING", "GET", "HGET", "HGETALL", "HMGET", "EXISTS", "XRANGE", "XREVRANGE", "XREAD",
                           "XLEN", "ZRANGE", "ZREVRANGE", "ZCARD", "TYPE", "TTL"})
"""What a readonly (observer) client may send; everything else is refused before a byte goes."""

# KEYS: stream, incident hash, open zset, all zset, version.
# ARGV: incident id, after, now (ISO), layout version, then per record: seq, record JSON, index
# JSON ('' when none), opened score (epoch ms, or '').
_APPEND = """
redis.call('SET', KEYS[5], ARGV[4], 'NX')
local last = tonumber(redis.call('HGET', KEYS[2], 'last_seq') or '0')
local after = tonumber(ARGV[2])
if last < after then return last end
local last_ts = false
local i = 5
while i <= #ARGV do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('XADD', KEYS[1], seq .. '-0', 'r', ARGV[i + 1])
    last = seq
    if ARGV[i + 2] ~= '' then
      local fields = cjson.decode(ARGV[i + 2])
      for k, v in pairs(fields) do
        redis.call('HSET', KEYS[2], k, tostring(v))
      end
      if ARGV[i + 3] ~= '' then
        redis.call('ZADD', KEYS[3], ARGV[i + 3], ARGV[1])
        redis.call('ZADD', KEYS[4], ARGV[i + 3], ARGV[1])
      end
      if fields['resolved'] or fields['closed'] then
        redis.call('ZREM', KEYS[3], ARGV[1])
      end
    end
    last_ts = true
  end
  i = i + 4
end
redis.call('HSET', KEYS[2], 'last_seq', last, 'heartbeat', ARGV[3])
if last_ts then redis.call('HSET', KEYS[2], 'last_ts', ARGV[3]) end
return last
"""

_client_classes: tuple[type, type] | None = None


def _classes() -> tuple[type, type]:
    """redis-py's client and pipeline, with a readonly guard in front of every command."""
    global _client_classes
    if _client_classes is None:
        import redis
        from redis.client import Pipeline

        def check(client: Any, args: tuple) -> None:
            if getattr(client, "cockpit_readonly", False):
                name = str(args[0]).upper() if args else ""
                if name not in READ_COMMANDS:
                    raise ReadonlyError(f"readonly: the mirror client refused {sanitize(name, max_len=40)} before sending it")

        class GuardedPipeline(Pipeline):
            cockpit_readonly = False

            def execute_command(self, *args: Any, **kw: Any) -> Any:
                check(self, args)
                return super().execute_command(*args, **kw)

        class GuardedRedis(redis.Redis):
            cockpit_readonly = False

            def execute_command(self, *args: Any, **kw: Any) -> Any:
                check(self, args)
                return super().execute_command(*args, **kw)

            def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
                pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
                pipe.cockpit_readonly = self.cockpit_readonly
                return pipe

        _client_classes = (GuardedRedis, GuardedPipeline)
    return _client_classes


class RedisMirror:
    """A :class:`cockpit.ports.MirrorStore` in Redis Streams. Thread-safe (redis-py's pool)."""

    def __init__(self, url: str, *, readonly: bool = False, connect_timeout: float = 3.0,
                 socket_timeout: float = 5.0) -> None:
        from urllib.parse import urlsplit

        self.url = url
        self.readonly = readonly
        self.display = sanitize(redact_url(url), max_len=500)
        try:
            parts = urlsplit(url)
            self.where = sanitize(f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}")
            password = parts.password or ""
        except ValueError as exc:
            raise ConfigError(f"bad mirror URL {self.display}: {sanitize(str(exc))}") from None
        self._password = password
        client_cls, _ = _classes()
        try:
            self.client = client_cls.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout,
                                               client_name="cockpit", decode_responses=False,
                                               health_check_interval=30)
        except ValueError as exc:
            raise ConfigError(f"bad mirror URL {self.display}: {self._scrub(str(exc))}",
                              hint="e.g. redis://:password@host:6379/0") from None
        self.client.cockpit_readonly = readonly
        """The redis-py client; built readonly, it refuses every command off :data:`READ_COMMANDS`."""
        self.socket_timeout = socket_timeout
        self._script: Any = None
        self._ready = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    def _scrub(self, text: str) -> str:
        text = redact_url(text)
        if self._password:
            text = text.replace(self._password, "***")
        return sanitize(text, max_len=500)

    def _call(self, fn: Any) -> Any:
        import redis

        try:
            if not self._ready:
                self._prepare()
            return fn()
        except (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError) as exc:
            raise ConfigError(f"the mirror at {self.where} rejected the credentials: {self._scrub(str(exc))}",
                              title="Authentication failed", hint="check the user and password in the mirror URL") from None
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            raise UnreachableError(f"Redis mirror at {self.where}: {self._scrub(str(exc)) or type(exc).__name__}") from None
        except redis.exceptions.RedisError as exc:
            raise CockpitError(f"Redis mirror at {self.where}: {self._scrub(str(exc))}", title="Mirror error") from None

    def _prepare(self) -> None:
        """Check (readonly) or record (first use) the key layout's version."""
        with self._lock:
            if self._ready:
                return
            key = PREFIX + "version"
            if self.readonly:
                raw = self.client.get(key)
                if raw is None:
                    raise NotFoundError(f"no cockpit mirror at {self.display} (nothing was ever mirrored there)",
                                        hint="check the URL: an operator's --mirror / journal.mirror")
            else:
                self.client.set(key, str(LAYOUT_VERSION), nx=True)
                raw = self.client.get(key)
                self._script = self.client.register_script(_APPEND)
            try:
                version = int(raw or 0)
            except ValueError:
                version = 0
            if version > LAYOUT_VERSION or version < 1:
                raise ConfigError(f"the mirror at {self.display} has layout version {sanitize(raw)}; this cockpit "
                                  f"knows {LAYOUT_VERSION}", hint="upgrade this cockpit")
            self._ready = True

    @staticmethod
    def _keys(incident: str) -> tuple[str, str]:
        return PREFIX + "stream:" + incident, PREFIX + "incident:" + incident

    # ------------------------------------------------------------------ the writer's side

    def append(self, incident: str, records: Sequence[dict], *, after: int) -> int:
        if self.readonly:
            raise ReadonlyError("the mirror is readonly (observer): nothing is written; refused before sending")
        stream, row = self._keys(incident)
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        argv: list[Any] = [incident, after, now, LAYOUT_VERSION]
        for record in records:
            fields = index_fields(record)
            score = ""
            if "opened" in fields:
                opened = fields["opened"]
                score = str(int(opened.timestamp() * 1000)) if opened else "0"
            encoded = {k: _encode(v) for k, v in fields.items()}
            argv += [seq_of(record), json.dumps(record, ensure_ascii=False, default=str),
                     json.dumps(encoded) if encoded else "", score]
        return int(self._call(lambda: self._script(keys=[stream, row, PREFIX + "open", PREFIX + "all", PREFIX + "version"], args=argv)))

    def last_seq(self, incident: str) -> int:
        raw = self._call(lambda: self.client.hget(self._keys(incident)[1], "last_seq"))
        return int(raw or 0)

    def heartbeat(self, incident: str) -> None:
        if self.readonly:
            raise ReadonlyError("the mirror is readonly (observer): nothing is written; refused before sending")
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        row = self._keys(incident)[1]

        def run() -> None:
            if self.client.exists(row):
                self.client.hset(row, "heartbeat", now)

        self._call(run)

    # ------------------------------------------------------------------ the readers' side

    def incidents(self, *, open_only: bool = False, ids: Sequence[str] | None = None,
                  limit: int = 200) -> list[MirroredIncident]:
        def run() -> list[tuple[str, dict]]:
            if ids is None:
                found = self.client.zrevrange(PREFIX + ("open" if open_only else "all"), 0, max(0, int(limit) - 1))
                wanted = [i.decode("utf-8", "replace") for i in found]
            else:
                wanted = list(ids)
            pipe = self.client.pipeline(transaction=False)
            for incident in wanted:
                pipe.hgetall(self._keys(incident)[1])
            return list(zip(wanted, pipe.execute())) if wanted else []

        out = []
        for incident, raw in self._call(run):
            if not raw:
                continue
            row = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in raw.items()}
            found = _incident(incident, row)
            if open_only and not found.open:
                continue
            out.append(found)
        return out[:limit]

    def records(self, incident: str, after: int = 0, limit: int = PAGE) -> list[dict]:
        """The incident's records after ``after``, in seq order (at most ``limit``)."""
        stream = self._keys(incident)[0]
        entries = self._call(lambda: self.client.xrange(stream, min=f"({after}-0" if after else "-", count=limit))
        return _decode(entries)

    def wait(self, incident: str, after: int, timeout: float) -> list[dict]:
        """Records after ``after``; none yet: a blocking ``XREAD`` up to ``timeout``."""
        stream = self._keys(incident)[0]
        block = max(1, int(min(timeout, max(0.1, self.socket_timeout - 1.0)) * 1000))
        got = self._call(lambda: self.client.xread({stream: f"{after}-0"}, count=PAGE, block=block))
        entries = []
        for _key, items in got or []:
            entries.extend(items)
        return _decode(entries)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _decode(entries: Sequence[Any]) -> list[dict]:
    out = []
    for _id, fields in entries:
        raw = fields.get(b"r") if isinstance(fields, dict) else None
        if raw is None:
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def _incident(incident: str, row: dict[str, str]) -> MirroredIncident:
    def num(key: str) -> int:
        try:
            return int(row.get(key) or 0)
        except ValueError:
            return 0

    return MirroredIncident(
        id=sanitize(incident, max_len=200), target=sanitize(row.get("target", ""), max_len=200),
        who=sanitize(row.get("who", ""), max_len=200), opened=parse_time(row.get("opened")),
        phase=sanitize(row.get("phase", ""), max_len=40), resolved=parse_time(row.get("resolved")),
        closed=parse_time(row.get("closed")), drill=row.get("drill") == "1", last_seq=num("last_seq"),
        last_ts=parse_time(row.get("last_ts")), heartbeat=parse_time(row.get("heartbeat")))
