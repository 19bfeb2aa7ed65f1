"""What the SQL database backends (:mod:`backends.postgres`, :mod:`backends.mysql`) share.

Only the logic that is the same for both lives here, parameterised by what differs (the
product's name, the step kinds' prefix, the evidence sub-directory, wording): the error
classes, the backend classes' base (:class:`SQLBackend`: identity, readonly refusal, the
read-statement check, the cancel watcher, configured checks, backups), row-count
comparison, long transactions from rows, the backup listing and the headless commands'
helpers (journaled actions, prompts, the ``counts``, ``integrity``, ``migrations``,
``backups`` and ``restore`` actions). The runbook step kinds they share are in
:mod:`backends.sqlsteps`. Driver calls, SQL and dump tools stay in each backend. Cheap to
import: the CLI builds every parser.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cockpit import prompt
from cockpit.errors import CockpitError, ConfigError, ConflictError, ReadonlyError
from cockpit.text import redact_url, sanitize

# ---------------------------------------------------------------------------- errors


class AuthenticationError(ConfigError):
    """The server rejected our credentials."""

    title = "Authentication failed"


class ConfirmationMismatch(ConflictError):
    """The operator typed something other than the name a destructive action requires."""

    title = "Confirmation mismatch"


class QueryError(CockpitError):
    """A statement failed on the server (timeout, permissions, bad SQL)."""

    title = "Query failed"


# ---------------------------------------------------------------------------- backend results


def compare_counts(before: Mapping[str, int], after: Mapping[str, int]) -> list[Any]:
    """Per table, in the order first seen; ``changed`` marks the differences."""
    from backends.postgres.models import CountDiff

    names = list(dict.fromkeys([*before, *after]))
    return [CountDiff(table=n, before=before.get(n), after=after.get(n)) for n in names]


def long_transactions_from_rows(rows: Iterable[tuple]) -> list[Any]:
    """Rows of (id, user, application, client, state, started, age, query, wait) as
    sanitised :class:`LongTransaction` items."""
    from backends.postgres.models import LongTransaction

    return [
        LongTransaction(
            pid=int(r[0]), user=sanitize(r[1] or "", max_len=200), application=sanitize(r[2] or "", max_len=200),
            client=sanitize(r[3] or "local", max_len=200), state=sanitize(r[4] or "", max_len=100),
            xact_start=r[5], age_seconds=float(r[6] or 0.0), query=sanitize(r[7] or "", max_len=1000),
            wait_event=sanitize(r[8] or "", max_len=100),
        )
        for r in rows
    ]


def recorded(path: Path) -> tuple[str | None, dict]:
    """The sha256 recorded beside a backup (``.sha256``, else its ``.json``) and its metadata."""
    import json

    meta: dict = {}
    mp = path.with_name(path.name + ".json")
    if mp.exists():
        try:
            meta = json.loads(mp.read_text())
        except (OSError, ValueError):
            meta = {}
    sp = path.with_name(path.name + ".sha256")
    digest = None
    if sp.exists():
        digest = (sp.read_text().split() or [None])[0]
    return digest or meta.get("sha256"), meta


def safe_name(text: str, empty: str = "snapshot") -> str:
    """``text`` as part of a file name (letters, digits, ``_.-``); ``empty`` if nothing is left."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or empty


def backup_stem(database: str, label: str | None, created: datetime) -> str:
    """A backup's file name before its suffix: ``<database>-<created, UTC>[-<label>]``."""
    stem = f"{safe_name(database, 'db')}-{created.strftime('%Y%m%dT%H%M%S.%fZ')}"
    return stem + "-" + safe_name(label, "db") if label else stem


def list_backups(directory: Path, *, suffix: str, verify: bool, verify_backup: Callable[[Path], Any]) -> list[Any]:
    """Backups (``*suffix``) in ``directory``, newest first (``verified`` None unless ``verify``:
    then each comes from ``verify_backup``, else from what is recorded beside it)."""
    from backends.postgres.models import BackupInfo

    if not directory.is_dir():
        return []
    out: list[Any] = []
    for path in sorted(directory.glob("*" + suffix)):
        if verify:
            out.append(verify_backup(path))
            continue
        digest, meta = recorded(path)
        try:
            created = datetime.fromisoformat(meta["created"]) if meta.get("created") else None
        except ValueError:
            created = None
        out.append(BackupInfo(path=path, size=path.stat().st_size, sha256=digest or "",
                              database=sanitize(meta.get("database", "")), created=created,
                              dsn=sanitize(meta.get("dsn", "")), duration=meta.get("duration")))
    out.sort(key=lambda b: (b.created or datetime.fromtimestamp(b.path.stat().st_mtime, timezone.utc)), reverse=True)
    return out


