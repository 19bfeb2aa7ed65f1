"""pg_dump / pg_restore: backups as evidence (custom format, sha256), their list and check,
and the guarded restore. The password reaches the tools through ``PGPASSWORD`` in their
environment, never their argv (which ``ps`` shows)."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backends import sqldb
from backends.postgres.models import BackupInfo, BackupProgress, RestoreProgress
from cockpit.errors import Aborted, CockpitError, ConfigError, ConflictError, NotFoundError, UnreachableError
from cockpit.text import sanitize

SUFFIX = ".dump"


class BackupError(CockpitError):
    title = "Backup failed"


class RestoreError(CockpitError):
    title = "Restore failed"


class ChecksumMismatch(ConflictError):
    title = "Checksum mismatch"


def _version(path: str) -> tuple[int, ...]:
    m = re.search(r"/postgresql/([\d.]+)/bin/", path)
    return tuple(int(x) for x in m.group(1).split(".")) if m else (0,)


def find_tool(name: str) -> str:
    """The newest ``pg_dump``/``pg_restore``: $COCKPIT_PG_BINDIR, Debian's versioned dirs
    (a dump needs a pg_dump at least as new as the server), then PATH."""
    env = os.environ.get("COCKPIT_PG_BINDIR")
    if env and os.access(os.path.join(env, name), os.X_OK):
        return os.path.join(env, name)
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    found += sorted(glob.glob(f"/usr/pgsql-*/bin/{name}"))
    for path in reversed(found):
        if os.access(path, os.X_OK):
            return path
    which = shutil.which(name)
    if which:
        return which
    raise ConfigError(f"{name} not found", hint="install the PostgreSQL client (apt-get install postgresql-client)")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _stream(cmd: list[str], env: dict[str, str], *, cancel: threading.Event | None, timeout: float,
            what: str) -> Iterator[tuple[str | None, subprocess.Popen]]:
    """Run ``cmd``; yield (stderr line or None on a tick, proc). Kills it on cancel/timeout."""
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        lines.put(None)

    t = threading.Thread(target=pump, daemon=True, name=f"{what}-stderr")
    t.start()
    deadline = time.monotonic() + timeout
    eof = False
    try:
        while not eof:
            if cancel is not None and cancel.is_set():
                _kill(proc)
                raise Aborted(f"{what} cancelled; the process was stopped")
            if time.monotonic() > deadline:
                _kill(proc)
                raise CockpitError(f"{what} timed out after {timeout:.0f}s; the process was stopped", title="Timed out")
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                yield None, proc
                continue
            if line is None:
                eof = True
            else:
                yield line, proc
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            _kill(proc)
        t.join(1)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired, PermissionError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


def _failure(backend: Any, what: str, tail: list[str], cls: type[CockpitError]) -> CockpitError:
    text = backend.scrub(" | ".join(tail[-5:]))
    low = text.lower()
    if "connection to server" in low or "could not connect" in low or "could not translate host" in low:
        if "password authentication failed" in low:
            from backends.postgres.client import AuthenticationError

            return AuthenticationError(f"{what}: {text}")
        return UnreachableError(f"{what}: cannot reach PostgreSQL at {backend.target}: {text}")
    return cls(f"{what} failed: {text}")


def run_backup(backend: Any, directory: Path, *, cancel: threading.Event | None, timeout: float,
               label: str | None, compress: int | None = None) -> Iterator[BackupProgress]:
    directory.mkdir(parents=True, exist_ok=True)
    created = datetime.now(timezone.utc)
    stem = sqldb.backup_stem(backend.database, label, created)
    final = directory / (stem + SUFFIX)
    partial = directory / (stem + SUFFIX + ".partial")
    env, conninfo = backend.tool_env_and_conninfo()
    cmd = [find_tool("pg_dump"), "--format=custom", "--verbose", "--no-password", f"--file={partial}",
           f"--dbname={conninfo}"]
    if compress is not None:
        cmd.insert(2, f"--compress={int(compress)}")
    started = time.monotonic()
    tail: list[str] = []
    ok = False
    try:
        yield BackupProgress(f"pg_dump {backend.display_dsn} -> {final.name}", 0, 0.0)
        proc = None
        for line, proc in _stream(cmd, env, cancel=cancel, timeout=timeout, what="pg_dump"):
            size = partial.stat().st_size if partial.exists() else 0
            if line is None:
                yield BackupProgress("", size, time.monotonic() - started)
                continue
            line = backend.scrub(line)
            tail.append(line)
            del tail[:-20]
            yield BackupProgress(line, size, time.monotonic() - started)
        if proc is None or proc.returncode != 0:
            raise _failure(backend, "pg_dump", tail, BackupError)
        digest = sha256_file(partial)
        size = partial.stat().st_size
        os.replace(partial, final)
        duration = time.monotonic() - started
        info = BackupInfo(path=final, size=size, sha256=digest, database=backend.database, created=created,
                          verified=True, dsn=backend.display_dsn, duration=round(duration, 3))
        (directory / (final.name + ".sha256")).write_text(f"{digest}  {final.name}\n")
        meta = {"database": info.database, "dsn": info.dsn, "created": created.isoformat(), "size": size,
                "sha256": digest, "duration": info.duration, "format": "custom", "tool": cmd[0],
                "compress": compress}
        (directory / (final.name + ".json")).write_text(json.dumps(meta, indent=2) + "\n")
        ok = True
        yield BackupProgress(f"backup written: {final.name} ({size} bytes, sha256 {digest[:12]}…)", size,
                             duration, done=True, backup=info)
    finally:
        if not ok:
            partial.unlink(missing_ok=True)


_recorded = sqldb.recorded  # also backends.mysql.dump's


def verify_backup(path: Path) -> BackupInfo:
    if not path.exists():
        raise NotFoundError(f"no backup at {sanitize(str(path))}")
    recorded, meta = _recorded(path)
    actual = sha256_file(path)
    created = None
    if meta.get("created"):
        try:
            created = datetime.fromisoformat(meta["created"])
        except ValueError:
            created = None
    return BackupInfo(path=path, size=path.stat().st_size, sha256=actual, database=sanitize(meta.get("database", "")),
                      created=created, verified=(recorded == actual) if recorded else False,
                      dsn=sanitize(meta.get("dsn", "")), duration=meta.get("duration"),
                      extra={"recorded_sha256": recorded})


def list_backups(directory: Path, *, verify: bool = False) -> list[BackupInfo]:
    """Backups in ``directory``, newest first (``verified`` None unless ``verify``)."""
    return sqldb.list_backups(directory, suffix=SUFFIX, verify=verify, verify_backup=verify_backup)


def run_restore(backend: Any, path: Path, *, cancel: threading.Event | None, timeout: float) -> Iterator[RestoreProgress]:
    info = verify_backup(path)  # NotFoundError if missing
    if not info.verified:
        raise ChecksumMismatch(
            f"backup {path.name} does not match its recorded sha256 "
            f"({'none recorded' if not info.extra.get('recorded_sha256') else 'file changed'}); not restoring",
        )
    env, conninfo = backend.tool_env_and_conninfo()
    cmd = [find_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
           "--single-transaction", "--exit-on-error", "--verbose", "--no-password",
           f"--dbname={conninfo}", str(path)]
    started = time.monotonic()
    tail: list[str] = []
    yield RestoreProgress(f"pg_restore {path.name} -> {backend.display_dsn} (checksum ok)", 0.0)
    proc = None
    for line, proc in _stream(cmd, env, cancel=cancel, timeout=timeout, what="pg_restore"):
        if line is None:
            continue
        line = backend.scrub(line)
        tail.append(line)
        del tail[:-20]
        yield RestoreProgress(line, time.monotonic() - started)
    if proc is None or proc.returncode != 0:
        raise _failure(backend, "pg_restore", tail, RestoreError)
    yield RestoreProgress(f"restored {path.name} into {backend.database}", time.monotonic() - started, done=True)
