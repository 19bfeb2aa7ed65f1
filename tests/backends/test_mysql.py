"""The MySQL backend against a real MariaDB (tests/fixtures/mariadb.py): migrations, counts,
CHECK TABLE, long transactions and kill, backups, guarded restore, point-in-time recovery,
readonly and password handling."""
from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pymysql
import pytest

from backends.mysql.client import AuthenticationError, ConfirmationMismatch, MySQLBackend
from backends.mysql.dump import BackupError, ChecksumMismatch
from backends.mysql.pitr import OutOfRange, fmt
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from tests.fixtures.mariadb import PASSWORD
from tests.fixtures.procs import free_port

pytestmark = pytest.mark.xdist_group("mariadb")


@pytest.fixture
def backend(my_dsn):
    return MySQLBackend(my_dsn)


def rows(server, db, query):
    return server.sql(db, query)[0]


def test_migration_history_of_every_framework(mariadb_server, my_db, backend):
    mariadb_server.sql(
        my_db,
        "CREATE TABLE django_migrations (id int AUTO_INCREMENT PRIMARY KEY, app varchar(255), name varchar(255), applied datetime(6))",
        "INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0041_a', '2026-01-01 10:00:00'), ('shop', '0042_b', '2026-01-02 10:00:00')",
        "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty tinyint(1))",  # golang-migrate
        "INSERT INTO schema_migrations VALUES (20260101120000, 1)",
        "CREATE TABLE migrations (id int AUTO_INCREMENT PRIMARY KEY, migration varchar(255), batch int)",  # Laravel
        "INSERT INTO migrations (migration, batch) VALUES ('2014_10_12_create_users_table', 1), ('2026_01_02_add_x', 2)",
        "CREATE TABLE knex_migrations (id int AUTO_INCREMENT PRIMARY KEY, name varchar(255), batch int, migration_time timestamp)",
        "INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('20260101_init.js', 1, '2026-01-01 00:00:00')",
        "CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200), "
        "type varchar(20), installed_on timestamp, success tinyint(1))",
        "INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', '2026-01-01 00:00:00', 1), (2, '2', 'bad', 'SQL', '2026-01-03 00:00:00', 0)",
        "CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, migration_name varchar(255), started_at datetime(3), "
        "finished_at datetime(3), rolled_back_at datetime(3))",
        "INSERT INTO _prisma_migrations VALUES ('a', '20260101_init', '2026-01-01 00:00:00', '2026-01-01 00:00:01', NULL), "
        "('b', '20260102_x\\x1b[31m', '2026-01-02 00:00:00', NULL, NULL)",
    )
    by = {h.framework: h for h in backend.migrations()}
    assert set(by) == {"django", "golang-migrate", "laravel", "knex", "flyway", "prisma"}
    assert [m.name for m in by["django"].migrations] == ["shop.0042_b", "shop.0041_a"]
    assert by["golang-migrate"].migrations[0].detail == "dirty"
    assert by["golang-migrate"].migrations[0].applied_at == datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert by["laravel"].migrations[0].name == "2026_01_02_add_x" and by["laravel"].migrations[0].detail == "batch 2"
    assert by["knex"].migrations[0].detail == "batch 1"
    assert by["flyway"].migrations[0].detail.startswith("FAILED") and by["flyway"].total == 2
    assert by["prisma"].migrations[0].detail == "unfinished" and "\x1b" not in by["prisma"].migrations[0].name


def test_rails_table_and_no_tables(mariadb_server, my_db, backend):
    assert backend.migrations() == []
    mariadb_server.sql(my_db, "CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY)",
                       "INSERT INTO schema_migrations VALUES ('20260105093000'), ('20260101000000')")
    (h,) = backend.migrations()
    assert h.framework == "rails" and h.migrations[0].name == "20260105093000"


def test_counts_and_integrity(mariadb_server, my_db, backend):
    mariadb_server.sql(my_db, "CREATE TABLE users (id int PRIMARY KEY)", "CREATE TABLE orders (id int, user_id int) ENGINE=InnoDB",
                       "INSERT INTO users VALUES (1), (2)", "INSERT INTO orders VALUES (1, 1), (2, 3)")
    assert backend.counts(["users", f"{my_db}.orders"]) == {"users": 2, f"{my_db}.orders": 2}
    with pytest.raises(NotFoundError, match="nosuch") as exc:
        backend.counts(["users", "nosuch"])
    assert "orders, users" in str(exc.value) and exc.value.exit_code == 3  # what exists
    diffs = backend.compare_counts({"users": 3}, {"users": 2})
    assert diffs[0].delta == -1 and diffs[0].changed
    results = backend.integrity({
        "orphaned orders": "SELECT COUNT(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL",
        "broken": "SELECT nosuch FROM users",
        "writes": "DELETE FROM users",
    })
    by = {r.name: r for r in results}
    assert by["CHECK TABLE (2 tables)"].ok
    assert by["orphaned orders"].violations == 1 and not by["orphaned orders"].ok
    assert by["broken"].error and "nosuch" in by["broken"].error
    assert by["writes"].error  # a read-only transaction refuses it on the server
    assert rows(mariadb_server, my_db, "SELECT COUNT(*) FROM users")[0][0] == 2


