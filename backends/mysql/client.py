"""The MySQL/MariaDB backend: one class, synchronous, every call bounded by timeouts.

``MySQLBackend(dsn, readonly=...)`` connects per operation (PyMySQL) with a connect timeout,
read/write timeouts, ``max_statement_time`` (MariaDB) or ``max_execution_time`` (MySQL) and
``innodb_lock_wait_timeout``. A readonly backend refuses every write (kill, restore, pitr)
before it connects, runs only read statements, and its sessions are ``TRANSACTION READ ONLY``
too. Reads run in read-only transactions whatever the mode. The DSN's password never appears
in what this module returns or raises (:attr:`display_dsn`, :meth:`scrub`), and the dump tools
get it through a 0600 defaults file, never their argv.

DSN: ``mysql://user:password@host:3306/db`` (also ``mariadb://``), ``?socket=/path`` for a
unix socket. Missing parts come from ``MYSQL_PWD``-free defaults: user ``$USER``, port 3306.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from backends.postgres.models import (
    IntegrityResult,
    LongTransaction,
    MigrationHistory,
)
from backends.sqldb import (  # shared with the other SQL backend
    AuthenticationError,
    ConfirmationMismatch,  # re-exported: importers of this module use it
    QueryError,
    SQLBackend,
    long_transactions_from_rows,
    scrub_secret,
)
from cockpit.errors import CockpitError, ConfigError, NotFoundError, UnreachableError
from cockpit.text import redact_url, sanitize


_READ_STATEMENT = re.compile(r"^\s*(?:\(\s*)*(select|with|show|check\s+table|values|table)\b", re.I)
_PASSWORD_KV = re.compile(r"(?i)(password\s*[=:]\s*)('[^']*'|\S+)")
_IDENT = re.compile(r"^[A-Za-z0-9_$\-]{1,64}$")


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def parse_dsn(dsn: str) -> dict[str, Any]:
    """The DSN's parts; ConfigError (password-free) if it is not a mysql:// URL."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise ConfigError("no MySQL DSN given", hint="pass --dsn or set it in the runbook")
    try:
        u = urlsplit(dsn.strip())
        port = u.port
    except ValueError as exc:
        raise ConfigError(f"bad MySQL DSN {_scrub(redact_url(dsn), '')}: {exc}") from None
    if u.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise ConfigError(f"bad MySQL DSN {_scrub(redact_url(dsn), '')}: expected mysql://",
                          hint="e.g. mysql://user:password@host:3306/dbname or mysql://user@/db?socket=/run/mysqld/mysqld.sock")
    q = {k: v[-1] for k, v in parse_qs(u.query).items()}
    return {
        "host": unquote(u.hostname or "") or "localhost",
        "port": port or 3306,
        "user": unquote(u.username or "") or os.environ.get("USER", "root"),
        "password": unquote(u.password or ""),
        "database": unquote(u.path.lstrip("/")),
        "socket": q.get("socket") or q.get("unix_socket") or "",
    }


def _scrub(text: str, password: str) -> str:
    return scrub_secret(text, password, _PASSWORD_KV)


