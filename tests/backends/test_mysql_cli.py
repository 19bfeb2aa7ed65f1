"""``cockpit mysql ...`` headless commands against a real MariaDB."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pymysql
import pytest

import cockpit.cli
from cockpit.cli import main
from tests.fixtures.mariadb import PASSWORD
from tests.fixtures.procs import free_port

pytestmark = pytest.mark.xdist_group("mariadb")

# Until the lead registers it in COMMAND_MODULES (then this is a no-op).
_RUN = ("import sys, cockpit.cli as c; c.COMMAND_MODULES.setdefault('mysql', 'backends.mysql.commands'); "
        "sys.exit(c.main(sys.argv[1:]))")


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(cockpit.cli.COMMAND_MODULES, "mysql", "backends.mysql.commands")


def test_migrations_counts_integrity(mariadb_server, my_db, my_dsn, capsys, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE django_migrations (id int AUTO_INCREMENT PRIMARY KEY, app varchar(99), "
                              "name varchar(99), applied datetime)",
                       "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0042_b', NOW())",
                       "CREATE TABLE users (id int PRIMARY KEY)", "CREATE TABLE orders (user_id int)",
                       "INSERT INTO users VALUES (1), (2), (3)", "INSERT INTO orders VALUES (9)")
    assert main(["mysql", "migrations", "--dsn", my_dsn, "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["histories"][0]["migrations"][0]["name"] == "shop.0042_b" and PASSWORD not in json.dumps(data)
    snap = tmp_path / "counts.json"
    assert main(["mysql", "counts", "--dsn", my_dsn, "users", "--save", str(snap)]) == 0
    capsys.readouterr()
    mariadb_server.sql(my_db, "DELETE FROM users WHERE id = 3")
    assert main(["mysql", "counts", "--dsn", my_dsn, "--compare", str(snap)]) == 0
    out = capsys.readouterr().out
    assert "-1" in out and "CHANGED" in out
    assert main(["mysql", "counts", "--dsn", my_dsn, "nosuch"]) == 3
    check = "orphans=SELECT COUNT(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL"
    assert main(["mysql", "integrity", "--dsn", my_dsn, "--check", check]) == 7
    assert "orphans" in capsys.readouterr().out
    assert main(["mysql", "integrity", "--dsn", my_dsn, "-o", "json"]) == 0
    assert all(r["ok"] for r in json.loads(capsys.readouterr().out))


def test_long_tx_kill_behind_confirmation(mariadb_server, my_db, my_dsn, capsys):
    mariadb_server.sql(my_db, "CREATE TABLE t (id int)")
    holder = pymysql.connect(unix_socket=mariadb_server.socket, user="root", database=my_db)
    try:
        with holder.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute("INSERT INTO t VALUES (1)")
            cur.execute("SELECT CONNECTION_ID()")
            tid = cur.fetchone()[0]
        assert main(["mysql", "long-tx", "--dsn", my_dsn, "--older-than", "0s", "-o", "json"]) == 0
        assert tid in [t["pid"] for t in json.loads(capsys.readouterr().out)]
        assert main(["mysql", "long-tx", "--dsn", my_dsn, "--terminate", str(tid)]) == 130  # no terminal, no --yes
        assert main(["mysql", "long-tx", "--dsn", my_dsn, "--terminate", str(tid), "--yes", "--readonly"]) == 5
        assert main(["mysql", "long-tx", "--dsn", my_dsn, "--terminate", "999999", "--yes"]) == 3
        assert main(["mysql", "long-tx", "--dsn", my_dsn, "--terminate", str(tid), "--yes"]) == 0
        with pytest.raises(pymysql.err.OperationalError), holder.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        holder.close()


def test_backup_restore_pitr_with_journal(mariadb_server, my_db, my_dsn, capsys, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    journal = tmp_path / "j.jsonl"
    assert main(["mysql", "backup", "--dsn", my_dsn, "--dir", str(tmp_path / "ev"), "-o", "json",
                 "--journal", str(journal)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] > 0 and len(info["sha256"]) == 64
    assert main(["mysql", "backups", "--dir", str(tmp_path / "ev"), "--verify"]) == 0
    assert "ok" in capsys.readouterr().out
    time.sleep(1.1)
    mariadb_server.sql(my_db, "INSERT INTO t VALUES (3)")
    time.sleep(1.1)
    until = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    time.sleep(1.1)
    mariadb_server.sql(my_db, "DELETE FROM t")
    assert main(["mysql", "restore", "--dsn", my_dsn, info["path"], "--confirm", "wrong"]) == 6
    assert main(["mysql", "restore", "--dsn", my_dsn, info["path"]]) == 130  # no terminal to ask on
    assert main(["mysql", "restore", "--dsn", my_dsn, info["path"], "--confirm", my_db, "--readonly"]) == 5
    assert mariadb_server.sql(my_db, "SELECT COUNT(*) FROM t")[0][0][0] == 0
    future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert main(["mysql", "pitr", "--dsn", my_dsn, info["path"], "--until", future, "--confirm", my_db,
                 "--confirm-time", future]) == 6
    assert "after the server's clock" in capsys.readouterr().err
    assert main(["mysql", "pitr", "--dsn", my_dsn, info["path"], "--until", until, "--confirm", my_db,
                 "--confirm-time", until, "--journal", str(journal)]) == 0
    assert mariadb_server.sql(my_db, "SELECT id FROM t ORDER BY id")[0] == ((1,), (2,), (3,))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    intents = [r for r in records if r["type"] == "intent"]
    assert [i["action"] for i in intents] == ["mysql.backup", "mysql.pitr"]
    assert intents[1]["until"] == until
    text = journal.read_text()
    assert PASSWORD not in text and info["sha256"] in text
    assert PASSWORD not in capsys.readouterr().err


def test_errors_are_one_line_without_password(my_db, my_dsn):
    port = free_port()
    for argv, code in (
        (["mysql", "migrations", "--dsn", f"mysql://u:{PASSWORD}@127.0.0.1:{port}/db"], 4),
        (["mysql", "migrations", "--dsn", my_dsn.replace(PASSWORD, "nope")], 2),
        (["mysql", "migrations", "--dsn", f"http://u:{PASSWORD}@h/db"], 2),
        (["mysql", "counts", "--dsn", my_dsn.rsplit("/", 1)[0] + "/no_such_db", "t"], 3),
    ):
        proc = subprocess.run([sys.executable, "-c", _RUN, *argv], capture_output=True, text=True, timeout=30)
        assert proc.returncode == code, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and PASSWORD not in proc.stderr
