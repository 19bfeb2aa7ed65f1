"""The data layer: PostgreSQL's migrations, backups and long transactions, and a Redis
pattern invalidation (dry-run count first; then the deletion, write-ahead).

The invalidation is destructive, so it is journaled like every other mutation: an fsynced
``intent`` (``redis.invalidate``: server, database, pattern) before the first key is
deleted, and an ``outcome`` after (deleted, remaining, or the error and how far it got). It
is the operator acting: it opens the incident for the target on screen when none is open.
Readonly refuses it before anything is journaled or sent (and the backend refuses anyway).

The panel's other actions (:meth:`DataLayer.act`) go the same way, one at a time in a thread:
``postgres.cancel_backend`` / ``postgres.terminate_backend`` (a long transaction's pid),
``postgres.backup`` (backup now into the backups directory), ``postgres.restore`` (the typed
database name checked before the intent, and again by the backend) and ``redis.flush``
(FLUSHDB, the typed ``host:port/db`` checked likewise): readonly refused, the incident opened
for the target on screen, an fsynced intent, the write, the outcome.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.errors import CockpitError, ReadonlyError


@dataclass(frozen=True)
class DataSnapshot:
    """One poll of the data panel: migration history, backups, long transactions; a failing
    part is named in ``errors`` (``part → "Title: message"``) and the others still show."""

    at: float
    migrations: tuple = ()
    backups: tuple = ()
    long_tx: tuple = ()
    errors: dict = field(default_factory=dict)


def _no_redis() -> CockpitError:
    return CockpitError("Redis is not configured", title="No Redis", hint="set COCKPIT_DATA__REDIS_URL")


class DataLayer:
    def __init__(self, host: Any, data: Any, incident: Any, stores: Any, *, live: Any = None) -> None:
        """``stores``: :class:`cockpit.compose.DataBackends` (postgres, redis, backups_dir,
        long_tx_older_than_s, errors), built by the composition root; ``live`` marks the
        PostgreSQL source stale or fresh (:class:`cockpit.controllers.live.LiveController`)."""
        self.host, self.data, self.incident, self.stores, self.live = host, data, incident, stores, live
        self._redis_lock = threading.Lock()  # one Redis call at a time: the backend is not shared mid-call
        self.cancel_event = threading.Event()
        self.acting: str | None = None  # the panel action running (one at a time)

    @property
    def postgres(self) -> Any:
        return self.stores.postgres

    @property
    def redis(self) -> Any:
        return self.stores.redis

    def show_stores(self) -> dict[str, str]:
        """Put what the panel names (no passwords) into ``data``; returns the stores that
        could not be built (``part → text``) for the app to toast."""
        pg, redis = self.postgres, self.redis
        self.data.data_pg = getattr(pg, "display_dsn", None) if pg is not None else None
        if redis is not None:
            self.data.data_redis = f"{redis.display_url}  ({redis.target})"
            self.data.redis_server, self.data.redis_db = redis.server, redis.db
        return dict(self.stores.errors)

    # ---- PostgreSQL (the panel's poll)

    def snapshot(self, limit: int = 20) -> DataSnapshot:
        """*Thread.* Migration history, backups and long transactions; each part fails on its own."""
        pg = self.postgres
        errors: dict[str, str] = {}
        migrations: tuple = ()
        backups: tuple = ()
        long_tx: tuple = ()

        def guard(part: str, fn: Callable[[], Any]) -> Any:
            try:
                return tuple(fn())
            except CockpitError as exc:
                errors[part] = f"{exc.title}: {exc.message}"
            return ()

        if pg is not None:
            migrations = guard("migrations", lambda: pg.migrations(limit))
            long_tx = guard("long transactions", lambda: pg.long_transactions(self.stores.long_tx_older_than_s))
            if self.stores.backups_dir is not None:
                backups = guard("backups", lambda: pg.list_backups(self.stores.backups_dir))
        return DataSnapshot(time.time(), migrations, backups, long_tx, errors)

    def start(self, active: Callable[[], bool] = lambda: True) -> None:
        """Poll PostgreSQL every 5 s while ``active()`` (the panel is shown); started once."""
        if self.postgres is None or self.host.polling("data"):
            self.host.mark("data", "redis")
            return
        failed = self.live.source_failed if self.live is not None else None
        self.host.poll("data", self.snapshot, self.got_snapshot, 5.0, active=active,
                       on_error=(lambda e: failed("postgres", e)) if failed else None)

    def got_snapshot(self, snap: DataSnapshot) -> None:
        if self.live is not None:
            self.live.fresh("postgres")
        self.data.data_snapshot = snap
        self.host.mark("data")

    # ---- Redis: the dry run (event loop → thread)

    def count(self, pattern: str) -> None:
        """Start a dry run (SCAN only) for ``pattern``; the count lands in ``data.redis_count``."""
        if self.redis is None:
            return
        if self.data.redis_running:
            self.host.notify("an invalidation is running (ctrl+x cancels it)", severity="warning")
            return
        self.data.redis_count = None
        self._log(f"dry run {pattern}")

        def job() -> None:
            with self._redis_lock:
                result = self.redis.count(pattern)
            self.host.call_from_thread(self._counted, result)

        self.host.run_in_thread(job)

    def _counted(self, result: Any) -> None:
        self.data.redis_count = result
        self._log(f"dry run: {result.matched} of {result.dbsize} keys match")

    # ---- Redis: the invalidation (event loop → thread)

    def invalidate(self, pattern: str) -> None:
        """The operator confirmed: delete the keys matching ``pattern`` in a thread, progress
        streamed at most five redraws a second."""
        if self.data.readonly or self.incident.session is None or self.data.redis_running:
            return
        self.data.redis_running = True
        self.data.redis_progress = None
        self.cancel_event = cancel = threading.Event()
        self._log(f"invalidating {pattern} on {self.data.redis_server}/{self.data.redis_db}")
        target = self.data.target
        last_sent = [0.0]

        def progress(p: Any) -> None:
            now = time.monotonic()
            if p.done or now - last_sent[0] >= 0.2:  # back-pressure: at most five redraws a second
                last_sent[0] = now
                self.host.call_from_thread(self._progress, p)

        def job() -> None:
            try:
                with self._redis_lock:
                    self.invalidate_now(pattern, cancel, progress, target=target)
            finally:
                self.host.call_from_thread(self._finished)

        self.host.run_in_thread(job)

    def invalidate_now(self, pattern: str, cancel: threading.Event | None, progress: Callable[[Any], None], *,
                       target: Any = None) -> Any:
        """*Thread.* Write-ahead: refuse readonly; the fsynced intent; delete (streaming
        ``progress``); the outcome (fsynced). Returns the last progress."""
        s = self.incident.session
        if s is None or s.readonly:
            raise ReadonlyError(f"readonly: invalidating {pattern!r} refused (observers change nothing)")
        r = self.redis
        if r is None:
            raise _no_redis()
        journal = self.incident.open_for(target, f"redis: invalidate {pattern}")
        intent = journal.intent("redis.invalidate", target=r.display_url, server=r.server, db=r.db, pattern=pattern)
        last = None
        try:
            for last in r.invalidate(pattern, cancel=cancel):
                progress(last)
        except Exception as exc:
            from cockpit.journal import error_data

            journal.outcome(intent, False, deleted=getattr(last, "deleted", 0), **error_data(exc))
            raise
        if last is None:  # nothing was streamed: nothing was done
            journal.outcome(intent, True, matched=0, deleted=0)
            return None
        journal.outcome(intent, True, matched=last.matched, deleted=last.deleted, remaining=last.remaining,
                        dbsize_before=last.dbsize_before, dbsize_after=last.dbsize_after)
        return last

    def _progress(self, p: Any) -> None:
        self.data.redis_progress = p
        self._log(f"matched {p.matched} deleted {p.deleted} ({p.rate:,.0f}/s)"
                  + (f" — done, {p.remaining} still matching" if p.done and p.remaining is not None else ""))
        del self.data.redis_log[:-500]

    def _finished(self) -> None:
        self.data.redis_running = False
        self.host.mark("redis")

    def cancel(self) -> None:
        """Stop the running invalidation after the current batch (its outcome says how far it got)."""
        if self.data.redis_running:
            self.cancel_event.set()
            self.host.notify("cancelling the invalidation after the current batch…", severity="warning")

    def _log(self, line: str) -> None:
        self.data.redis_log.append(f"{time.strftime('%H:%M:%S')} {line}")
        self.host.mark("redis")

    # ---- the panel's other actions (event loop → thread, write-ahead)

    ACTIONS = ("cancel_tx", "terminate_tx", "backup", "restore", "flush")

    def act(self, action: str, **params: Any) -> None:
        """The operator asked (and confirmed where it is destructive): run ``action`` in a
        thread; the result is logged on the panel and toasted, an error as one line."""
        if self.data.readonly:
            self.host.notify("readonly: observers change nothing", severity="warning")
            return
        if self.acting is not None:
            self.host.notify(f"{self.acting} is running; wait for it to finish", severity="warning")
            return
        self.acting = action
        target = self.data.target
        self._log(f"{action} {' '.join(f'{k}={v}' for k, v in params.items() if k != 'confirm')}".rstrip())

        def job() -> None:
            try:
                line = self.act_now(action, target=target,
                                    progress=lambda m: self.host.call_from_thread(self._log, m), **params)
                self.host.call_from_thread(self._acted, line, None)
            except CockpitError as exc:
                self.host.call_from_thread(self._acted, None, f"{exc.title}: {exc.message}")
            except Exception as exc:  # noqa: BLE001 — one line, never a traceback on screen
                self.host.call_from_thread(self._acted, None, f"{type(exc).__name__}: {exc}")

        self.host.run_in_thread(job)

    def _acted(self, line: str | None, error: str | None) -> None:
        self.acting = None
        if error is not None:
            self._log(f"failed: {error}")
            self.host.notify(error, severity="error")
        else:
            self._log(line or "done")
            self.host.notify(line or "done")
        self.host.mark("data")
        if self.postgres is not None:  # show what changed now, not at the next poll
            self.host.run_in_thread(lambda: self.host.call_from_thread(self.got_snapshot, self.snapshot()))

    def act_now(self, action: str, *, target: Any = None, progress: Callable[[str], None] = lambda m: None,
                **params: Any) -> str:
        """*Thread.* Refuse readonly; check the backend and the typed confirmation; open the
        incident for ``target``; the fsynced intent; the write; the outcome. Returns the line
        the panel logs."""
        from cockpit.errors import ConfigError, ConflictError

        s = self.incident.session
        if s is None or s.readonly:
            raise ReadonlyError(f"readonly: {action} refused (observers change nothing)")
        if action not in self.ACTIONS:
            raise ConfigError(f"unknown data action {action!r}; expected one of {', '.join(self.ACTIONS)}")
        if action == "flush":
            r = self.redis
            if r is None:
                raise _no_redis()
            if (params.get("confirm") or "").strip() != r.target:
                raise ConflictError(f"flush refused: you typed {params.get('confirm')!r}, the database is {r.target!r}",
                                    hint=f"type {r.target} to confirm")
            journal = self.incident.open_for(target, f"redis: flush {r.target}")
            with journal.action("redis.flush", target=r.display_url, server=r.server, db=r.db, scope="db") as a:
                with self._redis_lock:
                    res = r.flush(confirm=params["confirm"], scope="db")
                a.result = {"dbsize_before": res.dbsize_before, "dbsize_after": res.dbsize_after}
            return f"flushed {res.target}: {res.dbsize_before} keys before, {res.dbsize_after} after"
        pg = self.postgres
        if pg is None:
            raise CockpitError("PostgreSQL is not configured", title="No PostgreSQL", hint="set COCKPIT_DATA__POSTGRES_DSN")
        if action in ("cancel_tx", "terminate_tx"):
            pid = int(params["pid"])
            verb = "cancel" if action == "cancel_tx" else "terminate"
            if "confirm" in params and str(params["confirm"]).strip() != str(pid):
                raise ConflictError(f"{verb} refused: you typed {params['confirm']!r}, the pid is {pid}",
                                    hint="type the pid exactly to confirm")
            journal = self.incident.open_for(target, f"postgres: {verb} pid {pid}")
            with journal.action(f"postgres.{verb}_backend", dsn=pg.display_dsn, pid=pid) as a:
                done = pg.cancel_backend(pid) if verb == "cancel" else pg.terminate_backend(pid)
                a.result = {"signalled": done}
            return f"{verb} pid {pid}: " + ("signalled" if done else "not signalled (already gone?)")
        if self.stores.backups_dir is None:
            raise ConfigError("no backups directory", hint="set COCKPIT_DATA__BACKUPS_DIR")
        if action == "backup":
            journal = self.incident.open_for(target, f"postgres: backup {pg.target}")
            with journal.action("postgres.backup", dsn=pg.display_dsn, dir=str(self.stores.backups_dir)) as a:
                info = None
                for p in pg.backup(self.stores.backups_dir):
                    if p.message:
                        progress(p.message)
                    if p.done:
                        info = p.backup
                if info is None:
                    raise CockpitError("pg_dump ended without a backup", title="Backup failed")
                a.result = {"path": str(info.path), "size": info.size, "sha256": info.sha256, "seconds": info.duration}
            return f"backup {info.path.name}: {info.size} bytes, sha256 {info.sha256[:12]}"
        # restore: the backend checks readonly and the typed name before anything is sent
        path = str(params["path"])
        confirm = (params.get("confirm") or "").strip()
        if confirm != pg.database:
            raise ConflictError(f"restore refused: you typed {confirm!r}, the database is {pg.database!r}",
                                hint="type the database name exactly to confirm")
        steps = pg.restore(path, confirm=confirm)
        journal = self.incident.open_for(target, f"postgres: restore {pg.target}")
        with journal.action("postgres.restore", dsn=pg.display_dsn, file=path) as a:
            for p in steps:
                if getattr(p, "message", None):
                    progress(p.message)
            a.result = {"database": pg.database}
        return f"restored {path.rsplit('/', 1)[-1]} into {pg.database}"
