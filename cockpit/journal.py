"""The incident journal: an append-only JSONL file, the cockpit's source of truth.

One JSON object per line::

    {"seq": 7, "ts": "2024-05-01T12:03:41.512Z", "actor": "alice@bastion", "type": "intent", ...}

``seq`` counts from 1 within the file, ``ts`` is UTC with milliseconds, ``actor`` is
``user@host``; the remaining keys are the event's data (see :mod:`cockpit.state` for the
event types). The UI state, observers, resume and the report are all folds over this file.

API (kept small; others build on it):

- :meth:`Journal.open` / :meth:`Journal.close` (also a context manager)
- :meth:`Journal.append` — write one record (flushed; fsynced for :data:`DURABLE_TYPES`)
- :meth:`Journal.intent` / :meth:`Journal.outcome` / :meth:`Journal.action` — write-ahead
  intents around every mutation, fsynced before the mutation is attempted
- :meth:`Journal.read`, :func:`read_journal`, :func:`follow` — for replay and observers
- :func:`default_journal_path`, :func:`state_dir`, :func:`find_open_incidents`
- :meth:`Journal.add_listener`, :func:`add_open_hook` — where a mirror (:mod:`cockpit.mirror`)
  hears of every record after it is on disk (see "Listeners" below)

Torn tails. A crash in the middle of a write can leave a last line without its newline
(or with invalid JSON). :meth:`Journal.open` detects it and reports it as
``journal.torn`` (a :class:`TornTail` with offset and bytes); readers never accept it. The
first append of a writable journal *truncates* the torn tail, after copying its bytes to a
``<journal>.torn`` sidecar (with offset and time). We prefer truncation to newline
separation because it keeps the invariant "every line of a journal is one complete
record": replay, the report and third-party tools (``jq``) never have to skip garbage in
the middle of a file, and the evidence is still kept for forensics. An incomplete tail was
never committed (nothing that depended on it was done: :meth:`intent` returns only after
the full line is fsynced), so dropping it loses nothing; :func:`follow` only consumes
complete lines, so truncating a tail never retracts something an observer has seen.

Listeners. A listener is called with each record *after* it was written (and fsynced when
durable), under the journal's lock, so listeners see records in ``seq`` order and only records
that are already the truth on disk; the write-ahead contract (the intent fsynced before the
mutation) is untouched. A listener must not block — the mirror puts the record on a bounded
queue and returns — and whatever it raises is swallowed: a failing listener never fails an
append. :func:`add_open_hook` functions are called with every journal opened writable in this
process (the composition root attaches the mirror there, so every front end is mirrored).

Secrets. Every record passes :func:`redact` before it is written: values of keys named
like a secret (password, token, secret, webhook_url, api_key, authorization...) become
``"***"`` and strings that look like URLs, DSNs or credentials go through
:func:`cockpit.text.redact_secrets` (URL passwords, bearer and basic credentials).
"""
from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cockpit import events as ev
from cockpit.errors import CockpitError, JournalError, ReadonlyError
from cockpit.events import DURABLE_TYPES
from cockpit.journal_files import TornTail, Unreadable, create_file, parse_line, read_bytes, scan
from cockpit.journal_hooks import add_open_hook, opened
from cockpit.text import redact_secrets

__all__ = ["TornTail", "Unreadable", "scan", "read_bytes", "read_journal", "follow", "Journal", "redact",
           "default_journal_path", "find_open_incidents", "state_dir", "error_data", "add_open_hook"]

RESERVED = ev.ENVELOPE
CLOSING_TYPES = frozenset({"incident_resolved", "incident_closed"})

_SECRET_KEY = re.compile(
    r"(?i)(^pass$|passw|token|secret|webhook_url|api_?key|private_?key|access_?key|"
    r"credential|authorization|cookie)"
)
_URLISH = re.compile(r"(?i)([a-z][a-z0-9+.-]*://|\b(password|passwd|token|secret)=|\b(bearer|basic)\s|authorization|api-key|cookie)")


# --------------------------------------------------------------------------- helpers


def now_ts() -> str:
    """The current time as the journal writes it: ISO-8601 UTC with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(ts: str) -> datetime:
    """Parse a journal timestamp back to an aware datetime."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def default_actor() -> str:
    """``user@host`` of this process."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in a container
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def redact(value: Any, key: str | None = None) -> Any:
    """Return ``value`` with secrets removed (recursively through dicts and lists)."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
        return "***"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and _URLISH.search(value):
        return redact_secrets(value)
    return value


