"""The PostgreSQL backend against a real postgres started by the suite."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from backends.postgres.client import AuthenticationError, ConfirmationMismatch, PostgresBackend, parse_dsn
from backends.postgres.dump import ChecksumMismatch
from backends.postgres.migrations import diff_histories
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from tests.fixtures.postgres import PASSWORD, free_port

pytestmark = pytest.mark.xdist_group("postgres")


def sql(dsn: str, *statements: str) -> list:
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in statements:
            cur = conn.execute(s)
            out.append(cur.fetchall() if cur.description else None)
    return out


FRAMEWORKS = """
CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), applied timestamptz);
INSERT INTO django_migrations (app, name, applied) VALUES
  ('shop', '0041_a', '2026-01-01 10:00Z'), ('shop', '0042_b', '2026-01-02 10:00Z'), ('shop', '0043_c', '2026-01-03 10:00Z');
CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('20260101120000'), ('20260105093000');
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('ae1027a6acf');
CREATE TABLE knex_migrations (id serial PRIMARY KEY, name varchar(255), batch int, migration_time timestamptz);
INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('001_init.js', 1, now() - interval '2 days'), ('002_add.js', 2, now());
CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200),
  type varchar(20), script varchar(1000), checksum int, installed_by varchar(100), installed_on timestamp DEFAULT now(),
  execution_time int, success boolean);
INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', 1, 'me', now(), 5, true),
  (2, '2', 'add orders', 'SQL', 'V2__add.sql', 2, 'me', now(), 5, false);
CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64), finished_at timestamptz,
  migration_name varchar(255), logs text, rolled_back_at timestamptz, started_at timestamptz DEFAULT now(), applied_steps_count int);
INSERT INTO _prisma_migrations VALUES ('a', 'x', now(), '20260101_init', NULL, NULL, now() - interval '1 day', 1),
  ('b', 'y', NULL, '20260102_broken', NULL, NULL, now(), 0);