# ---------------------------------------------------------------------------- backend class


def scrub_secret(text: str, password: str, password_kv: re.Pattern[str]) -> str:
    """``text`` without the URL's password, the password itself or ``password=...`` pairs
    (``password_kv``: the product's key/value spelling, its first group kept); sanitised."""
    text = redact_url(text)
    if password:
        text = text.replace(password, "***")
    text = password_kv.sub(r"\1***", text)
    return sanitize(text, max_len=1000)


class SQLBackend:
    """What the backend classes share: identity, the readonly refusal, the read-statement
    check, the cancel watcher, the backup listing and the typed database name. A subclass
    sets the class attributes, ``_parse`` (the DSN's parts, with ``password``), ``database``,
    ``target`` and ``_interrupter`` (how a running statement is stopped)."""

    product: str  # wording: "the {product} backend is readonly"
    read_statement: re.Pattern[str]  # what a readonly backend runs
    read_words: str  # wording: "only {read_words} run"
    password_kv: re.Pattern[str]  # for scrub_secret
    watcher_name: str  # the cancel watcher thread's name
    dump_module: str  # the module with list_backups and verify_backup

    def __init__(self, dsn: str, *, readonly: bool = False, connect_timeout: float = 5.0,
                 statement_timeout: float = 30.0, lock_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.readonly = readonly
        self.connect_timeout = max(1, int(round(connect_timeout)))
        self.statement_timeout = statement_timeout
        self.lock_timeout = lock_timeout
        self._params = self._parse(dsn)
        self._password = self._params.get("password") or ""

    def _parse(self, dsn: str) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def database(self) -> str:
        raise NotImplementedError

    @property
    def display_dsn(self) -> str:
        """The DSN without its password, for screens, logs, the journal and reports."""
        return self.scrub(redact_url(self.dsn))

    def scrub(self, text: str) -> str:
        return scrub_secret(text, self._password, self.password_kv)

    def _refuse_if_readonly(self, action: str) -> None:
        if self.readonly:
            raise ReadonlyError(f"{action} refused: the {self.product} backend is readonly; nothing was sent")

    def _check_read(self, statement: str) -> None:
        if self.readonly and not self.read_statement.match(statement):
            raise ReadonlyError(f"readonly: only {self.read_words} run; refused before sending")

    def _confirm_database(self, confirm: str, what: str) -> None:
        if (confirm or "").strip() != self.database:
            raise ConfirmationMismatch(
                f"{what} refused: you typed {sanitize(confirm or '')!r}, the database is {self.database!r}",
                hint="type the database name exactly to confirm")

    def _interrupter(self, conn: Any) -> Callable[[Any], None]:
        """What stops ``conn``'s running statement; called with the watcher's ``finished`` event."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _cancel_on(self, conn: Any, cancel: Any) -> Iterator[None]:
        """Stop the running statement (:meth:`_interrupter`) when ``cancel`` is set."""
        if cancel is None:
            yield
            return
        finished = threading.Event()
        interrupt = self._interrupter(conn)

        def watch() -> None:
            while not finished.is_set():
                if cancel.wait(0.1):
                    with contextlib.suppress(Exception):
                        interrupt(finished)
                    return

        t = threading.Thread(target=watch, daemon=True, name=self.watcher_name)
        t.start()
        try:
            yield
        finally:
            finished.set()
            t.join(1)

    def _driver_error(self) -> type[Exception]:
        """The driver's base error class (a configured check failing with one is reported)."""
        raise NotImplementedError

    def _check_error(self, exc: Exception) -> str:
        """A configured check's driver error as its reported text; raises to stop the checks."""
        raise NotImplementedError

    def _configured_check(self, conn: Any, name: str, query: str) -> Any:
        """One configured check (a query returning the number of violating rows) in a
        read-only transaction; its failure is the result's ``error``."""
        from backends.postgres.models import IntegrityResult

        name = sanitize(name, max_len=200)
        try:
            self._check_read(query)
            with self._read_tx(conn):
                rows = self._select(conn, query)
            value = rows[0][0] if rows and rows[0] else 0
            return IntegrityResult(name, int(value or 0))
        except ReadonlyError as exc:
            return IntegrityResult(name, 0, error=str(exc))
        except self._driver_error() as exc:
            return IntegrityResult(name, 0, error=self._check_error(exc))
        except (TypeError, ValueError):
            return IntegrityResult(name, 0, error="the check must return a number (violating rows)")

    def _read_tx(self, conn: Any) -> Any:
        raise NotImplementedError

    def _select(self, conn: Any, statement: Any, params: Any = None) -> list[tuple]:
        raise NotImplementedError

    def connect(self) -> contextlib.AbstractContextManager[Any]:
        """A driver connection (closed on exit); driver errors become CockpitErrors."""
        raise NotImplementedError

    def counts(self, tables: Iterable[str], *, cancel: threading.Event | None = None) -> dict[str, int]:
        """Exact row count of each table (``name``, or ``schema.name``: MySQL's ``db.name``).
        NotFoundError naming the missing ones (and what :meth:`_missing_tables_note` adds)."""
        from cockpit.errors import Aborted, NotFoundError

        tables = list(tables)
        result: dict[str, int] = {}
        with self.connect() as conn, self._read_tx(conn), self._cancel_on(conn, cancel):
            resolved = {t: self._resolve_table(conn, t) for t in tables}
            missing = [t for t, r in resolved.items() if r is None]
            if missing:
                raise NotFoundError("no such table: " + ", ".join(sanitize(m) for m in missing)
                                    + self._missing_tables_note(conn))
            for t in tables:
                if cancel is not None and cancel.is_set():
                    raise Aborted("row counts cancelled")
                schema, name = resolved[t]  # type: ignore[misc]
                result[t] = int(self._select(conn, self._count_statement(schema, name))[0][0])
        return result

    def _resolve_table(self, conn: Any, table: str) -> tuple[str, str] | None:
        """``table``'s (schema, name) as the server spells them; None if there is no such table."""
        raise NotImplementedError

    def _count_statement(self, schema: str, name: str) -> Any:
        """The statement counting the rows of ``schema.name``."""
        raise NotImplementedError

    def _missing_tables_note(self, conn: Any) -> str:
        """Added to the "no such table" message (e.g. the tables there are)."""
        return ""

    compare_counts = staticmethod(compare_counts)

    def backup(self, directory: str | Path, **kw: Any) -> Iterator[Any]:
        raise NotImplementedError

    def backup_now(self, directory: str | Path, **kw: Any) -> Any:
        """Run :meth:`backup` to the end; the finished backup."""
        last = None
        for last in self.backup(directory, **kw):
            pass
        assert last is not None and last.backup is not None
        return last.backup

    @classmethod
    def list_backups(cls, directory: str | Path, *, verify: bool = False) -> list[Any]:
        import importlib

        return importlib.import_module(cls.dump_module).list_backups(Path(directory), verify=verify)

    @classmethod
    def verify_backup(cls, path: str | Path) -> Any:
        """Recompute the sha256 and compare with the recorded one; ``verified`` says."""
        import importlib

        return importlib.import_module(cls.dump_module).verify_backup(Path(path))


def migration_stamp(text: str) -> datetime | None:
    """A migration name's ``20240131120000`` prefix (Rails, EF Core, Laravel) as a UTC datetime."""
    m = re.match(r"^(\d{14})", text or "")
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- headless commands


def journal_of(args: argparse.Namespace) -> Any:
    path = getattr(args, "journal", None)
    if not path:
        return None
    from cockpit.journal import Journal

    return Journal.open(path)


class Journaled:
    """``with Journaled(args, action, **data) as act: ... act.result = {...}`` — or nothing."""

    def __init__(self, args: argparse.Namespace, action: str, **data: Any) -> None:
        self.journal = journal_of(args)
        self.action, self.data = action, data
        self._cm = None

    def __enter__(self) -> Any:
        if self.journal is None:
            class _Null:
                result: dict = {}

            return _Null()
        self._cm = self.journal.action(self.action, **self.data)
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        try:
            if self._cm is not None:
                return bool(self._cm.__exit__(*exc))
            return False
        finally:
            if self.journal is not None:
                self.journal.close()


def ts(value: Any) -> str:
    from cockpit.output import age

    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S} ({age(value)} ago)"


