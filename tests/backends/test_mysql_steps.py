"""mysql.* step kinds against a real MariaDB, with a real journal and the executor."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

import backends.mysql.steps  # noqa: F401  registers the kinds
from backends.mysql.client import MySQLBackend
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.executor import Executor
from cockpit.journal import Journal
from cockpit.runbook import parse_runbook
from cockpit.steps import StepContext, get_step
from tests.fixtures.mariadb import PASSWORD

pytestmark = pytest.mark.xdist_group("mariadb")


def run(kind, ctx, **params):
    cls = get_step(kind)
    return cls().run(ctx, cls.Params(**params))


@pytest.fixture
def ctx(my_dsn, tmp_path):
    journal = Journal.open(tmp_path / "journal.jsonl")
    lines: list[str] = []
    c = StepContext(backends={"mysql": my_dsn}, log=lines.append, evidence_dir=tmp_path / "evidence", journal=journal)
    c.lines = lines  # type: ignore[attr-defined]
    yield c
    journal.close()


def test_backup_counts_integrity_journaled_without_password(ctx, mariadb_server, my_db):
    mariadb_server.sql(my_db, "CREATE TABLE orders (id int PRIMARY KEY)",
                       "INSERT INTO orders VALUES " + ", ".join(f"({i})" for i in range(1, 31)))
    backup = run("mysql.backup", ctx)
    assert backup["size"] > 0 and len(backup["sha256"]) == 64 and backup["path"].startswith(str(ctx.evidence_dir))
    assert backup["binlog_file"] and backup["binlog_pos"] > 0
    assert run("mysql.counts", ctx, tables=["orders"], save_as="pre")["counts"] == {"orders": 30}
    mariadb_server.sql(my_db, "DELETE FROM orders WHERE id <= 4")
    post = run("mysql.counts", ctx, compare_to="pre")
    assert post["changed"] == ["orders"] and post["diff"][0]["delta"] == -4
    with pytest.raises(CockpitError, match="integrity"):
        run("mysql.integrity", ctx, checks={"too many": "SELECT COUNT(*) FROM orders WHERE id > 20"})
    assert all(r["ok"] for r in run("mysql.integrity", ctx, checks={"none": "SELECT 0"})["results"])
    text = ctx.journal.path.read_text()
    types = [json.loads(line)["type"] for line in text.splitlines()]
    assert {"backup", "row_counts", "integrity"} <= set(types) and backup["sha256"] in text
    assert PASSWORD not in text and all(PASSWORD not in line for line in ctx.lines)


def test_readonly_context_refuses_writes_and_dsn_is_secret(ctx, my_dsn):
    cls = get_step("mysql.long_transactions")
    params = cls.Params(dsn=my_dsn, action="terminate", user="x")
    assert PASSWORD not in json.dumps(params.model_dump(mode="json"))
    assert cls().is_mutating(params) and not cls().is_mutating(cls.Params())
    ctx.readonly = True
    with pytest.raises(ReadonlyError):
        run("mysql.restore", ctx, file="/nonexistent.sql", confirm="x")
    with pytest.raises(ReadonlyError):
        get_step("mysql.pitr")().prepare(ctx, get_step("mysql.pitr").Params(
            file="/nonexistent.sql", until="2026-01-01 00:00:00", confirm="x", confirm_time="2026-01-01 00:00:00"))
    assert isinstance(run("mysql.long_transactions", ctx, older_than="1ms")["transactions"], list)


PITR = """
name: undo the bad deploy's writes
target: {{kind: deployment, namespace: shop, name: checkout}}
steps:
  - kind: mysql.pitr
    params: {{file: "{file}", until: "{until}", confirm: {db}, confirm_time: "{until}"}}
"""


class Crash(SystemExit):
    """The process dies between the intent and the outcome."""


class CrashingBackend(MySQLBackend):
    def pitr(self, *a, **kw):  # type: ignore[override]
        raise Crash(1)


def test_pitr_step_intent_first_refusal_without_intent_and_resume(mariadb_server, my_db, my_dsn, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    info = MySQLBackend(my_dsn).backup_now(tmp_path / "ev")
    time.sleep(1.1)
    mariadb_server.sql(my_db, "INSERT INTO t VALUES (2)")
    time.sleep(1.1)
    until = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    time.sleep(1.1)
    mariadb_server.sql(my_db, "DELETE FROM t")

    def execute(backend, until_text, resume=False):
        journal = Journal.open(tmp_path / "j.jsonl")
        try:
            ctx = StepContext(backends={"mysql": backend}, log=lambda line: None, journal=journal)
            ex = Executor(parse_runbook(PITR.format(file=info.path, until=until_text, db=my_db)), journal, ctx)
            return ex.resume() if resume else ex.run()
        finally:
            journal.close()

    # out of range: refused in prepare, so no intent and nothing written
    future = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    result = execute(MySQLBackend(my_dsn), future)
    assert result.status != "ok" and "after the server's clock" in str(result.error)
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert not [r for r in records if r["type"] == "intent"]
    (tmp_path / "j.jsonl").unlink()
    # a crash after the fsynced intent: the intent carries the plan; resume runs it again
    with pytest.raises(Crash):
        execute(CrashingBackend(my_dsn), until)
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    (intent,) = [r for r in records if r["type"] == "intent"]
    assert intent["until"] == until and intent["binlog_file"] == info.extra["binlog_file"]
    assert PASSWORD not in (tmp_path / "j.jsonl").read_text()
    assert mariadb_server.sql(my_db, "SELECT COUNT(*) FROM t")[0][0][0] == 0
    result = execute(MySQLBackend(my_dsn), until, resume=True)
    assert result.status == "ok", result.error
    assert mariadb_server.sql(my_db, "SELECT id FROM t ORDER BY id")[0] == ((1,), (2,))
