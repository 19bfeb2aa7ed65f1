"""postgres.* step kinds against a real postgres, with a real journal."""
from __future__ import annotations

import json
import sys

import psycopg
import pytest

import backends.postgres.steps  # noqa: F401  registers the kinds
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.journal import Journal
from cockpit.steps import StepContext, get_step
from tests.fixtures.postgres import PASSWORD

pytestmark = pytest.mark.xdist_group("postgres")


def sql(dsn, *statements):
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def run(kind, ctx, **params):
    cls = get_step(kind)
    return cls().run(ctx, cls.Params(**params))


@pytest.fixture
def ctx(pg_password_dsn, tmp_path):
    journal = Journal.open(tmp_path / "journal.jsonl")
    lines: list[str] = []
    c = StepContext(backends={"postgres": pg_password_dsn}, log=lines.append, evidence_dir=tmp_path / "evidence",
                    journal=journal)
    c.lines = lines  # type: ignore[attr-defined]
    yield c
    journal.close()


def test_backup_counts_integrity_journaled_without_password(ctx, pg_password_dsn):
    sql(pg_password_dsn, "CREATE TABLE orders (id int)", "INSERT INTO orders SELECT generate_series(1, 30)")
    backup = run("postgres.backup", ctx)
    assert backup["size"] > 0 and len(backup["sha256"]) == 64 and backup["path"].startswith(str(ctx.evidence_dir))
    pre = run("postgres.counts", ctx, tables=["orders"], save_as="pre")
    assert pre["counts"] == {"orders": 30}
    sql(pg_password_dsn, "DELETE FROM orders WHERE id <= 4")
    post = run("postgres.counts", ctx, compare_to="pre")
    assert post["changed"] == ["orders"] and post["diff"][0]["delta"] == -4
    assert any(line.startswith("CHANGED orders: 30 -> 26") for line in ctx.lines)
    with pytest.raises(CockpitError, match="changed"):
        run("postgres.counts", ctx, compare_to="pre", fail_on_change=True)
    with pytest.raises(CockpitError, match="integrity"):
        run("postgres.integrity", ctx, checks={"too many": "SELECT count(*) FROM orders WHERE id > 20"})
    ok = run("postgres.integrity", ctx, checks={"none": "SELECT 0"})
    assert all(r["ok"] for r in ok["results"])
    text = ctx.journal.path.read_text()
    types = [json.loads(line)["type"] for line in text.splitlines()]
    assert "backup" in types and "row_counts" in types and "integrity" in types
    assert backup["sha256"] in text
    assert PASSWORD not in text and all(PASSWORD not in line for line in ctx.lines)


def test_migrate_rollback_streams_and_journals_the_diff(ctx, pg_password_dsn, tmp_path):
    sql(pg_password_dsn,
        "CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz DEFAULT now())",
        "INSERT INTO django_migrations (app, name) VALUES ('shop', '0041_a'), ('shop', '0042_b'), ('shop', '0043_c')")
    script = tmp_path / "downgrade.py"
    script.write_text(
        "import sys, psycopg\n"
        "print('Unapplying shop.0043_c... OK', flush=True)\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as c:\n"
        "    c.execute(\"DELETE FROM django_migrations WHERE name = '0043_c'\")\n"
    )
    params = get_step("postgres.migrate_rollback").Params(argv=[sys.executable, str(script), pg_password_dsn])
    # the DSN in argv is the test's business; the journaled intent masks the step's own dsn param
    data = get_step("postgres.migrate_rollback")().run(ctx, params)
    assert [m["name"] for m in data["removed"]] == ["shop.0043_c"] and data["added"] == []
    assert "Unapplying shop.0043_c... OK" in ctx.lines
    assert "rolled back: django shop.0043_c" in ctx.lines
    records = [json.loads(line) for line in ctx.journal.path.read_text().splitlines()]
    (diff,) = [r for r in records if r["type"] == "migrations_diff"]
    assert diff["removed"][0]["name"] == "shop.0043_c"
    # running it again changes nothing: the step says so
    script.write_text("print('nothing to do')\n")
    with pytest.raises(CockpitError, match="did not change"):
        run("postgres.migrate_rollback", ctx, argv=[sys.executable, str(script)])


def test_dsn_param_is_secret_in_params_and_readonly_context_refuses(ctx, pg_password_dsn):
    cls = get_step("postgres.long_transactions")
    params = cls.Params(dsn=pg_password_dsn, action="terminate", application="x")
    assert PASSWORD not in json.dumps(params.model_dump(mode="json"))
    assert cls().is_mutating(params) and not cls().is_mutating(cls.Params())
    ctx.readonly = True
    with pytest.raises(ReadonlyError):
        run("postgres.restore", ctx, file="/nonexistent.dump", confirm="x")
    listed = run("postgres.long_transactions", ctx, older_than="1ms")
    assert isinstance(listed["transactions"], list)
