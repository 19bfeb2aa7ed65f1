"""Point-in-time recovery from the binary log.

Restore a backup taken by :mod:`backends.mysql.dump` (it records the binary-log file and
position it is consistent with), then replay the binary log from that position up to a time:
``mysqlbinlog --read-from-remote-server --start-position=P --stop-datetime=T --database=DB``
``| mysql``. The extract is written to a private temp file *before* the restore touches the
database (so the restore's own writes are never read back, and a binary log that cannot be
read leaves the database as it was), then applied.

Every check runs before anything is written: the guard (database name and the time, both as
typed), the backup's checksum and recorded position, the time inside the range the binary logs
cover (after the backup, not after the server's clock), and the backup's binary log still
kept by the server.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backends.mysql.dump import RestoreError, _Proc, apply_sql, checked, failure, find_tool, run_restore
from backends.postgres.models import RestoreProgress
from cockpit.errors import ConfigError, ConflictError, NotFoundError
from cockpit.text import sanitize


class OutOfRange(ConflictError):
    title = "Time outside the binary logs"


def parse_time(value: Any) -> datetime:
    """A UTC datetime from a datetime (naive = UTC) or ``YYYY-MM-DD HH:MM:SS[Z|±HH:MM]``."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value or "").strip().replace("T", " ")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"bad time {sanitize(str(value))!r}",
                              hint="e.g. '2026-12-02 12:34:56' (UTC) or '2026-12-02T12:34:56+01:00'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).replace(microsecond=0)


def fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def binlog_range(backend: Any) -> dict[str, Any]:
    with backend.connect() as conn:
        on = backend._select(conn, "SHOW VARIABLES LIKE 'log_bin'")
        if not on or str(on[0][1]).upper() != "ON":
            raise ConfigError(f"the binary log is off on {backend.target}: no point-in-time recovery",
                              hint="start the server with log_bin")
        logs = [(str(r[0]), int(r[1])) for r in backend._select(conn, "SHOW BINARY LOGS")]
        now = backend._select(conn, "SELECT UTC_TIMESTAMP()")[0][0]
    return {"logs": logs, "now": now.replace(tzinfo=timezone.utc)}


def check_pitr(backend: Any, backup: Path, until: Any, *, confirm_database: str, confirm_time: str) -> dict[str, Any]:
    """Every check, nothing written: the plan (time, backup, binlog files and position) or a CockpitError."""
    when = parse_time(until)
    backend._confirm_database(confirm_database, "point-in-time recovery")
    try:
        typed = parse_time(confirm_time)
    except ConfigError:
        typed = None
    if typed != when:
        from backends.mysql.client import ConfirmationMismatch

        raise ConfirmationMismatch(
            f"point-in-time recovery refused: you typed the time {sanitize(confirm_time or '')!r}, "
            f"the recovery is up to {fmt(when)} UTC", hint="type the time exactly to confirm")
    info = checked(backup)
    if info.database and info.database != backend.database:
        raise ConfigError(f"backup {sanitize(backup.name)} is of database {info.database!r}, not {backend.database!r}")
    file, pos = info.extra.get("binlog_file"), info.extra.get("binlog_pos")
    if not file or pos is None:
        raise ConfigError(f"backup {sanitize(backup.name)} records no binary-log position",
                          hint="take the backup with the binary log on (cockpit mysql backup)")
    rng = binlog_range(backend)
    names = [n for n, _ in rng["logs"]]
    lower = info.created.replace(microsecond=0) if info.created else None
    if file not in names:
        raise NotFoundError(f"the binary log {sanitize(file)} the backup starts from is no longer on the server "
                            f"(kept: {', '.join(names) or 'none'}); cannot replay from it")
    if lower is not None and when < lower:
        raise OutOfRange(f"{fmt(when)} UTC is before the backup ({fmt(lower)} UTC): the binary logs replay forward "
                         f"from it, covering {fmt(lower)} .. {fmt(rng['now'])} UTC", hint="choose an older backup")
    if when > rng["now"]:
        raise OutOfRange(f"{fmt(when)} UTC is after the server's clock ({fmt(rng['now'])} UTC): the binary logs "
                         f"cover {fmt(lower) if lower else '?'} .. {fmt(rng['now'])} UTC")
    return {"until": when, "backup": info, "binlog_file": file, "binlog_pos": int(pos),
            "files": names[names.index(file):]}


def run_pitr(backend: Any, plan: dict[str, Any], *, cancel: threading.Event | None,
             timeout: float) -> Iterator[RestoreProgress]:
    """Carry out a plan from :func:`check_pitr` (extract, restore, replay)."""
    backup = plan["backup"].path
    when, files, file, pos = plan["until"], plan["files"], plan["binlog_file"], plan["binlog_pos"]
    started = time.monotonic()
    private = Path(tempfile.mkdtemp(prefix="cockpit-mysql-pitr-"))
    try:
        extract = private / "binlog.sql"
        tool = find_tool("mariadb-binlog", "mysqlbinlog")
        conn_args, env = backend.tool_args(private)
        cmd = [tool, *conn_args, "--read-from-remote-server", f"--database={backend.database}",
               f"--start-position={int(pos)}", f"--stop-datetime={fmt(when)}", "--", *files]
        yield RestoreProgress(f"reading the binary log {file}:{pos} .. {fmt(when)} UTC ({len(files)} file(s))",
                              0.0)
        with open(extract, "wb") as out:
            run = _Proc(cmd, env, stdout=out, cancel=cancel, timeout=timeout, what=Path(tool).name)
            rc = run.finish(timeout=timeout)
        if rc != 0:
            raise failure(backend, Path(tool).name, run.tail, RestoreError)
        size = extract.stat().st_size
        yield RestoreProgress(f"binary log extract: {size} bytes", time.monotonic() - started)
        for step in run_restore(backend, backup, cancel=cancel, timeout=timeout):
            yield RestoreProgress(step.message, time.monotonic() - started)  # not done: the replay follows
        yield RestoreProgress(f"replaying the binary log up to {fmt(when)} UTC", time.monotonic() - started)
        apply_sql(backend, extract, cancel=cancel, timeout=timeout, what="binary-log replay", binary=True)
        yield RestoreProgress(f"recovered {backend.database} to {fmt(when)} UTC", time.monotonic() - started,
                              done=True)
    finally:
        shutil.rmtree(private, ignore_errors=True)
