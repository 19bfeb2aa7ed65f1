"""The runbook step kinds the SQL backends share (``postgres.*``, ``mysql.*``), written once.

Each kind here is a base class; a backend's ``steps.py`` registers a subclass that adds what
differs: the kind's name, the engine (the context's backend of that name and the evidence
sub-directory), the backend class, the wording that names its tools and, for long
transactions, how a transaction is named and signalled. A step that only one backend has
(PostgreSQL's ``migrate_rollback``, MySQL's ``pitr``) stays in that backend, built on
:class:`SQLStep` and the helpers here (journal records, evidence paths, progress, migration
histories in the log).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from backends.sqldb import SQLBackend, safe_name
from cockpit.errors import CockpitError, ConfigError
from cockpit.output import jsonable
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams

# ---------------------------------------------------------------------------- helpers


def backend_for(ctx: Any, params: Any, cls: type, name: str) -> Any:
    """The step's backend: its own ``dsn`` (a secret), else the context's ``name`` backend (an
    instance of ``cls``, made readonly when the run is, a DSN string or ``{"dsn": ...}``)."""
    if params.dsn is not None:
        return cls(params.dsn.get_secret_value(), readonly=ctx.readonly, statement_timeout=params.statement_timeout)
    configured = ctx.backend(name)
    if isinstance(configured, cls):
        if ctx.readonly and not configured.readonly:
            return cls(configured.dsn, readonly=True, statement_timeout=configured.statement_timeout)
        return configured
    dsn = configured.get("dsn") if isinstance(configured, dict) else configured
    if not isinstance(dsn, str):
        raise ConfigError(f"the {name} backend must be a DSN, {{dsn: ...}} or a {cls.__name__}")
    return cls(dsn, readonly=ctx.readonly, statement_timeout=params.statement_timeout)


def record(ctx: Any, type_: str, **data: Any) -> None:
    if ctx.journal is not None:
        ctx.journal.append(type_, step=getattr(ctx, "step_index", None), **data)


def evidence(ctx: Any, sub: str, explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if ctx.evidence_dir is None:
        raise ConfigError("this step needs an evidence directory", hint="set dir: in the step or run with an incident")
    return Path(ctx.evidence_dir) / sub


def log_histories(ctx: Any, histories: list, title: str) -> None:
    if not histories:
        ctx.log(f"{title}: no migration tables found")
    for h in histories:
        ctx.log(f"{title}: {h.framework} ({h.table}, {h.total} applied)")
        for m in h.migrations[:5]:
            when = f" {m.applied_at:%Y-%m-%d %H:%M}" if m.applied_at else ""
            ctx.log(f"  {m.name}{when}{' ' + m.detail if m.detail else ''}")


def follow(ctx: Any, progress: Iterable[Any]) -> Any:
    """Log each progress item's message; the backup of the last ``done`` one, if it has one."""
    info = None
    for p in progress:
        if p.message:
            ctx.log(p.message)
        if p.done:
            info = getattr(p, "backup", None)
    return info


# ---------------------------------------------------------------------------- params


class SQLParams(StepParams):
    dsn: SecretStr | None = Field(
        None, description="overrides the DSN of the context's postgres or mysql backend; never journaled")
    statement_timeout: Duration = 30.0


class MigrationsParams(SQLParams):
    limit: int = Field(10, ge=1, le=1000)


class BackupParams(SQLParams):
    dir: str | None = Field(None, description="default: <evidence dir>/<engine> (postgres, mysql)")
    label: str | None = None
    timeout: Duration = 3600.0


class RestoreParams(SQLParams):
    file: str = Field(description="a backup written by the same engine's backup (postgres.backup, mysql.backup)")
    confirm: str = Field(description="the database name, typed by the operator")
    timeout: Duration = 3600.0


class CountsParams(SQLParams):
    tables: list[str] = Field(default_factory=list, description="default: the tables of compare_to")
    save_as: str | None = Field(None, description="snapshot name, kept in the evidence dir")
    compare_to: str | None = Field(None, description="a snapshot saved earlier (save_as)")
    fail_on_change: bool = False


class IntegrityParams(SQLParams):
    checks: dict[str, str] = Field(default_factory=dict, description="name -> SQL returning violating rows")
    builtin: bool = Field(True, description="the engine's own checks (MySQL: CHECK TABLE every table)")
    fail_on_violation: bool = True


class LongTxParams(SQLParams):
    """An engine adds its two selectors: one transaction's id and a name to match."""

    older_than: Duration = 60.0
    action: Literal["list", "cancel", "terminate"] = "list"


