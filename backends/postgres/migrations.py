"""Migration history from the tables the common frameworks keep.

Detected tables (any schema but the system ones): Django ``django_migrations``, Rails
``schema_migrations`` (golang-migrate's has a ``dirty`` column), Alembic ``alembic_version``,
Knex ``knex_migrations``, Flyway ``flyway_schema_history``, Prisma ``_prisma_migrations``,
EF Core ``__EFMigrationsHistory``, node-pg-migrate ``pgmigrations`` and a generic
``migrations`` table (TypeORM, Laravel, hand-rolled).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backends.postgres.models import Migration, MigrationDiff, MigrationHistory
from backends.sqldb import migration_stamp as _stamp
from cockpit.text import sanitize

TABLES = {
    "django_migrations": "django",
    "schema_migrations": "rails",
    "alembic_version": "alembic",
    "knex_migrations": "knex",
    "flyway_schema_history": "flyway",
    "_prisma_migrations": "prisma",
    "__EFMigrationsHistory": "efcore",
    "pgmigrations": "node-pg-migrate",
    "migrations": "generic",
}

_FIND = """
SELECT n.nspname, c.relname, array_agg(a.attname::text ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v') AND c.relname = ANY(%s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
GROUP BY n.nspname, c.relname
ORDER BY n.nspname, c.relname
"""


def _plan(framework: str, cols: Sequence[str]) -> tuple[str, str, str, str, str] | None:
    """(framework, name expr, time expr, detail expr, order by) over table ``{t}``."""
    c = set(cols)
    if framework == "django":
        return framework, "app || '.' || name", "applied", "''", "applied DESC NULLS LAST, id DESC"
    if framework == "rails":
        if "dirty" in c:
            return "golang-migrate", "version::text", "NULL", "CASE WHEN dirty THEN 'dirty' ELSE '' END", "version DESC"
        return framework, "version::text", "NULL", "''", "version DESC"
    if framework == "alembic":
        return framework, "version_num", "NULL", "'head'", "version_num DESC"
    if framework == "knex":
        return framework, "name", "migration_time", "'batch ' || batch", "id DESC"
    if framework == "flyway":
        return (framework, "coalesce(version, '') || ' ' || coalesce(description, '')", "installed_on",
                "CASE WHEN success THEN type ELSE 'FAILED ' || type END", "installed_rank DESC")
    if framework == "prisma":
        return (framework, "migration_name", "coalesce(finished_at, started_at)",
                "CASE WHEN rolled_back_at IS NOT NULL THEN 'rolled back' "
                "WHEN finished_at IS NULL THEN 'unfinished' ELSE '' END", "started_at DESC")
    if framework == "efcore":
        return framework, '"MigrationId"', "NULL", '"ProductVersion"', '"MigrationId" DESC'
    if framework in ("node-pg-migrate", "generic"):
        name = next((x for x in ("name", "migration", "version", "filename") if x in c), None)
        if name is None:
            return None
        when = next((x for x in ("run_on", "applied_at", "executed_at", "created_at", "installed_on") if x in c), None)
        time_expr = f'"{when}"' if when else "NULL"
        if when is None and "timestamp" in c:  # TypeORM: milliseconds since the epoch
            time_expr = 'to_timestamp("timestamp"::float8 / 1000)'
        detail = "'batch ' || batch" if "batch" in c else "''"
        order = '"id" DESC' if "id" in c else f'"{name}" DESC'
        return framework, f'"{name}"::text', time_expr, detail, order
    return None


def read_histories(backend: Any, conn: Any, *, limit: int = 20) -> list[MigrationHistory]:
    from psycopg import sql

    found = backend._select(conn, _FIND, (list(TABLES),))
    histories: list[MigrationHistory] = []
    for schema, table, cols in found:
        plan = _plan(TABLES[table], cols)
        if plan is None:
            continue
        framework, name_expr, time_expr, detail_expr, order = plan
        ident = sql.Identifier(schema, table)
        q = sql.SQL(
            "SELECT (" + name_expr + ")::text, (" + time_expr + ")::timestamptz, (" + detail_expr + ")::text "
            "FROM {t} ORDER BY " + order + " LIMIT %s"
        ).format(t=ident)
        try:
            with conn.transaction():
                rows = backend._select(conn, q, (int(limit),))
                total = int(backend._select(conn, sql.SQL("SELECT count(*) FROM {t}").format(t=ident))[0][0])
        except Exception:  # a table with that name but another shape: not a history
            continue
        migrations = tuple(
            Migration(
                framework=framework,
                name=sanitize(r[0] or "", max_len=300),
                applied_at=r[1] if r[1] is not None else _stamp(r[0] or ""),
                detail=sanitize(r[2] or "", max_len=200),
            )
            for r in rows
        )
        histories.append(MigrationHistory(framework=framework, table=sanitize(f"{schema}.{table}"),
                                          migrations=migrations, total=total))
    return histories


def diff_histories(before: Sequence[MigrationHistory], after: Sequence[MigrationHistory]) -> MigrationDiff:
    """What a migration rollback changed: migrations that appeared and that disappeared.

    Histories are read newest first and may be truncated (``total`` > shown); past the last
    entry both sides have in common, a truncated side says nothing, so nothing is concluded.
    """
    added: list[Migration] = []
    removed: list[Migration] = []
    b_by = {h.table: h for h in before}
    a_by = {h.table: h for h in after}
    for table in dict.fromkeys([*b_by, *a_by]):
        bh, ah = b_by.get(table), a_by.get(table)
        bl = list(bh.migrations) if bh else []
        al = list(ah.migrations) if ah else []
        bk = [(m.framework, m.name) for m in bl]
        ak = [(m.framework, m.name) for m in al]
        common = set(bk) & set(ak)
        b_trunc = bh is not None and bh.total > len(bl)
        a_trunc = ah is not None and ah.total > len(al)

        def window(keys: list, other_truncated: bool) -> int:
            if not other_truncated:
                return len(keys)
            last = max((i for i, k in enumerate(keys) if k in common), default=-1)
            return last + 1

        aw = window(ak, b_trunc)
        bw = window(bk, a_trunc)
        added += [m for m, k in zip(al[:aw], ak[:aw]) if k not in common]
        removed += [m for m, k in zip(bl[:bw], bk[:bw]) if k not in common]
    return MigrationDiff(added=tuple(added), removed=tuple(removed))
