"""The journal's file handling: opening, reading and scanning bytes (see :mod:`cockpit.journal`).

A journal is a regular file. Anything else given as one — a directory, a device such as
``/dev/full`` (which would be read until memory runs out), a FIFO, a path under a file, an
unwritable or immutable directory, ``/proc`` — is refused with :class:`JournalError` (exit 8)
naming the path and the reason, before anything is done. :func:`scan` splits bytes into
records and reports the lines that are not records (with their line numbers) and a torn
tail, so nobody skips garbage silently.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import JournalError


@dataclass(frozen=True)
class TornTail:
    """An incomplete last line found at ``offset`` (a crash mid-write)."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class Unreadable:
    """A complete line in the middle of a journal that is not a record (1-based ``line``)."""

    line: int
    data: bytes


@dataclass
class Scan:
    """What a journal's bytes hold: the records (with their 1-based line numbers), the lines
    that are not records, and a torn tail."""

    records: list[dict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    torn: TornTail | None = None


def scan(raw: bytes) -> Scan:
    """Split ``raw`` into complete records; a line in the middle that is not one (not JSON,
    not an object with a string ``type``, not UTF-8, blank) is reported in ``unreadable``, never
    silently dropped; an incomplete or invalid last line is the torn tail."""
    out = Scan()
    pos = 0
    number = 0
    while pos < len(raw):
        number += 1
        nl = raw.find(b"\n", pos)
        if nl < 0:  # no newline: never committed
            out.torn = TornTail(pos, raw[pos:])
            return out
        line = raw[pos:nl]
        rec = parse_line(line)
        if rec is not None:
            out.records.append(rec)
            out.lines.append(number)
        elif nl + 1 == len(raw) and line.strip():  # invalid JSON on the last line: torn too
            out.torn = TornTail(pos, raw[pos:])
            return out
        else:
            out.unreadable.append(Unreadable(number, line))
        pos = nl + 1
    return out


def parse_line(line: bytes) -> dict | None:
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("type"), str) else None


def reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_bytes(path: str | os.PathLike, *, missing_ok: bool = False) -> bytes:
    """The bytes of the journal at ``path``. Raises :class:`JournalError` (exit 8) naming the
    path and the reason when it is not a regular file (a directory, ``/dev/full``, a FIFO:
    never read until memory runs out) or cannot be read; ``b""`` when it does not exist and
    ``missing_ok``."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if missing_ok:
            return b""
        raise JournalError(f"cannot read the journal {path}: it does not exist") from None
    except OSError as exc:
        raise JournalError(f"cannot read the journal {path}: {reason(exc)}",
                           hint="pass a readable journal file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise JournalError(f"cannot use {path} as a journal: {file_kind(st.st_mode)}, not a regular file",
                               hint="a journal is a regular file (.jsonl)")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise JournalError(f"cannot read the journal {path}: {reason(exc)}") from None
    finally:
        os.close(fd)


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "it is a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "it is a device"
    if stat.S_ISFIFO(mode):
        return "it is a pipe"
    if stat.S_ISSOCK(mode):
        return "it is a socket"
    return "it is not a file"


def create_file(path: Path) -> None:
    """Make ``path`` an existing, writable regular file (mode 0600 when new) or raise
    JournalError saying why it cannot be one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise JournalError(f"cannot create the journal {path}: {first_file(path.parent)} is a file, not a directory",
                           hint="choose another --journal") from None
    except OSError as exc:
        raise JournalError(f"cannot create the journal's directory {path.parent}: {reason(exc)}",
                           hint="choose another --journal") from None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise JournalError(f"cannot open the journal {path}: {reason(exc)}", hint="choose another --journal") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise JournalError(f"cannot use {path} as a journal: {file_kind(st.st_mode)}, not a regular file",
                           hint="a journal is a regular file (.jsonl); choose another --journal")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise JournalError(f"cannot write the journal {path}: {reason(exc)}",
                           hint="choose a writable --journal; nothing was done") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between the stat and the open
            raise JournalError(f"cannot use {path} as a journal: not a regular file")
    finally:
        os.close(fd)


def first_file(path: Path) -> Path:
    """The first component of ``path`` that exists and is not a directory."""
    for parent in reversed([path, *path.parents]):
        if parent.exists() and not parent.is_dir():
            return parent
    return path
