"""``cockpit pg ...`` headless commands against a real postgres."""
from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

from cockpit.cli import main
from tests.fixtures.postgres import PASSWORD, free_port

pytestmark = pytest.mark.xdist_group("postgres")


def sql(dsn, *statements):
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def test_migrations_counts_and_compare(pg_db, capsys, tmp_path):
    sql(pg_db, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('abc123')", "CREATE TABLE users (id int)",
        "INSERT INTO users SELECT generate_series(1, 50)")
    assert main(["pg", "migrations", "--dsn", pg_db, "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["histories"][0]["framework"] == "alembic" and data["histories"][0]["migrations"][0]["name"] == "abc123"
    snap = tmp_path / "counts.json"
    assert main(["pg", "counts", "--dsn", pg_db, "users", "--save", str(snap)]) == 0
    assert "50" in capsys.readouterr().out
    sql(pg_db, "DELETE FROM users WHERE id > 45")
    assert main(["pg", "counts", "--dsn", pg_db, "--compare", str(snap)]) == 0
    out = capsys.readouterr().out
    assert "-5" in out and "CHANGED" in out
    assert main(["pg", "counts", "--dsn", pg_db, "nosuch"]) == 3


def test_integrity_exit_code_and_long_tx(pg_db, capsys):
    sql(pg_db, "CREATE TABLE p (id int PRIMARY KEY)", "CREATE TABLE c (pid int)", "INSERT INTO c VALUES (7)")
    check = "orphans=SELECT count(*) FROM c LEFT JOIN p ON p.id = c.pid WHERE p.id IS NULL"
    assert main(["pg", "integrity", "--dsn", pg_db, "--check", check]) == 7
    assert "orphans" in capsys.readouterr().out
    sql(pg_db, "INSERT INTO p VALUES (7)")
    assert main(["pg", "integrity", "--dsn", pg_db, "--check", check, "-o", "json"]) == 0
    assert all(r["ok"] for r in json.loads(capsys.readouterr().out))
    holder = psycopg.connect(pg_db, application_name="stuck")
    holder.execute("SELECT 1")
    try:
        assert main(["pg", "long-tx", "--dsn", pg_db, "--older-than", "0s", "-o", "json"]) == 0
        (tx,) = [t for t in json.loads(capsys.readouterr().out) if t["application"] == "stuck"]
        # no --yes, no terminal: refused; readonly: refused
        assert main(["pg", "long-tx", "--dsn", pg_db, "--terminate", str(tx["pid"])]) == 130
        assert main(["pg", "long-tx", "--dsn", pg_db, "--terminate", str(tx["pid"]), "--yes", "--readonly"]) == 5
        assert main(["pg", "long-tx", "--dsn", pg_db, "--terminate", str(tx["pid"]), "--yes"]) == 0
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
    finally:
        holder.close()


@pytest.mark.parametrize("product", ["pg", "mysql"])
def test_a_checks_file_that_cannot_be_used_is_one_line(product, capsys, tmp_path):
    """Read before any connection: a missing file, one that is neither JSON nor YAML, and one
    that is not a mapping each exit 2 with one line naming the file."""
    bad_yaml = tmp_path / "checks.yaml"
    bad_yaml.write_text("orphans: [SELECT 1\n  - x: {\n")
    listing = tmp_path / "list.yaml"
    listing.write_text("- SELECT 1\n")
    dsn = "postgresql://u@127.0.0.1:9/db" if product == "pg" else "mysql://u@127.0.0.1:9/db"
    for path, said in ((tmp_path / "nope.yaml", "No such file or directory"),
                       (bad_yaml, "neither JSON nor YAML (line"), (listing, "expected a mapping of check name to SQL")):
        assert main([product, "integrity", "--dsn", dsn, "--checks-file", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert str(path) in err and said in err and len(err.splitlines()) == 1, err


def test_backup_journal_and_restore_confirmation(pg_password_dsn, capsys, tmp_path):
    sql(pg_password_dsn, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1), (2)")
    journal = tmp_path / "j.jsonl"
    assert main(["pg", "backup", "--dsn", pg_password_dsn, "--dir", str(tmp_path / "ev"), "-o", "json",
                 "--journal", str(journal)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] > 0 and len(info["sha256"]) == 64
    text = journal.read_text()
    assert PASSWORD not in text and info["sha256"] in text
    assert main(["pg", "backups", "--dir", str(tmp_path / "ev"), "--verify"]) == 0
    assert "ok" in capsys.readouterr().out
    sql(pg_password_dsn, "DELETE FROM t")
    assert main(["pg", "restore", "--dsn", pg_password_dsn, info["path"], "--confirm", "wrong"]) == 6
    assert main(["pg", "restore", "--dsn", pg_password_dsn, info["path"]]) == 130  # no terminal to ask on
    dbname = pg_password_dsn.rsplit("/", 1)[1]
    assert main(["pg", "restore", "--dsn", pg_password_dsn, info["path"], "--confirm", dbname]) == 0
    with psycopg.connect(pg_password_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert PASSWORD not in capsys.readouterr().err


def test_errors_are_one_line_without_password():
    port = free_port()
    for argv, code in (
        (["pg", "migrations", "--dsn", f"postgresql://u:{PASSWORD}@127.0.0.1:{port}/db"], 4),
        (["pg", "migrations", "--dsn", "host=x port"], 2),
    ):
        proc = subprocess.run([sys.executable, "-m", "cockpit", *argv], capture_output=True, text=True, timeout=30)
        assert proc.returncode == code, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and PASSWORD not in proc.stderr
