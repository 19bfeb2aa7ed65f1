"""The journal's mirror in PostgreSQL (psycopg 3): one row per (incident, seq), LISTEN/NOTIFY.

Tables, in the schema ``cockpit``, created on first use by the migrations below (the cockpit
owns them; the versions applied are recorded in ``cockpit.mirror_schema``, under an advisory
lock so two cockpits starting at once migrate once):

- ``cockpit.mirror_records (incident, seq, ts, type, record jsonb)`` — primary key
  ``(incident, seq)``; inserts are ``ON CONFLICT DO NOTHING``, so a replay after an outage
  never duplicates;
- ``cockpit.mirror_incidents`` — the index: target, who, opened, phase, resolved, closed,
  drill, the last seq and when the operator's mirror last wrote (``heartbeat``).

An append is one transaction: the incident's row locked (``FOR UPDATE``), the records the
store lacks inserted, the index updated, and ``NOTIFY cockpit_mirror, '<incident> <seq>'``
(delivered at commit) wakes the followers, which ``LISTEN`` on their own connection.

Readonly (observers): ``append`` and ``heartbeat`` refuse before connecting, the sessions are
``default_transaction_read_only``, and migrations never run (a database without the schema is
"no mirror there"). Connections are labelled ``application_name=cockpit`` and bounded by
connect and statement timeouts. The URL's password never appears in what this module
returns or raises (:attr:`PostgresMirror.display`).
"""
from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cockpit.errors import CockpitError, ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.mirror import MirroredIncident, index_fields, parse_time, seq_of
from cockpit.text import redact_url, sanitize