CREATE TABLE "__EFMigrationsHistory" ("MigrationId" varchar(150) PRIMARY KEY, "ProductVersion" varchar(32));
INSERT INTO "__EFMigrationsHistory" VALUES ('20260110083000_AddUsers', '8.0.1');
"""


def test_migration_history_of_every_framework(pg_db):
    sql(pg_db, FRAMEWORKS)
    hs = {h.framework: h for h in PostgresBackend(pg_db).migrations()}
    assert set(hs) == {"django", "rails", "alembic", "knex", "flyway", "prisma", "efcore"}
    dj = hs["django"]
    assert [m.name for m in dj.migrations] == ["shop.0043_c", "shop.0042_b", "shop.0041_a"]
    assert dj.migrations[0].applied_at.day == 3 and dj.table == "public.django_migrations" and dj.total == 3
    rails = hs["rails"].migrations
    assert rails[0].name == "20260105093000" and rails[0].applied_at.hour == 9  # timestamp from the version
    assert hs["alembic"].migrations[0].name == "ae1027a6acf"
    assert hs["knex"].migrations[0].name == "002_add.js" and hs["knex"].migrations[0].detail == "batch 2"
    assert hs["flyway"].migrations[0].detail.startswith("FAILED")
    assert hs["prisma"].migrations[0].name == "20260102_broken" and hs["prisma"].migrations[0].detail == "unfinished"
    ef = hs["efcore"].migrations[0]
    assert ef.name == "20260110083000_AddUsers" and ef.applied_at.month == 1 and ef.detail == "8.0.1"


def test_migration_history_limit_diff_and_generic_table(pg_db):
    sql(pg_db, "CREATE TABLE migrations (id serial PRIMARY KEY, migration text, batch int)",
        "INSERT INTO migrations (migration, batch) SELECT 'm' || g, 1 FROM generate_series(1, 30) g")
    backend = PostgresBackend(pg_db)
    before = backend.migrations(limit=10)
    (h,) = before
    assert h.framework == "generic" and h.total == 30 and len(h.migrations) == 10 and h.migrations[0].name == "m30"
    sql(pg_db, "DELETE FROM migrations WHERE migration IN ('m30', 'm29')", "INSERT INTO migrations (migration) VALUES ('m31')")
    after = backend.migrations(limit=10)
    diff = diff_histories(before, after)
    assert [m.name for m in diff.added] == ["m31"]
    assert sorted(m.name for m in diff.removed) == ["m29", "m30"]
    assert diff_histories(after, after).changed is False


def test_no_migration_tables_is_an_empty_list(pg_db):
    assert PostgresBackend(pg_db).migrations() == []


def test_counts_and_comparison(pg_db):
    sql(pg_db, 'CREATE TABLE users (id int)', 'CREATE SCHEMA app', 'CREATE TABLE app.orders (id int)',
        'CREATE TABLE "User" (id int)',
        "INSERT INTO users SELECT generate_series(1, 120)", "INSERT INTO app.orders SELECT generate_series(1, 7)",
        'INSERT INTO "User" VALUES (1), (2)')
    backend = PostgresBackend(pg_db)
    before = backend.counts(["users", "app.orders", "User"])
    assert before == {"users": 120, "app.orders": 7, "User": 2}
    sql(pg_db, "DELETE FROM users WHERE id > 100")
    after = backend.counts(["users", "app.orders", "User"])
    diffs = {d.table: d for d in PostgresBackend.compare_counts(before, after)}
    assert diffs["users"].changed and diffs["users"].delta == -20
    assert not diffs["app.orders"].changed and diffs["app.orders"].delta == 0
    with pytest.raises(NotFoundError, match="nope"):
        backend.counts(["users", "nope"])


def test_integrity_builtin_and_configured_checks(pg_db):
    sql(pg_db,
        "CREATE TABLE parent (id int PRIMARY KEY)",
        "CREATE TABLE child (id int, parent_id int)",
        "INSERT INTO parent VALUES (1)",
        "INSERT INTO child VALUES (1, 1), (2, 99), (3, 98)",
        "ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID")
    checks = {
        "orphaned children": "SELECT count(*) FROM child c LEFT JOIN parent p ON p.id = c.parent_id WHERE p.id IS NULL",
        "broken check": "SELECT count(*) FROM no_such_table",
        "sneaky write": "DELETE FROM child RETURNING 1",
    }
    results = {r.name: r for r in PostgresBackend(pg_db).integrity(checks)}
    nv = results["constraints not validated"]
    assert nv.builtin and nv.violations == 1 and "child_parent_fk" in nv.detail[0] and not nv.ok
    assert results["invalid indexes"].ok
    assert results["orphaned children"].violations == 2 and not results["orphaned children"].ok
    assert results["broken check"].error and "no_such_table" in results["broken check"].error
    assert results["sneaky write"].error  # checks run in read-only transactions
    assert sql(pg_db, "SELECT count(*) FROM child")[0][0][0] == 3


def test_long_transactions_listed_inert_and_terminated(pg_db):
    holder = psycopg.connect(pg_db, application_name="evil\x1b[31mapp")
    holder.execute("SELECT '\x1b]0;pwned\x07 \u202eexe.txt' AS q, pg_sleep(0)")
    time.sleep(0.3)
    backend = PostgresBackend(pg_db)
    try:
        txs = backend.long_transactions(older_than=0.2)
        (tx,) = [t for t in txs if "evil" in t.application]
        assert tx.age_seconds >= 0.2 and tx.state == "idle in transaction"
        assert "\x1b" not in tx.query and "\u202e" not in tx.query and "\x07" not in tx.query and "exe.txt" in tx.query
        assert "\x1b" not in tx.application
        assert backend.long_transactions(older_than=3600) == []
        assert backend.terminate_backend(tx.pid) is True
        deadline = time.monotonic() + 15  # the server reaps the backend in its own time
        while [t for t in backend.long_transactions() if t.pid == tx.pid]:
            if time.monotonic() > deadline:
                pytest.fail("terminated backend still listed after 15 s")
            time.sleep(0.05)
        with pytest.raises(NotFoundError):
            backend.cancel_backend(tx.pid)
    finally:
        holder.close()


def test_readonly_runs_only_selects_and_refuses_writes_before_sending(pg_db, tmp_path):
    sql(pg_db, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)")
    ro = PostgresBackend(pg_db, readonly=True)
    assert ro.counts(["t"]) == {"t": 1}
    with pytest.raises(ReadonlyError):
        ro.terminate_backend(1)
    with pytest.raises(ReadonlyError):
        ro.cancel_backend(1)
    with pytest.raises(ReadonlyError):
        list(ro.restore(tmp_path / "x.dump", confirm=ro.database))
    results = {r.name: r for r in ro.integrity({"write": "UPDATE t SET id = 2 RETURNING 1", "read": "SELECT 0"})}
    assert "readonly" in results["write"].error and results["read"].ok
    # even a statement that slipped past would hit a read-only session
    with ro.connect() as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
    assert sql(pg_db, "SELECT id FROM t")[0] == [(1,)]
    # refused before any connection: a dead server still gives ReadonlyError
    dead = PostgresBackend(f"host=127.0.0.1 port={free_port()} dbname=x user=x", readonly=True)
    with pytest.raises(ReadonlyError):
        dead.terminate_backend(1)


def test_connections_are_labelled_and_bounded(pg_db):
    backend = PostgresBackend(pg_db, statement_timeout=0.3)
    with backend.connect() as conn:
        assert conn.execute("SHOW application_name").fetchone()[0] == "cockpit"
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "300ms"
    from backends.postgres.client import QueryError

    with pytest.raises(QueryError, match="cancel"):
        with backend.connect() as conn:
            conn.execute("SELECT pg_sleep(5)")


def test_bad_dsn_unreachable_and_password_never_shown(postgres_server, pg_password_dsn):
    good = PostgresBackend(pg_password_dsn)
    assert PASSWORD not in good.display_dsn and "***" in good.display_dsn
    assert "PostgreSQL" in good.ping()
    wrong = PostgresBackend(pg_password_dsn.replace(PASSWORD, "not-" + PASSWORD))
    with pytest.raises(AuthenticationError) as exc:
        wrong.ping()
    assert PASSWORD not in str(exc.value)
    with pytest.raises(UnreachableError) as exc:
        PostgresBackend(f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/db", connect_timeout=1).ping()
    assert PASSWORD not in str(exc.value)
    for bad in ("host=x port", "postgresql://u:pw@h:5432/db?bogus=1", ""):
        with pytest.raises(ConfigError) as exc:
            parse_dsn(bad)
        assert "pw" not in str(exc.value).replace("password", "")


def test_backup_list_verify_and_guarded_restore(pg_password_dsn, tmp_path):
    sql(pg_password_dsn, "CREATE TABLE items (id int PRIMARY KEY, name text)",
        "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g")
    backend = PostgresBackend(pg_password_dsn)
    items = list(backend.backup(tmp_path / "evidence"))
    final = items[-1]
    assert final.done and final.backup is not None and not any(i.done for i in items[:-1])
    info = final.backup
    assert info.path.exists() and info.size == info.path.stat().st_size > 0 and len(info.sha256) == 64
    assert info.path.read_bytes()[:5] == b"PGDMP"  # custom format
    assert PASSWORD not in info.dsn
    for i in items:
        assert PASSWORD not in i.message
    assert PASSWORD not in (tmp_path / "evidence" / (info.path.name + ".json")).read_text()
    (listed,) = PostgresBackend.list_backups(tmp_path / "evidence", verify=True)
    assert listed.path == info.path and listed.verified is True and listed.sha256 == info.sha256
    # damage the data, restore with the wrong then the right confirmation
    sql(pg_password_dsn, "DELETE FROM items WHERE id > 10", "CREATE TABLE junk (x int)")
    with pytest.raises(ConfirmationMismatch):
        list(backend.restore(info.path, confirm="postgres"))
    assert sql(pg_password_dsn, "SELECT count(*) FROM items")[0][0][0] == 10
    steps = list(backend.restore(info.path, confirm=backend.database))
    assert steps[-1].done
    assert sql(pg_password_dsn, "SELECT count(*) FROM items")[0][0][0] == 500
    # a tampered backup is refused
    with info.path.open("r+b") as fh:
        fh.seek(info.size // 2)
        fh.write(b"\x00tampered\x00")
    assert PostgresBackend.verify_backup(info.path).verified is False
    with pytest.raises(ChecksumMismatch):
        list(backend.restore(info.path, confirm=backend.database))


def test_backup_cancel_leaves_no_partial_file(pg_db, tmp_path):
    sql(pg_db, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 200000) g")
    cancel = threading.Event()
    from cockpit.errors import Aborted

    gen = PostgresBackend(pg_db).backup(tmp_path, cancel=cancel)
    next(gen)
    cancel.set()
    with pytest.raises(Aborted):
        list(gen)
    assert list(tmp_path.iterdir()) == []