# ---------------------------------------------------------------------------- kinds


class SQLStep(Step):
    """A step on one SQL backend: ``engine`` is the context's backend it uses (and the evidence
    sub-directory), ``backend_cls`` that backend's class."""

    engine: ClassVar[str] = ""
    backend_cls: ClassVar[type[SQLBackend]] = SQLBackend

    def backend(self, ctx: StepContext, params: Any) -> Any:
        return backend_for(ctx, params, self.backend_cls, self.engine)


class Migrations(SQLStep):
    mutating = False
    Params = MigrationsParams
    summary: ClassVar[str] = "list recent database migrations"

    def describe(self, params: Any) -> str:
        return self.summary

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = self.backend(ctx, params)
        histories = backend.migrations(limit=params.limit)
        log_histories(ctx, histories, "migrations")
        return {"dsn": backend.display_dsn, "histories": jsonable(histories)}


class Backup(SQLStep):
    """A backup into ``<evidence>/<engine>``, followed to the end; its facts (and the backend's
    extras) returned and journaled. Only reads the database: not mutating."""

    mutating = False
    Params = BackupParams
    summary: ClassVar[str] = "back up the database"

    def describe(self, params: Any) -> str:
        return self.summary

    def options(self, params: Any) -> dict[str, Any]:
        """The engine's own backup options from ``params``."""
        return {}

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = self.backend(ctx, params)
        info = follow(ctx, backend.backup(evidence(ctx, self.engine, params.dir), cancel=ctx.cancel,
                                          timeout=params.timeout, label=params.label, **self.options(params)))
        assert info is not None
        data = {"path": str(info.path), "size": info.size, "sha256": info.sha256, "database": info.database,
                "dsn": info.dsn, "seconds": info.duration, **info.extra}
        record(ctx, "backup", kind=self.engine, **data)
        return data


class Restore(SQLStep):
    """The guarded restore of ``file`` (``confirm``: the database name), followed to the end."""

    mutating = True
    Params = RestoreParams
    replaces: ClassVar[str] = "the database's contents"

    def describe(self, params: Any) -> str:
        return f"restore {Path(params.file).name} (replaces {self.replaces})"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = self.backend(ctx, params)
        follow(ctx, backend.restore(params.file, confirm=params.confirm, cancel=ctx.cancel, timeout=params.timeout))
        return {"file": params.file, "database": backend.database, "dsn": backend.display_dsn}


class Counts(SQLStep):
    """Row counts of chosen tables; saved as a named snapshot (under ``<evidence>/<engine>``)
    and/or compared with one; ``report_saved`` adds the snapshot's path to the result (never to
    the journal)."""

    mutating = False
    Params = CountsParams
    report_saved: ClassVar[bool] = False

    def describe(self, params: Any) -> str:
        return "row counts" + (f" vs {params.compare_to}" if params.compare_to else "")

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        from cockpit.errors import NotFoundError

        before = None
        if params.compare_to:
            path = evidence(ctx, self.engine) / f"counts-{safe_name(params.compare_to)}.json"
            if not path.exists():
                raise NotFoundError(f"no row-count snapshot named {params.compare_to!r} ({path})")
            before = {k: int(v) for k, v in json.loads(path.read_text())["counts"].items()}
        tables = params.tables or list(before or [])
        if not tables:
            raise ConfigError(f"{self.kind} needs tables (or compare_to a snapshot)")
        backend = self.backend(ctx, params)
        counts = backend.counts(tables, cancel=ctx.cancel)
        data: dict[str, Any] = {"dsn": backend.display_dsn, "counts": counts}
        if params.save_as:
            path = evidence(ctx, self.engine) / f"counts-{safe_name(params.save_as)}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"dsn": backend.display_dsn, "counts": counts}, indent=2) + "\n")
            if self.report_saved:
                data["saved"] = str(path)
        if before is None:
            for t, n in counts.items():
                ctx.log(f"{t}: {n} rows")
        else:
            diffs = backend.compare_counts(before, counts)
            for d in diffs:
                mark = "CHANGED " if d.changed else ""
                delta = "" if d.delta is None else f" ({d.delta:+d})"
                ctx.log(f"{mark}{d.table}: {d.before} -> {d.after}{delta}")
            data["diff"] = [{"table": d.table, "before": d.before, "after": d.after, "delta": d.delta,
                             "changed": d.changed} for d in diffs]
            data["changed"] = [d.table for d in diffs if d.changed]
        record(ctx, "row_counts", **{k: v for k, v in data.items() if k != "saved"})
        if params.fail_on_change and data.get("changed"):
            raise CockpitError("row counts changed: " + ", ".join(data["changed"]), title="Counts changed")
        return data