def load_snapshot(path: Path) -> dict[str, int]:
    import json

    try:
        data = json.loads(path.read_text())
        counts = data.get("counts", data)
        return {str(k): int(v) for k, v in counts.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(f"{path}: not a counts snapshot ({exc})") from None


def dsn_options(env: tuple[str, ...], help: str) -> Callable[[argparse.ArgumentParser], None]:
    """What adds ``--dsn`` (default: the first of the ``env`` variables set, read when the parser
    is built) and ``--statement-timeout`` to an action's parser."""
    from cockpit.durations import duration_arg

    def add(p: argparse.ArgumentParser) -> None:
        default = None
        for name in env:
            default = os.environ.get(name)
            if default:
                break
        p.add_argument("--dsn", default=default, help=help)
        p.add_argument("--statement-timeout", type=duration_arg, default=30.0, metavar="DUR",
                       help="per statement (default 30s)")

    return add


class SQLCommands:
    """One SQL backend's handlers for the actions whose logic is shared (``migrations``,
    ``backups``, ``restore``, ``counts``, ``integrity``) and its backend made from the arguments.

    ``backend_path`` is the backend class's dotted path (imported inside the handlers: the CLI
    builds every parser), ``product`` and ``dsn_hint`` word a missing DSN, ``prefix`` names the
    journaled actions and ``restore_warning`` is shown before the typed confirmation
    (``{database!r}``, ``{target}`` and ``{file}`` filled in)."""

    def __init__(self, backend_path: str, *, product: str, dsn_hint: str, prefix: str, restore_warning: str) -> None:
        self.backend_path, self.product, self.dsn_hint = backend_path, product, dsn_hint
        self.prefix, self.restore_warning = prefix, restore_warning

    def backend_class(self) -> type[SQLBackend]:
        import importlib

        module, _, name = self.backend_path.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def backend(self, args: argparse.Namespace) -> Any:
        if not getattr(args, "dsn", None):
            raise ConfigError(f"no {self.product} DSN", hint=self.dsn_hint)
        return self.backend_class()(args.dsn, readonly=bool(getattr(args, "readonly", False)),
                                    statement_timeout=getattr(args, "statement_timeout", 30.0))

    def migrations(self, args: argparse.Namespace) -> int:
        return show_migrations(args, self.backend(args))

    def backups(self, args: argparse.Namespace) -> int:
        return show_backups(args, self.backend_class().list_backups(args.dir, verify=args.verify))

    def restore(self, args: argparse.Namespace) -> int:
        backend = self.backend(args)
        warning = self.restore_warning.format(database=backend.database, target=backend.target, file=args.file)
        return restore_command(args, backend, warning=warning, action=f"{self.prefix}.restore")

    def counts(self, args: argparse.Namespace) -> int:
        return counts_command(args, lambda: self.backend(args))

    def integrity(self, args: argparse.Namespace) -> int:
        return integrity_command(args, lambda: self.backend(args))


def add_migrations(sub: Any, common: argparse.ArgumentParser, dsn_arg: Callable[[Any], None], handler: Any) -> None:
    m = sub.add_parser("migrations", parents=[common], help="recent migrations from every framework table found")
    dsn_arg(m)
    m.add_argument("--limit", type=int, default=10, help="per table (default 10)")
    m.set_defaults(handler=handler)


def add_backups(sub: Any, common: argparse.ArgumentParser, handler: Any) -> None:
    bl = sub.add_parser("backups", parents=[common], help="list the backups in DIR (and verify their checksums)")
    bl.add_argument("--dir", type=Path, required=True)
    bl.add_argument("--verify", action="store_true", help="recompute every sha256")
    bl.set_defaults(handler=handler)


def add_restore(sub: Any, common: argparse.ArgumentParser, dsn_arg: Callable[[Any], None], handler: Any,
                *, help: str) -> None:
    from cockpit.durations import duration_arg

    r = sub.add_parser("restore", parents=[common], help=help)
    dsn_arg(r)
    r.add_argument("file", type=Path)
    r.add_argument("--confirm", metavar="DBNAME", default=None, help="the database name (asked for on a terminal)")
    r.add_argument("--timeout", type=duration_arg, default=3600.0, metavar="DUR")
    r.set_defaults(handler=handler)


def add_counts(sub: Any, common: argparse.ArgumentParser, dsn_arg: Callable[[Any], None], handler: Any,
               *, table_help: str) -> None:
    c = sub.add_parser("counts", parents=[common], help="exact row counts; --save a snapshot, --compare against one")
    dsn_arg(c)
    c.add_argument("tables", nargs="*", metavar="TABLE", help=table_help)
    c.add_argument("--save", type=Path, metavar="FILE", help="write the counts as JSON")
    c.add_argument("--compare", type=Path, metavar="FILE", help="compare with a saved snapshot")
    c.set_defaults(handler=handler)


def add_integrity(sub: Any, common: argparse.ArgumentParser, dsn_arg: Callable[[Any], None], handler: Any,
                  *, help: str, builtin_help: str) -> None:
    i = sub.add_parser("integrity", parents=[common], help=help)
    dsn_arg(i)
    i.add_argument("--check", action="append", default=[], metavar="NAME=SQL",
                   help="a query returning the number of violating rows (repeatable)")
    i.add_argument("--checks-file", type=Path, metavar="FILE", help="JSON or YAML mapping name -> SQL")
    i.add_argument("--no-builtin", action="store_true", help=builtin_help)
    i.set_defaults(handler=handler)


def add_long_tx(sub: Any, common: argparse.ArgumentParser, dsn_arg: Callable[[Any], None], handler: Any,
                *, help: str, metavar: str, cancel_help: str, terminate_help: str) -> None:
    from cockpit.durations import duration_arg

    lt = sub.add_parser("long-tx", parents=[common], help=help)
    dsn_arg(lt)
    lt.add_argument("--older-than", type=duration_arg, default=60.0, metavar="DUR", help="default 1m")
    act = lt.add_mutually_exclusive_group()
    act.add_argument("--cancel", type=int, metavar=metavar, help=cancel_help)
    act.add_argument("--terminate", type=int, metavar=metavar, help=terminate_help)
    lt.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    lt.set_defaults(handler=handler)


def show_migrations(args: argparse.Namespace, backend: Any) -> int:
    from cockpit.output import emit

    histories = backend.migrations(limit=args.limit)
    if getattr(args, "output", "text") != "json" and not histories:
        print(f"no migration tables found in {backend.target}")
        return 0
    emit(args, {"dsn": backend.display_dsn, "histories": histories}, ["FRAMEWORK", "TABLE", "MIGRATION", "APPLIED", "NOTE"],
         [[h.framework, h.table, m.name, ts(m.applied_at), m.detail] for h in histories for m in h.migrations])
    return 0


def journaled_backup(args: argparse.Namespace, backend: Any, action: str, **kw: Any) -> Any:
    """Run a backup to the end (its progress on a terminal's stderr), journaled as ``action``."""
    tty = sys.stderr.isatty() and getattr(args, "output", "text") != "json"
    with Journaled(args, action, dsn=backend.display_dsn, dir=str(args.dir)) as act:
        info = None
        for p in backend.backup(args.dir, timeout=args.timeout, **kw):
            if tty and p.message:
                print(p.message, file=sys.stderr)
            if p.done:
                info = p.backup
        assert info is not None
        act.result = {"path": str(info.path), "size": info.size, "sha256": info.sha256, "seconds": info.duration,
                      **info.extra}
    return info


def show_backups(args: argparse.Namespace, items: list[Any]) -> int:
    from cockpit.output import emit

    emit(args, items, ["FILE", "DATABASE", "SIZE", "CREATED", "SHA256", "VERIFIED"],
         [[b.path.name, b.database, b.size, ts(b.created), b.sha256[:16],
           {None: "-", True: "ok", False: "MISMATCH"}[b.verified]] for b in items])
    return 7 if args.verify and any(b.verified is False for b in items) else 0


def restore_command(args: argparse.Namespace, backend: Any, *, warning: str, action: str) -> int:
    """The guarded restore: refused readonly, the database name typed (or ``--confirm``),
    ``warning`` shown first on a terminal; journaled as ``action``."""
    from cockpit.errors import Aborted

    backend._refuse_if_readonly(f"restore into {backend.database}")
    confirm = args.confirm
    if confirm is None:
        print(warning, file=sys.stderr)
        confirm = prompt.ask("type the database name to confirm: ")
        if not confirm:
            raise Aborted("nothing restored", hint=f"pass --confirm {backend.database}")
    steps = backend.restore(args.file, confirm=confirm, timeout=args.timeout)  # checks confirm and readonly
    with Journaled(args, action, dsn=backend.display_dsn, file=str(args.file)) as act:
        for p in steps:
            if p.message:
                print(p.message, file=sys.stderr)
        act.result = {"database": backend.database}
    print(f"restored {args.file} into {backend.database}")
    return 0


def counts_command(args: argparse.Namespace, make_backend: Callable[[], Any]) -> int:
    import json

    from cockpit.output import emit

    before = load_snapshot(args.compare) if args.compare else None
    tables = list(args.tables) or list(before or [])
    if not tables:
        raise ConfigError("name at least one table (or --compare a snapshot)")
    backend = make_backend()
    counts = backend.counts(tables)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps({"dsn": backend.display_dsn, "counts": counts}, indent=2) + "\n")
    if before is None:
        emit(args, counts, ["TABLE", "ROWS"], [[t, n] for t, n in counts.items()])
        return 0
    diffs = backend.compare_counts(before, counts)
    data = [{"table": d.table, "before": d.before, "after": d.after, "delta": d.delta, "changed": d.changed} for d in diffs]
    emit(args, data, ["TABLE", "BEFORE", "AFTER", "DELTA", ""],
         [[d.table, d.before, d.after, "" if d.delta is None else f"{d.delta:+d}", "CHANGED" if d.changed else ""]
          for d in diffs])
    return 0