class MySQLBackend(SQLBackend):
    """Synchronous MySQL/MariaDB adapter. Thread-safe: every call opens its own connection.

    ``MySQLBackend(dsn, *, readonly=False, connect_timeout=5.0, statement_timeout=30.0,
    lock_timeout=5.0)`` (the lock timeout in whole seconds, at least 1); identity, readonly
    refusal and the cancel watcher from :class:`SQLBackend`."""

    product, read_words, watcher_name = "MySQL", "read statements", "mysql-cancel-watch"
    read_statement, password_kv, dump_module = _READ_STATEMENT, _PASSWORD_KV, "backends.mysql.dump"

    def __init__(self, dsn: str, **kw: Any) -> None:
        super().__init__(dsn, **kw)
        self.lock_timeout = max(1, int(round(self.lock_timeout)))
        self._flavor: str | None = None

    def _parse(self, dsn: str) -> dict[str, Any]:
        return parse_dsn(dsn)

    # ------------------------------------------------------------------ identity

    @property
    def database(self) -> str:
        return self._params["database"]

    @property
    def target(self) -> str:
        where = self._params["socket"] or f"{self._params['host']}:{self._params['port']}"
        return sanitize(f"{where}/{self.database}")

    # ------------------------------------------------------------------ plumbing

    def _need_database(self) -> str:
        if not self.database:
            raise ConfigError(f"the DSN {self.display_dsn} names no database", hint="mysql://user@host:3306/DBNAME")
        return self.database

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A PyMySQL connection (autocommit, closed on exit). Errors become CockpitErrors."""
        import pymysql

        p = self._params
        kw: dict[str, Any] = dict(user=p["user"], password=p["password"], database=p["database"] or None,
                                  connect_timeout=self.connect_timeout, read_timeout=self.connect_timeout,
                                  write_timeout=self.statement_timeout + 5, autocommit=True, charset="utf8mb4",
                                  program_name="cockpit")
        if p["socket"]:
            kw["unix_socket"] = p["socket"]
        else:
            kw["host"], kw["port"] = p["host"], int(p["port"])
        try:
            conn = pymysql.connect(**kw)
        except pymysql.Error as exc:
            raise self._connect_error(exc) from None
        except (OSError, ValueError) as exc:
            raise UnreachableError(f"cannot reach MySQL at {self.target}: {self.scrub(str(exc))}") from None
        # The handshake was bounded by the connect timeout (a server that accepts and never
        # answers); statements by the statement timeout (PyMySQL re-reads this before each read).
        conn._read_timeout = self.statement_timeout + 5
        try:
            self._session_setup(conn)
            yield conn
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code in (1969, 3024, 1317):  # statement time exceeded / interrupted
                raise QueryError(f"statement stopped on {self.target}: {self.scrub(str(exc.args[-1]))}",
                                 hint="raise the statement timeout or narrow the query") from None
            if code in (2006, 2013, 2003):
                raise UnreachableError(f"lost the connection to MySQL at {self.target}: {self.scrub(str(exc.args[-1]))}") from None
            raise QueryError(f"{self.target}: {self.scrub(str(exc.args[-1]))}") from None
        except pymysql.Error as exc:
            raise QueryError(f"{self.target}: {self.scrub(str(exc.args[-1] if exc.args else exc))}") from None
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def _session_setup(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            version = str(cur.fetchone()[0])
            self._flavor = "mariadb" if "mariadb" in version.lower() else "mysql"
            secs = max(1, int(self.statement_timeout))
            if self._flavor == "mariadb":
                cur.execute(f"SET SESSION max_statement_time = {secs}")
            else:
                cur.execute(f"SET SESSION max_execution_time = {secs * 1000}")
            cur.execute(f"SET SESSION innodb_lock_wait_timeout = {self.lock_timeout}")
            if self.readonly:
                cur.execute("SET SESSION TRANSACTION READ ONLY")

    def _connect_error(self, exc: Exception) -> CockpitError:
        code = exc.args[0] if getattr(exc, "args", None) else 0
        msg = self.scrub(str(exc.args[-1]) if getattr(exc, "args", None) else str(exc))
        if code in (1045, 1698, 1044):
            return AuthenticationError(
                f"MySQL at {self.target} rejected the credentials of user {sanitize(self._params['user'])!r} "
                f"(password from the DSN{'' if self._password else ': none given'}): {msg}",
                hint="check the user and password in the DSN")
        if code == 1049:
            return NotFoundError(f"MySQL at {self.target}: {msg}", hint="check the database name in the DSN")
        return UnreachableError(f"cannot reach MySQL at {self.target}: {msg}",
                                hint=f"check host, port and network; the connect timeout is {self.connect_timeout}s")

    def _select(self, conn: Any, statement: str, params: Any = None) -> list[tuple]:
        self._check_read(statement)
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return list(cur.fetchall())

    @contextlib.contextmanager
    def _read_tx(self, conn: Any) -> Iterator[None]:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION READ ONLY")
        try:
            yield
        finally:
            with contextlib.suppress(Exception), conn.cursor() as cur:
                cur.execute("ROLLBACK")

    def _interrupter(self, conn: Any) -> Callable[[threading.Event], None]:
        """KILL QUERY ``conn``'s statement from a second connection, unless it has finished
        meanwhile (see :meth:`_cancel_on`)."""
        thread_id = conn.thread_id()

        def interrupt(finished: threading.Event) -> None:
            if not finished.is_set():
                with self.connect() as other, other.cursor() as cur:
                    cur.execute(f"KILL QUERY {int(thread_id)}")

        return interrupt

    # ------------------------------------------------------------------ reads

    def ping(self) -> str:
        with self.connect() as conn:
            return str(self._select(conn, "SELECT VERSION()")[0][0])

    def migrations(self, limit: int = 20) -> list[MigrationHistory]:
        from backends.mysql.migrations import read_histories

        self._need_database()
        with self.connect() as conn, self._read_tx(conn):
            return read_histories(self, conn, limit=limit)

    def _resolve_table(self, conn: Any, table: str) -> tuple[str, str] | None:
        schema, _, name = table.rpartition(".")
        schema = schema or self.database
        rows = self._select(conn, "SELECT table_schema, table_name FROM information_schema.tables "
                                  "WHERE table_schema = %s AND table_name = %s", (schema, name))
        return (rows[0][0], rows[0][1]) if rows else None

    def _count_statement(self, schema: str, name: str) -> str:
        return f"SELECT COUNT(*) FROM {quote_ident(schema)}.{quote_ident(name)}"

    def _missing_tables_note(self, conn: Any) -> str:
        """The database's tables (the first 20), so the right name is at hand."""
        if not self.database:
            return ""
        have = [str(r[0]) for r in self._select(
            conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                  "ORDER BY table_name LIMIT 21", (self.database,))]
        listing = ", ".join(sanitize(h) for h in have[:20]) + (", …" if len(have) > 20 else "")
        return f" (tables in {sanitize(self.database)}: {listing or 'none'})"

    def integrity(self, checks: Mapping[str, str] | None = None, *, builtin: bool = True,
                  tables: Iterable[str] | None = None, cancel: threading.Event | None = None) -> list[IntegrityResult]:
        """``CHECK TABLE`` of the database's tables (or ``tables``), then configured checks (a
        query returning the number of violating rows). A failing configured check is reported
        with its error; the others still run."""
        results: list[IntegrityResult] = []
        with self.connect() as conn, self._cancel_on(conn, cancel):
            if builtin:
                db = self._need_database()
                names = list(tables) if tables else [r[0] for r in self._select(
                    conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                          "AND table_type = 'BASE TABLE' ORDER BY table_name", (db,))]
                bad: list[str] = []
                for start in range(0, len(names), 50):
                    chunk = names[start:start + 50]
                    if not chunk:
                        continue
                    stmt = "CHECK TABLE " + ", ".join(f"{quote_ident(db)}.{quote_ident(n)}" for n in chunk)
                    for tbl, _op, mtype, text in self._select(conn, stmt):
                        if str(mtype).lower() in ("error", "warning") or (
                                str(mtype).lower() == "status" and str(text).upper() not in ("OK", "TABLE IS ALREADY UP TO DATE")):
                            bad.append(sanitize(f"{tbl}: {mtype} {text}", max_len=300))
                results.append(IntegrityResult(f"CHECK TABLE ({len(names)} tables)", len(bad), builtin=True,
                                               detail=tuple(bad)))
            for name, query in (checks or {}).items():
                results.append(self._configured_check(conn, name, query))
        return results

    def _driver_error(self) -> type[Exception]:
        import pymysql

        return pymysql.Error

    def _check_error(self, exc: Exception) -> str:
        import pymysql

        if isinstance(exc, pymysql.err.OperationalError):
            if exc.args and exc.args[0] in (2006, 2013):
                raise exc
            return self.scrub(str(exc.args[-1]))
        return self.scrub(str(exc.args[-1] if exc.args else exc))

    def long_transactions(self, older_than: float = 0.0) -> list[LongTransaction]:
        """Open InnoDB transactions older than ``older_than`` seconds (not ours), oldest first;
        ``pid`` is the connection (processlist) id that ``KILL`` takes."""
        with self.connect() as conn:
            rows = self._select(conn, LONG_TX_QUERY, (float(older_than),))
        return long_transactions_from_rows(rows)

    # ------------------------------------------------------------------ writes

    def kill(self, thread_id: int, *, connection: bool = False) -> bool:
        """``KILL QUERY id`` (cancel its statement) or ``KILL CONNECTION id`` (ends its
        transaction, rolled back). True if the server accepted it; False if no such thread."""
        verb = "KILL CONNECTION" if connection else "KILL QUERY"
        self._refuse_if_readonly(f"{verb} {int(thread_id)}")
        import pymysql

        with self.connect() as conn:
            try:
                with conn.cursor() as cur:
                    cur.execute(f"{verb} {int(thread_id)}")
                return True
            except pymysql.err.InternalError as exc:
                if exc.args and exc.args[0] == 1094:  # unknown thread id
                    return False
                raise
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == 1094:
                    return False
                raise

    # ------------------------------------------------------------------ dumps

    def backup(self, directory: str | Path, *, cancel: threading.Event | None = None, timeout: float = 3600.0,
               label: str | None = None) -> Iterator[Any]:
        """``mariadb-dump --single-transaction`` into ``directory`` (streamed through sha256, a
        temp name renamed when complete); progress items, the last ``done`` with the BackupInfo.
        Only reads, so a readonly backend may take one."""
        from backends.mysql.dump import run_backup

        self._need_database()
        return run_backup(self, Path(directory), cancel=cancel, timeout=timeout, label=label)

    def restore(self, path: str | Path, *, confirm: str, cancel: threading.Event | None = None,
                timeout: float = 3600.0) -> Iterator[Any]:
        """Guarded restore of a backup into the DSN's database: ``confirm`` must be the database
        name, the checksum must match. Refused readonly before anything is sent."""
        self._refuse_if_readonly(f"restore into {self.database}")
        self._need_database()
        self._confirm_database(confirm, "restore")
        from backends.mysql.dump import run_restore

        return run_restore(self, Path(path), cancel=cancel, timeout=timeout)

    def binlog_range(self) -> dict[str, Any]:
        """The binary logs the server keeps and the server's clock (``now``), for PITR."""
        from backends.mysql.pitr import binlog_range

        return binlog_range(self)

    def pitr(self, backup: str | Path, until: Any, *, confirm_database: str, confirm_time: str,
             cancel: threading.Event | None = None, timeout: float = 3600.0) -> Iterator[Any]:
        """Point-in-time recovery: restore ``backup`` then replay the binary log from the
        backup's position up to ``until`` (``mysqlbinlog --stop-datetime … | mysql``). Guarded:
        ``confirm_database`` must be the database name and ``confirm_time`` the time as given."""
        self._refuse_if_readonly(f"point-in-time recovery of {self.database}")
        self._need_database()
        from backends.mysql.pitr import check_pitr, run_pitr

        plan = check_pitr(self, Path(backup), until, confirm_database=confirm_database, confirm_time=confirm_time)
        return run_pitr(self, plan, cancel=cancel, timeout=timeout)

    # ------------------------------------------------------------------ for the tools

    def tool_args(self, directory: Path) -> tuple[list[str], dict[str, str]]:
        """``--defaults-extra-file=F`` (a 0600 file in ``directory`` holding user and password)
        plus connection options, and an environment without MYSQL_PWD. Never the password in argv."""
        p = self._params
        cnf = directory / "client.cnf"
        fd = os.open(cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            def q(v: str) -> str:
                return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            fh.write("[client]\n")
            fh.write(f"user={q(p['user'])}\n")
            if p["password"]:
                fh.write(f"password={q(p['password'])}\n")
            if p["socket"]:
                fh.write(f"socket={q(p['socket'])}\n")
            else:
                fh.write(f"host={q(p['host'])}\nport={int(p['port'])}\nprotocol=TCP\n")
        env = dict(os.environ)
        env.pop("MYSQL_PWD", None)
        env["TZ"] = "UTC"
        return [f"--defaults-extra-file={cnf}"], env


LONG_TX_QUERY = """
SELECT p.ID, p.USER, p.DB, p.HOST, t.trx_state, t.trx_started,
       TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6 AS age,
       COALESCE(t.trx_query, p.INFO, ''), COALESCE(p.STATE, '')
FROM information_schema.innodb_trx t
JOIN information_schema.processlist p ON p.ID = t.trx_mysql_thread_id
WHERE p.ID <> CONNECTION_ID()
  AND TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6 >= %s
ORDER BY t.trx_started
"""
