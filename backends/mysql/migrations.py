"""Migration history from the tables the common frameworks keep, in the DSN's database.

Django ``django_migrations``, Rails ``schema_migrations`` (golang-migrate's has a ``dirty``
column), Laravel ``migrations`` (``migration``, ``batch``), Knex ``knex_migrations``, Flyway
``flyway_schema_history`` and Prisma ``_prisma_migrations``. Rows are read raw and shaped
here, so no SQL dialect tricks; names are sanitized.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from backends.postgres.models import Migration, MigrationHistory
from backends.sqldb import migration_stamp as _stamp
from cockpit.text import sanitize

TABLES = {
    "django_migrations": "django",
    "schema_migrations": "rails",
    "migrations": "laravel",
    "knex_migrations": "knex",
    "flyway_schema_history": "flyway",
    "_prisma_migrations": "prisma",
}


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _plan(framework: str, cols: set[str]) -> tuple[str, list[str], str] | None:
    """(framework, columns to select, ORDER BY) — or None if the table has another shape."""
    if framework == "django" and {"app", "name"} <= cols:
        return framework, ["app", "name", "applied"], "applied DESC, id DESC"
    if framework == "rails" and "version" in cols:
        if "dirty" in cols:
            return "golang-migrate", ["version", "dirty"], "version DESC"
        return framework, ["version"], "version DESC"
    if framework == "laravel" and "migration" in cols:
        return framework, ["migration", "batch"] if "batch" in cols else ["migration"], \
            "id DESC" if "id" in cols else "migration DESC"
    if framework == "knex" and "name" in cols:
        return framework, ["name", "batch", "migration_time"], "id DESC"
    if framework == "flyway" and {"version", "description", "installed_on", "success"} <= cols:
        return framework, ["version", "description", "installed_on", "success", "type"], "installed_rank DESC"
    if framework == "prisma" and "migration_name" in cols:
        return framework, ["migration_name", "finished_at", "started_at", "rolled_back_at"], "started_at DESC"
    return None


def _shape(framework: str, r: tuple) -> Migration:
    name, when, detail = "", None, ""
    if framework == "django":
        name, when = f"{r[0]}.{r[1]}", _utc(r[2])
    elif framework in ("rails", "golang-migrate"):
        name = str(r[0])
        when = _stamp(name)
        if framework == "golang-migrate" and r[1]:
            detail = "dirty"
    elif framework == "laravel":
        name = str(r[0])
        if len(r) > 1 and r[1] is not None:
            detail = f"batch {r[1]}"
    elif framework == "knex":
        name, detail, when = str(r[0]), f"batch {r[1]}", _utc(r[2])
    elif framework == "flyway":
        name = f"{r[0] or ''} {r[1] or ''}".strip()
        when = _utc(r[2])
        detail = str(r[4] or "") if r[3] else f"FAILED {r[4] or ''}".strip()
    elif framework == "prisma":
        name, when = str(r[0]), _utc(r[1] or r[2])
        detail = "rolled back" if r[3] is not None else ("unfinished" if r[1] is None else "")
    return Migration(framework=framework, name=sanitize(name, max_len=300), applied_at=when,
                     detail=sanitize(detail, max_len=200))


def read_histories(backend: Any, conn: Any, *, limit: int = 20) -> list[MigrationHistory]:
    db = backend.database
    placeholders = ", ".join(["%s"] * len(TABLES))
    found = backend._select(
        conn, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
              f"AND table_name IN ({placeholders}) ORDER BY table_name, ordinal_position", (db, *TABLES))
    cols: dict[str, set[str]] = {}
    for table, col in found:
        cols.setdefault(str(table), set()).add(str(col).lower())
    histories: list[MigrationHistory] = []
    for table, c in cols.items():
        plan = _plan(TABLES[table], c)
        if plan is None:
            continue
        framework, select, order = plan
        ident = f"{_q(db)}.{_q(table)}"
        try:
            rows = backend._select(conn, f"SELECT {', '.join(_q(x) for x in select)} FROM {ident} "
                                         f"ORDER BY {order} LIMIT %s", (int(limit),))
            total = int(backend._select(conn, f"SELECT COUNT(*) FROM {ident}")[0][0])
        except Exception:  # a table of that name with another shape: not a history
            continue
        histories.append(MigrationHistory(framework=framework, table=sanitize(f"{db}.{table}"),
                                          migrations=tuple(_shape(framework, r) for r in rows), total=total))
    return histories