def long_tx_command(args: argparse.Namespace, backend: Any, *, noun: str, app_header: str, action: str,
                    missing: Callable[[int, dict], str], describe: Callable[[str, int, Any], str],
                    signal: Callable[[str, int], bool]) -> int:
    """``long-tx``: list the long transactions, or cancel/terminate one (``--cancel``/``--terminate``
    takes the ``noun``: "pid", "id"): refused readonly, it must be open (else ``missing``), typed
    again unless ``--yes`` (after ``describe``), ``signal``-led journaled as ``action`` (``{verb}``
    filled in); exit 1 when the server did not signal it."""
    from cockpit.errors import Aborted, NotFoundError
    from cockpit.output import emit

    tid = args.cancel or args.terminate
    if tid is None:
        txs = backend.long_transactions(older_than=args.older_than)
        emit(args, txs, [noun.upper(), "AGE", "STATE", "USER", app_header, "CLIENT", "QUERY"],
             [[t.pid, f"{t.age_seconds:.0f}s", t.state, t.user, t.application, t.client, t.query[:80]] for t in txs])
        return 0
    verb = "cancel" if args.cancel else "terminate"
    backend._refuse_if_readonly(f"{verb} {tid}")
    txs = {t.pid: t for t in backend.long_transactions(older_than=0)}
    if tid not in txs:
        raise NotFoundError(missing(tid, txs))
    if not args.yes:
        print(describe(verb, tid, txs[tid]), file=sys.stderr)
        if prompt.ask(f"type {tid} to {verb} it: ").strip() != str(tid):
            raise Aborted(f"did not {verb} {tid}", hint=f"type the {noun}, or pass --yes")
    with Journaled(args, action.format(verb=verb), dsn=backend.display_dsn, pid=tid) as act:
        done = signal(verb, tid)
        act.result = {"signalled": done}
    emit(args, {noun: tid, "action": verb, "signalled": done}, [noun.upper(), "ACTION", "SIGNALLED"],
         [[tid, verb, done]])
    return 0 if done else 1


