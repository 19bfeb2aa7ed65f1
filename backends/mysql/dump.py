"""mariadb-dump / mysqldump backups (single transaction, streamed through sha256, written to a
temp name and renamed when complete, so a dump that fails halfway leaves no file), their list
and check, and the guarded restore through the ``mariadb``/``mysql`` client.

The password reaches the tools through a 0600 ``--defaults-extra-file`` in a private temp
directory removed afterwards — never their argv (which ``ps`` shows) nor their environment.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backends import sqldb
from backends.postgres.dump import ChecksumMismatch, _kill, _recorded, sha256_file
from backends.postgres.dump import verify_backup as _verify
from backends.postgres.models import BackupInfo, BackupProgress, RestoreProgress
from cockpit.errors import Aborted, CockpitError, ConfigError, UnreachableError
from cockpit.text import sanitize

SUFFIX = ".sql"
CHUNK = 1 << 20
_BINLOG_POS = re.compile(rb"CHANGE MASTER TO MASTER_LOG_FILE='([^']+)',\s*MASTER_LOG_POS=(\d+)")

__all__ = ["BackupError", "ChecksumMismatch", "RestoreError", "find_tool", "list_backups", "run_backup",
           "run_restore", "verify_backup"]


class BackupError(CockpitError):
    title = "Backup failed"


class RestoreError(CockpitError):
    title = "Restore failed"


def find_tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ConfigError(f"{names[0]} not found", hint="install the MariaDB client (apt-get install mariadb-client)")


class _Proc:
    """A tool run in its own session: stderr collected by a thread (tail kept), killed on
    cancel or timeout by a watcher thread (so a blocking read returns)."""

    def __init__(self, cmd: list[str], env: dict[str, str], *, stdin: Any = subprocess.DEVNULL,
                 stdout: Any = subprocess.DEVNULL, cancel: threading.Event | None, timeout: float, what: str) -> None:
        self.what, self.tail, self.reason = what, [], ""
        self.proc = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self._done = threading.Event()
        self._err = threading.Thread(target=self._pump, daemon=True, name=f"{what}-stderr")
        self._err.start()
        self._watch = threading.Thread(target=self._watcher, args=(cancel, timeout), daemon=True, name=f"{what}-watch")
        self._watch.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.tail.append(raw.decode("utf-8", "replace").rstrip("\n"))
            del self.tail[:-20]

    def _watcher(self, cancel: threading.Event | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._done.wait(0.1):
            if cancel is not None and cancel.is_set():
                self.reason = "cancel"
            elif time.monotonic() > deadline:
                self.reason = "timeout"
            else:
                continue
            _kill(self.proc)
            return

    def finish(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout=max(1.0, timeout))
        finally:
            self._done.set()
            if self.proc.poll() is None:
                _kill(self.proc)
            self._err.join(2)
        if self.reason == "cancel":
            raise Aborted(f"{self.what} cancelled; the process was stopped")
        if self.reason == "timeout":
            raise CockpitError(f"{self.what} timed out; the process was stopped", title="Timed out")
        return rc


def failure(backend: Any, what: str, tail: list[str], cls: type[CockpitError]) -> CockpitError:
    text = backend.scrub(" | ".join(tail[-5:])) or "no message"
    low = text.lower()
    if "access denied" in low:
        from backends.mysql.client import AuthenticationError

        return AuthenticationError(f"{what}: MySQL at {backend.target} rejected the credentials "
                                   f"(from the DSN, via a private defaults file): {text}")
    if "can't connect" in low or "unknown mysql server host" in low or "lost connection" in low or "(2002)" in low:
        return UnreachableError(f"{what}: cannot reach MySQL at {backend.target}: {text}")
    return cls(f"{what} failed: {text}")


def _server_has_binlog(backend: Any) -> bool:
    try:
        with backend.connect() as conn:
            rows = backend._select(conn, "SHOW VARIABLES LIKE 'log_bin'")
        return bool(rows) and str(rows[0][1]).upper() == "ON"
    except CockpitError:
        raise
    except Exception:
        return False


def run_backup(backend: Any, directory: Path, *, cancel: threading.Event | None, timeout: float,
               label: str | None) -> Iterator[BackupProgress]:
    directory.mkdir(parents=True, exist_ok=True)
    created = datetime.now(timezone.utc)
    stem = sqldb.backup_stem(backend.database, label, created)
    final = directory / (stem + SUFFIX)
    partial = directory / ("." + stem + SUFFIX + ".partial")
    binlog = _server_has_binlog(backend)  # also proves the DSN before a file is created
    tool = find_tool("mariadb-dump", "mysqldump")
    private = Path(tempfile.mkdtemp(prefix="cockpit-mysql-"))
    ok = False
    try:
        conn_args, env = backend.tool_args(private)
        cmd = [tool, *conn_args, "--single-transaction", "--quick", "--routines", "--triggers", "--hex-blob",
               "--default-character-set=utf8mb4", *(["--master-data=2"] if binlog else []),
               f"--result-file={partial}", "--", backend.database]
        started = time.monotonic()
        yield BackupProgress(f"{Path(tool).name} --single-transaction {backend.display_dsn} -> {final.name}", 0, 0.0)
        # The tool writes the file itself; we hash it as it grows (page cache, the other core),
        # so the checksum costs almost nothing on top of the dump.
        h = hashlib.sha256()
        written = 0
        head = b""
        last = started
        run = _Proc(cmd, env, cancel=cancel, timeout=timeout, what=Path(tool).name)
        fh = None
        try:
            while True:
                if fh is None:
                    try:
                        fh = open(partial, "rb")
                    except FileNotFoundError:
                        if run.proc.poll() is not None:
                            break
                        time.sleep(0.005)
                        continue
                exited = run.proc.poll() is not None
                block = fh.read(CHUNK)
                if block:
                    h.update(block)
                    written += len(block)
                    if len(head) < 65536:
                        head += block[:65536]
                    now = time.monotonic()
                    if now - last >= 0.5:
                        last = now
                        yield BackupProgress("", written, now - started)
                elif exited:
                    break  # EOF after the tool exited: nothing more will come
                else:
                    time.sleep(0.005)
        finally:
            if fh is not None:
                fh.close()
        rc = run.finish(timeout=timeout)
        if cancel is not None and cancel.is_set():  # cancelled as the dump ended: still no backup
            raise Aborted(f"{Path(tool).name} cancelled; no backup kept")
        if rc != 0:
            raise failure(backend, Path(tool).name, run.tail, BackupError)
        with open(partial, "rb+") as out:
            os.fsync(out.fileno())
            if os.fstat(out.fileno()).st_size != written:
                raise BackupError(f"{Path(tool).name}: the file changed while it was checksummed; not kept")
        digest = h.hexdigest()
        os.replace(partial, final)
        duration = time.monotonic() - started
        m = _BINLOG_POS.search(head)
        position = {"binlog_file": m.group(1).decode(), "binlog_pos": int(m.group(2))} if m else {}
        info = BackupInfo(path=final, size=written, sha256=digest, database=backend.database, created=created,
                          verified=True, dsn=backend.display_dsn, duration=round(duration, 3), extra=position)
        (directory / (final.name + ".sha256")).write_text(f"{digest}  {final.name}\n")
        meta = {"database": info.database, "dsn": info.dsn, "created": created.isoformat(), "size": written,
                "sha256": digest, "duration": info.duration, "format": "sql", "tool": Path(tool).name, **position}
        (directory / (final.name + ".json")).write_text(json.dumps(meta, indent=2) + "\n")
        ok = True
        yield BackupProgress(f"backup written: {final.name} ({written} bytes, sha256 {digest[:12]}…)", written,
                             duration, done=True, backup=info)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if not ok:
            partial.unlink(missing_ok=True)


def verify_backup(path: Path) -> BackupInfo:
    info = _verify(path)
    _, meta = _recorded(path)
    extra = dict(info.extra)
    for k in ("binlog_file", "binlog_pos"):
        if k in meta:
            extra[k] = meta[k]
    return BackupInfo(path=info.path, size=info.size, sha256=info.sha256, database=info.database,
                      created=info.created, verified=info.verified, dsn=info.dsn, duration=info.duration, extra=extra)


def list_backups(directory: Path, *, verify: bool = False) -> list[BackupInfo]:
    """Backups in ``directory``, newest first (``verified`` None unless ``verify``)."""
    return sqldb.list_backups(directory, suffix=SUFFIX, verify=verify, verify_backup=verify_backup)


def checked(path: Path) -> BackupInfo:
    info = verify_backup(path)  # NotFoundError if missing
    if not info.verified:
        raise ChecksumMismatch(
            f"backup {sanitize(path.name)} does not match its recorded sha256 "
            f"({'none recorded' if not info.extra.get('recorded_sha256') else 'file changed'}); not restoring")
    return info


def apply_sql(backend: Any, source: Path, *, cancel: threading.Event | None, timeout: float, what: str,
              binary: bool = False) -> None:
    """Feed ``source`` to the ``mariadb``/``mysql`` client against the DSN's database."""
    tool = find_tool("mariadb", "mysql")
    private = Path(tempfile.mkdtemp(prefix="cockpit-mysql-"))
    try:
        conn_args, env = backend.tool_args(private)
        cmd = [tool, *conn_args, *(["--binary-mode"] if binary else []), f"--database={backend.database}"]
        with open(source, "rb") as fh:
            run = _Proc(cmd, env, stdin=fh, cancel=cancel, timeout=timeout, what=what)
            rc = run.finish(timeout=timeout)
        if rc != 0:
            raise failure(backend, what, run.tail, RestoreError)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def run_restore(backend: Any, path: Path, *, cancel: threading.Event | None, timeout: float) -> Iterator[RestoreProgress]:
    checked(path)
    started = time.monotonic()
    yield RestoreProgress(f"restore {path.name} -> {backend.display_dsn} (checksum ok)", 0.0)
    apply_sql(backend, path, cancel=cancel, timeout=timeout, what="restore")
    yield RestoreProgress(f"restored {path.name} into {backend.database}", time.monotonic() - started, done=True)