def safe_name(text: str) -> str:
    """A file-name-safe form of a target (``shop/checkout`` -> ``shop_checkout``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "target"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/cockpit`` (default ``~/.local/state/cockpit``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cockpit"


_default_state_dir = state_dir


def default_journal_path(target: str, *, when: datetime | None = None) -> Path:
    """``<state_dir>/incidents/<UTC timestamp>-<target>.jsonl`` for a new incident."""
    when = when or datetime.now(timezone.utc)
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return state_dir() / "incidents" / f"{stamp}-{safe_name(target)}.jsonl"


# --------------------------------------------------------------------------- reading


def read_journal(path: str | os.PathLike) -> list[dict]:
    """Every complete record of the journal at ``path`` (a torn tail is left out). Raises
    :class:`JournalError` when ``path`` is not a readable regular file."""
    return scan(read_bytes(path)).records


def follow(
    path: str | os.PathLike, stop_event: threading.Event, poll: float = 0.2
) -> Iterator[dict]:
    """Yield records from the start of ``path`` and then as another process appends them.

    Only complete lines are yielded; a partial last line is re-read on the next poll until
    its newline arrives (or the writer truncates it as a torn tail). Waits for the file to
    appear. Returns when ``stop_event`` is set.
    """
    path = Path(path)
    pos = 0
    while not stop_event.is_set():
        try:
            with path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() < pos:  # truncated below what we consumed: start over the tail
                    pos = fh.tell()
                fh.seek(pos)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        end = data.rfind(b"\n")
        if end >= 0:
            for line in data[: end + 1].split(b"\n")[:-1]:
                rec = parse_line(line)
                if rec is not None:
                    yield rec
            pos += end + 1
            continue
        stop_event.wait(poll)


def find_open_incidents(state_dir: str | os.PathLike | None = None) -> list[Path]:
    """Journals under ``<state_dir>/incidents`` (default :func:`state_dir`) not yet closed.

    A journal is an incident once it has its ``incident_opened`` record (an empty file or a
    store command's own records are not one), and open until an ``incident_resolved`` /
    ``incident_closed`` record. Oldest first (file names start with the UTC timestamp).
    """
    folder = Path(state_dir) if state_dir is not None else _default_state_dir()
    found = []
    for path in sorted((folder / "incidents").glob("*.jsonl")):
        try:
            records = read_journal(path)
        except (OSError, JournalError):
            continue
        types = {r.get("type") for r in records}
        if "incident_opened" in types and not types & CLOSING_TYPES:
            found.append(path)
    return found


# --------------------------------------------------------------------------- the journal


@dataclass
class Action:
    """What ``with journal.action(...) as act`` yields. Set ``act.result`` to record data."""

    id: str
    result: dict = field(default_factory=dict)


class Journal:
    """One incident journal. Create with :meth:`Journal.open`; thread-safe appends."""

    def __init__(
        self,
        path: Path,
        *,
        actor: str,
        readonly: bool,
        records: int,
        last_seq: int,
        torn: TornTail | None,
        clock: Callable[[], str],
    ) -> None:
        self.path = path
        self.actor = actor
        self.readonly = readonly
        self.torn = torn
        """The torn tail found on open, if any (kept in ``<journal>.torn`` once repaired)."""
        self.count = records
        """Number of complete records in the file."""
        self.unreadable: tuple[int, ...] = ()
        """Line numbers of lines in the middle that are not records (found on open)."""
        self._seq = last_seq
        self._clock = clock
        self._fd: int | None = None
        self._mutex = threading.RLock()
        self._failed: str | None = None
        self.created = False
        """This process created the file (an empty one is removed on close)."""
        self._listeners: list[Callable[[dict], Any]] = []
        self._closers: list[Callable[[], Any]] = []

    # ---- lifecycle

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        actor: str | None = None,
        readonly: bool = False,
        clock: Callable[[], str] = now_ts,
    ) -> Journal:
        """Open (creating parent dirs and the file unless ``readonly``) and scan ``path``.

        ``clock`` returns the ``ts`` string of new records (tests freeze it). A path that
        cannot be a journal — a directory, a device such as ``/dev/full``, a path under a
        file, an unwritable or immutable directory, ``/proc`` — raises :class:`JournalError`
        (exit 8) with the path and the reason, before anything is done.
        """
        path = Path(path)
        existed = path.exists()
        if not readonly:
            create_file(path)
        found = scan(read_bytes(path, missing_ok=readonly))
        records = found.records
        last_seq = max((r.get("seq", 0) for r in records
                        if isinstance(r.get("seq"), int) and not isinstance(r.get("seq"), bool)), default=0)
        journal = cls(
            path,
            actor=actor or default_actor(),
            readonly=readonly,
            records=len(records),
            last_seq=last_seq,
            torn=found.torn,
            clock=clock,
        )
        journal.unreadable = tuple(u.line for u in found.unreadable)
        journal.created = not existed and not readonly
        if not readonly:
            opened(journal)  # cockpit.journal_hooks: the mirror attaches here
        return journal

    def close(self) -> None:
        """Close the file. A journal this process created and never wrote to is removed: a
        command that failed before doing anything leaves no empty incident to "resume".
        Then each listener's ``on_close`` (the mirror flushes, within its deadline)."""
        self._close_file()
        closers, self._closers, self._listeners = self._closers, [], []
        for on_close in closers:
            with contextlib.suppress(Exception):
                on_close()

    def add_listener(self, on_record: Callable[[dict], Any], on_close: Callable[[], Any] | None = None) -> None:
        """Call ``on_record(record)`` after each record is written (fsynced when durable), in
        ``seq`` order, under the journal's lock: it must return at once (never block, never
        write to this journal); what it raises is ignored. ``on_close()`` when the journal
        closes (outside the lock)."""
        with self._mutex:
            self._listeners.append(on_record)
            if on_close is not None:
                self._closers.append(on_close)

    def _close_file(self) -> None:
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self.created and self._seq == 0:
                try:
                    if self.path.stat().st_size == 0:
                        self.path.unlink()
                except OSError:
                    pass
                self.created = False

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def seq(self) -> int:
        """The ``seq`` of the last record written or found."""
        return self._seq

    # ---- reading

    def read(self) -> list[dict]:
        """All complete records currently in the file."""
        return read_journal(self.path)

    # ---- writing

    def write(self, event: ev.Event) -> dict:
        """Write one typed event and return the record (as written, i.e. redacted).

        Flushed to the OS on every call; fsynced when the event type is durable (intents,
        outcomes, the revision chosen, checks, ...). Raises ReadonlyError on a readonly
        journal and JournalError when the write fails (after which the journal refuses
        further writes).
        """
        return self._write(event.type, event.to_record(), fsync=event.durable, version=event.version)

    def append(self, type: str, /, **data: Any) -> dict:
        """``write(<the event class of type>(**data))``: the same typed definitions, by name.

        Raises :class:`cockpit.events.EventShapeError` for an unknown type or a field of the
        wrong shape (nothing is written).
        """
        return self.write(ev.build(type, data))

    def intent(self, action: str, **data: Any) -> str:
        """Write an ``intent`` record with a fresh ``id``; fsynced before returning the id."""
        intent_id = uuid.uuid4().hex[:16]
        self.write(ev.build("intent", {"id": intent_id, "action": action, **data}))
        return intent_id

    def outcome(self, intent_id: str, ok: bool, **data: Any) -> dict:
        """Write the ``outcome`` of intent ``intent_id`` (fsynced)."""
        return self.write(ev.build("outcome", {"id": intent_id, "ok": bool(ok), **data}))

    @contextlib.contextmanager
    def action(self, action: str, **data: Any) -> Iterator[Action]:
        """Intent on enter; outcome on exit.

        ``ok=True`` with ``act.result`` as ``result`` when the block completes;
        ``ok=False`` with ``error_title`` / ``error_message`` when it raises an Exception
        (re-raised). On KeyboardInterrupt / SystemExit no outcome is written: whether the
        write took effect is unknown, so the intent stays pending for resume to reconcile.
        """
        act = Action(self.intent(action, **data))
        try:
            yield act
        except Exception as exc:
            self.outcome(act.id, False, **error_data(exc))
            raise
        self.outcome(act.id, True, result=act.result)

    def _write(self, type: str, data: dict, *, fsync: bool, version: int = ev.SCHEMA_VERSION) -> dict:
        if self.readonly:
            raise ReadonlyError(f"the journal {self.path} is open readonly (observer)")
        clash = [k for k in data if k in RESERVED]
        if clash:
            raise ValueError(f"journal data may not use the reserved keys {clash}")
        with self._mutex:
            if self._failed:
                raise JournalError(f"the journal is unusable after an earlier failure: {self._failed}")
            record = {"seq": self._seq + 1, "ts": self._clock(), "actor": self.actor, "type": type, "v": version}
            record.update(redact(data))
            line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
            try:
                fd = self._ensure_fd()
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                if fsync:
                    os.fsync(fd)
            except OSError as exc:
                self._failed = f"{exc.strerror or exc} writing {self.path}"
                raise JournalError(
                    f"cannot write the journal {self.path}: {exc.strerror or exc}",
                    hint="free disk space or choose another --journal; nothing else was done",
                ) from exc
            self._seq += 1
            self.count += 1
            for listener in self._listeners:
                try:
                    listener(record)
                except Exception:  # noqa: BLE001 — a listener never fails an append
                    pass
            return record

    def _ensure_fd(self) -> int:
        if self._fd is None:
            self._repair_torn_tail()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _repair_torn_tail(self) -> None:
        """Move a torn tail into ``<journal>.torn`` and truncate it away (first write only)."""
        if self.torn is None:
            return
        sidecar = self.path.with_name(self.path.name + ".torn")
        header = json.dumps({"offset": self.torn.offset, "found": now_ts(), "length": len(self.torn.data)})
        with sidecar.open("ab") as fh:
            fh.write(header.encode() + b"\n" + self.torn.data + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        with self.path.open("r+b") as fh:
            fh.truncate(self.torn.offset)
            fh.flush()
            os.fsync(fh.fileno())


def error_data(exc: BaseException) -> dict:
    """``error_title`` / ``error_message`` of an exception, for outcome records."""
    if isinstance(exc, CockpitError):
        return {"error_title": exc.title, "error_message": str(exc)}
    return {"error_title": type(exc).__name__, "error_message": str(exc)}