def test_readonly_refuses_before_connecting_and_at_the_server(mariadb_server, my_db, my_dsn, tmp_path):
    dead = f"mysql://cockpit_pw:{PASSWORD}@127.0.0.1:{free_port()}/{my_db}"
    ro_dead = MySQLBackend(dead, readonly=True)
    for action in (lambda: ro_dead.kill(1), lambda: ro_dead.restore(tmp_path / "x.sql", confirm=my_db),
                   lambda: ro_dead.pitr(tmp_path / "x.sql", "2026-01-01 00:00:00", confirm_database=my_db,
                                        confirm_time="2026-01-01 00:00:00")):
        with pytest.raises(ReadonlyError, match="nothing was sent"):
            action()
    mariadb_server.sql(my_db, "CREATE TABLE t (id int)")
    ro = MySQLBackend(my_dsn, readonly=True)
    with ro.connect() as conn:
        with pytest.raises(ReadonlyError):
            ro._select(conn, "INSERT INTO t VALUES (1)")
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError):  # the session itself is read-only
            cur.execute("START TRANSACTION")
            cur.execute("INSERT INTO t VALUES (1)")
    assert rows(mariadb_server, my_db, "SELECT COUNT(*) FROM t")[0][0] == 0
    assert ro.counts(["t"]) == {"t": 0}


def test_password_never_shown(mariadb_server, my_db, my_dsn, tmp_path):
    b = MySQLBackend(my_dsn)
    assert PASSWORD not in b.display_dsn and "***" in b.display_dsn
    wrong = MySQLBackend(my_dsn.replace(PASSWORD, "wrong-" + PASSWORD))
    with pytest.raises(AuthenticationError) as exc:
        wrong.ping()
    assert PASSWORD not in str(exc.value) and "cockpit_pw" in str(exc.value) and exc.value.exit_code == 2
    args, env = b.tool_args(tmp_path)
    assert all(PASSWORD not in a for a in args) and "MYSQL_PWD" not in env
    cnf = Path(args[0].split("=", 1)[1])
    assert stat.S_IMODE(cnf.stat().st_mode) == 0o600 and PASSWORD in cnf.read_text()
    with pytest.raises(ConfigError, match="mysql://"):
        MySQLBackend(f"postgresql://u:{PASSWORD}@h/db")
    try:
        MySQLBackend(f"postgresql://u:{PASSWORD}@h/db")
    except ConfigError as e:
        assert PASSWORD not in str(e)