class Integrity(SQLStep):
    """Run the checks, log each (and up to ``detail_lines`` of its detail), journal them; fail on
    a violation when ``fail_on_violation``."""

    mutating = False
    Params = IntegrityParams
    builtin_note: ClassVar[str] = ""  # the built-in checks named in the description, e.g. "CHECK TABLE, "
    detail_lines: ClassVar[int] = 0

    def describe(self, params: Any) -> str:
        return f"integrity checks ({self.builtin_note}{len(params.checks)} configured)"

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = self.backend(ctx, params)
        results = backend.integrity(params.checks, builtin=params.builtin, cancel=ctx.cancel)
        for r in results:
            state = "ok" if r.ok else ("ERROR " + (r.error or "") if r.error else f"FAIL {r.violations} violating")
            ctx.log(f"{r.name}: {state}")
            for d in r.detail[:self.detail_lines]:
                ctx.log(f"  {d}")
        data = {"dsn": backend.display_dsn, "results": [
            {"name": r.name, "ok": r.ok, "violations": r.violations, "builtin": r.builtin,
             "detail": list(r.detail), "error": r.error} for r in results]}
        record(ctx, "integrity", **data)
        failed = [r.name for r in results if not r.ok]
        if failed and params.fail_on_violation:
            raise CockpitError("integrity checks failed: " + ", ".join(failed), title="Integrity")
        return data


class LongTransactions(SQLStep):
    """List long-running transactions; with ``action: cancel|terminate`` signal the matching
    ones: the one ``id_param`` names, or every one older than ``older_than`` whose
    ``name_param`` attribute is the one given — never all of them blindly. After a crash it is
    done when no matching transaction is left, else it runs again (signalling is idempotent).

    An engine names its selectors (``id_param``, ``name_param``: params fields; a transaction's
    attribute of the same name is matched), its wording (``noun`` in the log, ``unselected``
    after "needs", ``not_signalled``), whether a missing selector is refused before listing
    (``refuse_before_listing``) or after, and :meth:`who`, :meth:`line` and :meth:`signal`."""

    mutating = True
    Params = LongTxParams
    id_param: ClassVar[str]
    name_param: ClassVar[str]
    noun: ClassVar[str]
    unselected: ClassVar[str]
    not_signalled: ClassVar[str]
    refuse_before_listing: ClassVar[bool] = False

    def who(self, params: Any) -> str:
        """The transactions an action is for, in the description."""
        raise NotImplementedError

    def line(self, tx: Any) -> str:
        """One transaction in the log."""
        raise NotImplementedError

    def signal(self, backend: Any, action: str, tx_id: int) -> bool:
        """Cancel or terminate one transaction; whether the server signalled it."""
        raise NotImplementedError

    def is_mutating(self, params: Any) -> bool:
        return params.action != "list"

    def describe(self, params: Any) -> str:
        if params.action == "list":
            return "list long-running transactions"
        return f"{params.action} {self.who(params)} older than {params.older_than:g}s"

    def matching(self, backend: Any, params: Any) -> list:
        tx_id, name = getattr(params, self.id_param), getattr(params, self.name_param)
        txs = backend.long_transactions(older_than=params.older_than)
        return [t for t in txs
                if (tx_id is None or t.pid == tx_id) and (not name or getattr(t, self.name_param) == name)]

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        backend = self.backend(ctx, params)
        unselected = (params.action != "list" and getattr(params, self.id_param) is None
                      and not getattr(params, self.name_param))
        if unselected and self.refuse_before_listing:
            raise ConfigError(f"{params.action} needs {self.unselected}")
        txs = self.matching(backend, params)
        for t in txs:
            ctx.log(self.line(t))
        data: dict[str, Any] = {"dsn": backend.display_dsn, "transactions": jsonable(txs)}
        if params.action == "list":
            return data
        if unselected:
            raise ConfigError(f"{params.action} needs {self.unselected}")
        signalled = []
        for t in txs:
            ok = self.signal(backend, params.action, t.pid)
            ctx.log(f"{params.action} {self.noun} {t.pid}: {'done' if ok else self.not_signalled}")
            if ok:
                signalled.append(t.pid)
        data["signalled"] = signalled
        return data

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        if params.action == "list":
            return None
        backend = self.backend(ctx, params)
        return None if self.matching(backend, params) else {"dsn": backend.display_dsn, "signalled": [],
                                                             "reconciled": True}