SCHEMA_VERSION = 1
CHANNEL = "cockpit_mirror"
_LOCK_KEY = 0x636F636B  # pg_advisory_xact_lock: one migrating cockpit at a time
PAGE = 1000

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE cockpit.mirror_incidents (
               incident   text PRIMARY KEY,
               host       text NOT NULL DEFAULT '',
               target     text NOT NULL DEFAULT '',
               who        text NOT NULL DEFAULT '',
               drill      boolean NOT NULL DEFAULT false,
               opened     timestamptz,
               phase      text NOT NULL DEFAULT '',
               resolved   timestamptz,
               closed     timestamptz,
               last_seq   bigint NOT NULL DEFAULT 0,
               last_ts    timestamptz,
               heartbeat  timestamptz)""",
        """CREATE TABLE cockpit.mirror_records (
               incident text NOT NULL REFERENCES cockpit.mirror_incidents (incident) ON DELETE CASCADE,
               seq      bigint NOT NULL,
               ts       timestamptz NOT NULL,
               type     text NOT NULL,
               record   jsonb NOT NULL,
               PRIMARY KEY (incident, seq))""",
        "CREATE INDEX mirror_incidents_opened ON cockpit.mirror_incidents (opened DESC)",
    ),
}
"""Each schema version's statements, applied in order in one transaction (never edited once
released: a change is a new version)."""

_INDEX_COLUMNS = ("target", "who", "drill", "opened", "phase", "resolved", "closed")


class PostgresMirror:
    """A :class:`cockpit.ports.MirrorStore` in PostgreSQL. Thread-safe (one lock per
    connection); connects on first use and again after a failure."""

    def __init__(self, url: str, *, readonly: bool = False, connect_timeout: float = 3.0,
                 statement_timeout: float = 5.0) -> None:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        self.url = url
        self.readonly = readonly
        self.connect_timeout = max(1, int(round(connect_timeout)))
        self.statement_timeout = statement_timeout
        try:
            params = conninfo_to_dict(url)
        except ProgrammingError as exc:
            raise ConfigError(f"bad mirror URL {redact_url(url)}: {self._scrub(str(exc))}",
                              hint="e.g. postgresql://user:password@host:5432/dbname") from None
        self._password = str(params.get("password") or "")
        self.display = self._scrub(url)
        self.where = sanitize(f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}/{params.get('dbname') or ''}")
        self._conn: Any = None
        self._listen: Any = None
        self._lock = threading.Lock()
        self._listen_lock = threading.Lock()
        self._ready = False
        self.host = socket.gethostname()

    # ------------------------------------------------------------------ plumbing

    def _scrub(self, text: str) -> str:
        text = redact_url(text)
        password = getattr(self, "_password", "")
        if password:
            text = text.replace(password, "***")
        text = re.sub(r"(?i)(password\s*=\s*)('[^']*'|\S+)", r"\1***", text)
        return sanitize(text, max_len=500)

    def _connect(self, *, autocommit: bool) -> Any:
        import psycopg

        opts = f"-c statement_timeout={int(self.statement_timeout * 1000)} -c lock_timeout={int(self.statement_timeout * 1000)}"
        if self.readonly:
            opts += " -c default_transaction_read_only=on"
        try:
            return psycopg.connect(self.url, application_name="cockpit", connect_timeout=self.connect_timeout,
                                   options=opts, autocommit=autocommit)
        except psycopg.Error as exc:
            raise self._error(exc, connecting=True) from None

    def _error(self, exc: Exception, *, connecting: bool = False) -> CockpitError:
        import psycopg

        msg = self._scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        low = msg.lower()
        if connecting and ("password authentication failed" in low or "no password supplied" in low):
            return ConfigError(f"the mirror at {self.where} rejected the credentials: {msg}",
                               title="Authentication failed", hint="check the user and password in the mirror URL")
        if connecting and "does not exist" in low and "database" in low:
            return NotFoundError(f"the mirror's database at {self.where} does not exist: {msg}")
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return ReadonlyError(f"the mirror at {self.where} is readonly here: {msg}")
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) or connecting:
            return UnreachableError(f"PostgreSQL mirror at {self.where}: {msg}")
        return CockpitError(f"PostgreSQL mirror at {self.where}: {msg}", title="Mirror error")

    def _run(self, fn: Any) -> Any:
        """``fn(conn)`` on the store's connection (connected and migrated on first use); a
        failure drops the connection (the next call reconnects) and becomes a CockpitError."""
        import psycopg

        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect(autocommit=True)
                self._ready = False
            try:
                if not self._ready:
                    self._prepare(self._conn)
                    self._ready = True
                return fn(self._conn)
            except psycopg.Error as exc:
                self._drop()
                raise self._error(exc) from None

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def _prepare(self, conn: Any) -> None:
        """Check the schema (readonly) or create/upgrade it (the cockpit's migrations)."""
        if self.readonly:
            version = self._version(conn)
            if version == 0:
                raise NotFoundError(f"no cockpit mirror at {self.display} (nothing was ever mirrored there)",
                                    hint="check the URL: an operator's --mirror / journal.mirror")
            self._check_version(version)
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute("CREATE SCHEMA IF NOT EXISTS cockpit")
            conn.execute("""CREATE TABLE IF NOT EXISTS cockpit.mirror_schema (
                                version    integer PRIMARY KEY,
                                applied_at timestamptz NOT NULL DEFAULT now(),
                                applied_by text NOT NULL DEFAULT '')""")
            version = self._version(conn)
            self._check_version(version)
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[v]:
                    conn.execute(statement)
                conn.execute("INSERT INTO cockpit.mirror_schema (version, applied_by) VALUES (%s, %s)",
                             (v, f"cockpit@{self.host}"))

    @staticmethod
    def _version(conn: Any) -> int:
        exists = conn.execute("SELECT to_regclass('cockpit.mirror_schema') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        return int(conn.execute("SELECT coalesce(max(version), 0) FROM cockpit.mirror_schema").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ConfigError(f"the mirror at {self.display} has schema version {version}; this cockpit knows "
                              f"up to {SCHEMA_VERSION}", hint="upgrade this cockpit")

    def schema_version(self) -> int:
        """The schema version recorded in the database (0: none)."""
        return self._run(self._version)

    # ------------------------------------------------------------------ the writer's side

    def append(self, incident: str, records: Sequence[dict], *, after: int) -> int:
        if self.readonly:
            raise ReadonlyError("the mirror is readonly (observer): nothing is written; refused before sending")
        from psycopg.types.json import Jsonb

        def run(conn: Any) -> int:
            with conn.transaction():
                conn.execute("INSERT INTO cockpit.mirror_incidents (incident, host) VALUES (%s, %s) "
                             "ON CONFLICT DO NOTHING", (incident, self.host))
                last = int(conn.execute("SELECT last_seq FROM cockpit.mirror_incidents WHERE incident = %s FOR UPDATE",
                                        (incident,)).fetchone()[0])
                if last < after:
                    return last  # the store lacks records before these: the mirror backfills
                rows, fields, new_last, last_ts = [], {}, last, None
                for record in records:
                    seq = seq_of(record)
                    if seq <= new_last:
                        continue
                    ts = parse_time(record.get("ts")) or datetime.now(timezone.utc)
                    rows.append((incident, seq, ts, str(record.get("type") or ""), Jsonb(record)))
                    fields.update(index_fields(record))
                    new_last, last_ts = seq, ts
                if rows:
                    with conn.cursor() as cur:
                        cur.executemany("INSERT INTO cockpit.mirror_records (incident, seq, ts, type, record) "
                                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
                sets = [f"{col} = %s" for col in _INDEX_COLUMNS if col in fields]
                values = [fields[col] for col in _INDEX_COLUMNS if col in fields]
                conn.execute(f"UPDATE cockpit.mirror_incidents SET {', '.join(sets + ['last_seq = %s', 'last_ts = coalesce(%s, last_ts)', 'heartbeat = now()'])} "
                             "WHERE incident = %s", (*values, new_last, last_ts, incident))
                if rows:
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{incident} {new_last}"))
                return new_last

        return self._run(run)

    def last_seq(self, incident: str) -> int:
        def run(conn: Any) -> int:
            row = conn.execute("SELECT last_seq FROM cockpit.mirror_incidents WHERE incident = %s", (incident,)).fetchone()
            return int(row[0]) if row else 0

        return self._run(run)

    def heartbeat(self, incident: str) -> None:
        if self.readonly:
            raise ReadonlyError("the mirror is readonly (observer): nothing is written; refused before sending")
        self._run(lambda conn: conn.execute("UPDATE cockpit.mirror_incidents SET heartbeat = now() WHERE incident = %s",
                                            (incident,)))

    # ------------------------------------------------------------------ the readers' side

    def incidents(self, *, open_only: bool = False, ids: Sequence[str] | None = None,
                  limit: int = 200) -> list[MirroredIncident]:
        where, params = [], []
        if ids is not None:
            where.append("incident = ANY(%s)")
            params.append(list(ids))
        else:
            where.append("opened IS NOT NULL")
        if open_only:
            where.append("opened IS NOT NULL AND resolved IS NULL AND closed IS NULL")
        sql = ("SELECT incident, target, who, opened, phase, resolved, closed, drill, last_seq, last_ts, heartbeat "
               f"FROM cockpit.mirror_incidents WHERE {' AND '.join(where)} "
               "ORDER BY opened DESC NULLS LAST, incident DESC LIMIT %s")
        rows = self._run(lambda conn: conn.execute(sql, (*params, int(limit))).fetchall())
        return [MirroredIncident(id=sanitize(r[0], max_len=200), target=sanitize(r[1], max_len=200),
                                 who=sanitize(r[2], max_len=200), opened=r[3], phase=sanitize(r[4], max_len=40),
                                 resolved=r[5], closed=r[6], drill=bool(r[7]), last_seq=int(r[8]), last_ts=r[9],
                                 heartbeat=r[10]) for r in rows]

    def records(self, incident: str, after: int = 0, limit: int = PAGE) -> list[dict]:
        """The incident's records after ``after``, in seq order (at most ``limit``)."""
        return self._run(lambda conn: self._page(conn, incident, after, limit))

    @staticmethod
    def _page(conn: Any, incident: str, after: int, limit: int = PAGE) -> list[dict]:
        rows = conn.execute("SELECT record FROM cockpit.mirror_records WHERE incident = %s AND seq > %s "
                            "ORDER BY seq LIMIT %s", (incident, after, limit)).fetchall()
        return [r[0] for r in rows if isinstance(r[0], dict)]

    def wait(self, incident: str, after: int, timeout: float) -> list[dict]:
        """Records after ``after``; none yet: LISTEN for the operator's mirror up to ``timeout``."""
        import psycopg

        with self._listen_lock:
            try:
                if self._listen is None or self._listen.closed:
                    self._listen = self._connect(autocommit=True)
                    if not self._ready:
                        with self._lock:
                            if not self._ready:
                                self._prepare(self._listen)
                                self._ready = True
                    self._listen.execute(f"LISTEN {CHANNEL}")
                conn = self._listen
                found = self._page(conn, incident, after)
                if found:
                    return found
                deadline = time.monotonic() + timeout
                prefix = f"{incident} "
                while (left := deadline - time.monotonic()) > 0:
                    woke = False
                    for note in conn.notifies(timeout=left, stop_after=1):
                        woke = note.payload.startswith(prefix)
                    if woke:
                        return self._page(conn, incident, after)
                return []
            except psycopg.Error as exc:
                conn, self._listen = self._listen, None
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                raise self._error(exc) from None

    def close(self) -> None:
        with self._lock:
            self._drop()
        with self._listen_lock:
            conn, self._listen = self._listen, None
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