def test_unreachable_server_is_one_clear_error():
    b = MySQLBackend(f"mysql://u:{PASSWORD}@127.0.0.1:{free_port()}/db", connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(UnreachableError) as exc:
        b.ping()
    assert time.monotonic() - started < 5
    assert "127.0.0.1" in str(exc.value) and PASSWORD not in str(exc.value) and "\n" not in str(exc.value)


def test_long_transactions_listed_and_killed(mariadb_server, my_db, backend):
    mariadb_server.sql(my_db, "CREATE TABLE t (id int PRIMARY KEY)")
    other = pymysql.connect(unix_socket=mariadb_server.socket, user="root", database=my_db)
    try:
        with other.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute("INSERT INTO t VALUES (7)")
            cur.execute("SELECT CONNECTION_ID()")
            tid = cur.fetchone()[0]
        time.sleep(1.1)
        txs = backend.long_transactions(older_than=1.0)
        (t,) = [t for t in txs if t.pid == tid]
        assert t.age_seconds >= 1.0 and t.user == "root"
        assert not [x for x in backend.long_transactions(older_than=3600) if x.pid == tid]
        with pytest.raises(ReadonlyError):
            MySQLBackend(backend.dsn, readonly=True).kill(tid, connection=True)
        assert backend.kill(tid, connection=True) is True
        deadline = time.monotonic() + 5
        while any(x.pid == tid for x in backend.long_transactions()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(x.pid == tid for x in backend.long_transactions())
        assert rows(mariadb_server, my_db, "SELECT COUNT(*) FROM t")[0][0] == 0  # rolled back
        assert backend.kill(999999) is False
    finally:
        other.close()


def test_backup_checksum_position_and_no_secret(mariadb_server, my_db, backend, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE t (id int PRIMARY KEY, v text)",
                       "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    steps = list(backend.backup(tmp_path, label="pre rollback"))
    info = steps[-1].backup
    assert steps[-1].done and info.path.exists() and info.path.parent == tmp_path
    import hashlib

    assert hashlib.sha256(info.path.read_bytes()).hexdigest() == info.sha256 == \
        (tmp_path / (info.path.name + ".sha256")).read_text().split()[0]
    meta = json.loads((tmp_path / (info.path.name + ".json")).read_text())
    assert meta["binlog_file"].startswith("binlog.") and meta["binlog_pos"] > 0
    assert "INSERT INTO `t`" in info.path.read_text()
    for f in tmp_path.iterdir():
        assert PASSWORD not in f.read_text(errors="replace")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [info.path.name, info.path.name + ".sha256", info.path.name + ".json"])
    assert MySQLBackend.verify_backup(info.path).verified is True
    assert [b.path for b in MySQLBackend.list_backups(tmp_path, verify=True)] == [info.path]


def test_dump_failing_halfway_leaves_no_file(mariadb_server, my_db, backend, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)",
                       "CREATE TABLE gone (id int)", "CREATE VIEW v AS SELECT id FROM gone", "DROP TABLE gone")
    with pytest.raises(BackupError) as exc:
        backend.backup_now(tmp_path)
    assert "v" in str(exc.value) and PASSWORD not in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_backup_cancelled_leaves_no_file(mariadb_server, my_db, backend, tmp_path):
    from cockpit.errors import Aborted

    mariadb_server.sql(my_db, "CREATE TABLE t (id int)")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Aborted):
        backend.backup_now(tmp_path, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_guarded_restore(mariadb_server, my_db, backend, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2), (3)")
    info = backend.backup_now(tmp_path)
    mariadb_server.sql(my_db, "DELETE FROM t WHERE id > 1")
    with pytest.raises(ConfirmationMismatch):
        backend.restore(info.path, confirm="shop")
    assert rows(mariadb_server, my_db, "SELECT COUNT(*) FROM t")[0][0] == 1
    list(backend.restore(info.path, confirm=my_db))
    assert rows(mariadb_server, my_db, "SELECT COUNT(*) FROM t")[0][0] == 3
    info.path.write_bytes(info.path.read_bytes() + b"-- tampered\n")
    with pytest.raises(ChecksumMismatch):
        list(backend.restore(info.path, confirm=my_db))
    with pytest.raises(NotFoundError):
        list(backend.restore(tmp_path / "missing.sql", confirm=my_db))


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def test_point_in_time_recovery(mariadb_server, my_db, backend, tmp_path):
    mariadb_server.sql(my_db, "CREATE TABLE orders (id int PRIMARY KEY, v text)", "INSERT INTO orders VALUES (1, 'a')")
    info = backend.backup_now(tmp_path)
    time.sleep(1.1)
    mariadb_server.sql(my_db, "INSERT INTO orders VALUES (2, 'b'), (3, 'c')", "UPDATE orders SET v = 'A' WHERE id = 1")
    time.sleep(1.1)
    until = fmt(_utc_now())
    time.sleep(1.1)
    mariadb_server.sql(my_db, "DELETE FROM orders WHERE id <= 2")  # the bad change
    before = rows(mariadb_server, my_db, "SELECT id, v FROM orders ORDER BY id")
    # guards and range: refused before anything is written
    with pytest.raises(ConfirmationMismatch, match="database"):
        backend.pitr(info.path, until, confirm_database="other", confirm_time=until)
    with pytest.raises(ConfirmationMismatch, match="time"):
        backend.pitr(info.path, until, confirm_database=my_db, confirm_time="2026-01-01 00:00:00")
    early = fmt(info.created - timedelta(minutes=5))
    with pytest.raises(OutOfRange, match="before the backup") as exc:
        backend.pitr(info.path, early, confirm_database=my_db, confirm_time=early)
    assert exc.value.exit_code == 6
    late = fmt(_utc_now() + timedelta(hours=1))
    with pytest.raises(OutOfRange, match="after the server's clock"):
        backend.pitr(info.path, late, confirm_database=my_db, confirm_time=late)
    with pytest.raises(ConfigError, match="bad time"):
        backend.pitr(info.path, "yesterday-ish", confirm_database=my_db, confirm_time="x")
    assert rows(mariadb_server, my_db, "SELECT id, v FROM orders ORDER BY id") == before
    progress = list(backend.pitr(info.path, until, confirm_database=my_db, confirm_time=until.replace(" ", "T") + "Z"))
    assert progress[-1].done and sum(p.done for p in progress) == 1
    assert rows(mariadb_server, my_db, "SELECT id, v FROM orders ORDER BY id") == ((1, "A"), (2, "b"), (3, "c"))
    # running it again lands on the same state (resume after a crash re-runs it)
    list(backend.pitr(info.path, until, confirm_database=my_db, confirm_time=until))
    assert rows(mariadb_server, my_db, "SELECT id, v FROM orders ORDER BY id") == ((1, "A"), (2, "b"), (3, "c"))
    assert not [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("cockpit-mysql-*") if p.is_dir()
                and (p / "client.cnf").exists()]


def test_a_server_that_does_not_answer_times_out_with_one_line():
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never says a word
        port = listener.getsockname()[1]
        b = MySQLBackend(f"mysql://u:{PASSWORD}@127.0.0.1:{port}/db", connect_timeout=1)
        started = time.monotonic()
        with pytest.raises(UnreachableError) as exc:
            b.ping()
        assert time.monotonic() - started < 10
        assert PASSWORD not in str(exc.value) and "\n" not in str(exc.value) and exc.value.exit_code == 4