def read_checks_file(path: Path) -> str:
    """The ``--checks-file`` text; an unreadable file is one line (exit 2)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None


def integrity_command(args: argparse.Namespace, make_backend: Callable[[], Any]) -> int:
    """Built-in and configured checks (``--checks-file``, JSON or YAML; ``--check NAME=SQL``);
    exit 7 on a violation."""
    import json

    from cockpit.output import emit

    checks: dict[str, str] = {}
    if args.checks_file:
        text = read_checks_file(args.checks_file)
        try:
            loaded = json.loads(text)
        except ValueError:
            import yaml

            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark is not None else ""
                raise ConfigError(f"{args.checks_file}: neither JSON nor YAML{where}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{args.checks_file}: expected a mapping of check name to SQL")
        checks.update({str(k): str(v) for k, v in loaded.items()})
    for item in args.check:
        name, sep, query = item.partition("=")
        if not sep or not name.strip() or not query.strip():
            raise ConfigError(f"--check {item!r}: expected NAME=SQL")
        checks[name.strip()] = query
    results = make_backend().integrity(checks, builtin=not args.no_builtin)
    emit(args, [{"name": r.name, "violations": r.violations, "ok": r.ok, "builtin": r.builtin,
                 "detail": list(r.detail), "error": r.error} for r in results],
         ["CHECK", "VIOLATIONS", "RESULT", "DETAIL"],
         [[r.name, r.violations, "ok" if r.ok else ("ERROR" if r.error else "FAIL"),
           r.error or "; ".join(r.detail[:3])] for r in results])
    return 0 if all(r.ok for r in results) else 7
