"""One operator per target: the lock every operator sees, whoever and wherever they are.

The lock must hold across users, state directories and bastions, so it never lives in a
user's own state directory. Two implementations, one face (:class:`TargetLock`):

- **A Kubernetes Lease** (``backends/kubernetes/lease.py``, :class:`LeaseLocker`): a
  ``coordination.k8s.io/v1`` Lease in the target's namespace, seen by every operator of the
  cluster. The core never imports it; the composition root builds one from the Kubernetes
  backend and hands it to :func:`acquire_target_lock` as a :class:`cockpit.ports.TargetLocker`.
- **A host-wide lock file** (:class:`HostLock`, here): used when the API forbids Leases (403;
  the locker then calls ``warn`` with a sentence saying so), and for targets that have no
  cluster (Docker containers). It protects against operators *on this host* only.

API::

    acquire_target_lock(locker: TargetLocker | None, target: Target | str, *, actor: str,
                        readonly: bool, warn: Warn | None = None) -> TargetLock
    HostLock.acquire(target: Target | str, *, actor: str, directory: Path | None = None) -> HostLock
    lock_dir() -> Path                         # $COCKPIT_LOCK_DIR, /run/lock/cockpit or /tmp/cockpit-locks
    holder_identity(actor: str) -> str         # "alice@bastion-1 (pid 1234)"
    process_alive(pid: int, started: int | None = None) -> bool
    format_since(when: datetime) -> str        # "06:41:02 on 2024-05-01", local time

    class TargetLock(Protocol):
        holder: str        # who holds it, e.g. "alice@bastion-1 (pid 1234)"
        where: str         # "Lease shop/cockpit-incident-checkout" or "lock file /run/lock/cockpit/..."
        host_only: bool    # True for the lock file: it does not see other hosts
        held: bool         # False once released or lost (a Lease someone else took after expiry)
        def ensure_held(self) -> None     # raises LockedError if it was lost; call before a write
        def release(self) -> None         # idempotent; never touches someone else's lock

A refusal is :class:`cockpit.errors.LockedError` (exit code 6) naming the holder and since
when, with the hint "join as an observer with --readonly, or ask them to hand over".
Readonly sessions never take a lock: :func:`acquire_target_lock` refuses with
:class:`~cockpit.errors.ReadonlyError` before anything is sent or opened.

Holders. A holder is one *process* of one actor: ``holder_identity(actor)`` is
``"<actor> (pid N)"``, so the same user on two bastions, or in two SSH sessions of one
bastion, are two holders. Within one process the same actor re-acquiring a target gets the
lock it already holds (reference-counted: the lock goes when the last handle is released),
so the TUI and the rollback use case may both ask for it.

The lock file. ``<lock_dir>/<namespace>_<name>.lock``. The directory is created mode 1777
(world-writable and sticky, like /tmp) so every user of the host shares it; it is the first
usable of ``$COCKPIT_LOCK_DIR``, ``/run/lock/cockpit``, ``/tmp/cockpit-locks`` (set
``COCKPIT_LOCK_DIR`` host-wide if users could disagree on which is usable). The file is
created with ``O_EXCL`` (mode 0666, never through a symlink) and held with ``flock``: the
kernel drops the lock when its process dies, however it dies, so a lock whose process died on
this host is taken over without guessing from pids (and pid reuse cannot fake a live holder).
The file holds JSON ``{"holder", "actor", "pid", "host", "since", "session"}`` written by
the holder once it has the lock; it is read only to name the holder in a refusal. The file
is never unlinked (an unlink would let a latecomer lock an orphaned inode); release empties
it and drops the ``flock``.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import socket
import stat
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cockpit.errors import CockpitError, LockedError, ReadonlyError
from cockpit.model import Target
from cockpit.text import sanitize

if TYPE_CHECKING:
    from cockpit.ports import TargetLocker

Warn = Callable[[str], None]
"""Called with one sentence when the lock is weaker than asked for (e.g. host-only)."""

LOCK_DIR_ENV = "COCKPIT_LOCK_DIR"
LOCK_DIRS = (Path("/run/lock/cockpit"), Path("/tmp/cockpit-locks"))
HINT = "join as an observer with --readonly, or ask them to hand over"

SESSION = uuid.uuid4().hex[:12]
"""This process's session id (recorded with every lock it takes; pids repeat, this does not)."""


@runtime_checkable
class TargetLock(Protocol):
    """A held "one operator per target" lock (see the module docstring)."""

    holder: str
    where: str
    host_only: bool

    @property
    def held(self) -> bool: ...

    def ensure_held(self) -> None: ...

    def release(self) -> None: ...


# --------------------------------------------------------------------------- helpers


def holder_identity(actor: str) -> str:
    """``"<actor> (pid N)"``: one holder per process of one actor."""
    return f"{actor} (pid {os.getpid()})"


def process_started(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc``), None if unknown."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
        return int(raw[raw.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs on this host (and, given ``started``, is the same process)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if started is not None:
        now = process_started(pid)
        return now is None or now == started
    return True


def process_identity(actor: str) -> dict[str, Any]:
    """What a lock records about its holder: holder, actor, pid, started, host, session."""
    pid = os.getpid()
    return {"holder": holder_identity(actor), "actor": actor, "pid": pid, "started": process_started(pid),
            "host": socket.gethostname(), "session": SESSION}


def format_since(when: datetime) -> str:
    """``"06:41:02 on 2024-05-01"`` in local time."""
    local = when.astimezone()
    return f"{local:%H:%M:%S} on {local:%Y-%m-%d}"


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time (``...Z``, with or without fractions) as an aware datetime, else None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def lock_file_name(target: Target | str) -> str:
    """``shop/checkout`` -> ``shop_checkout.lock``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(target)).strip("._") or "target"
    return f"{safe[:200]}.lock"


def _ensure_dir(path: Path) -> bool:
    """Create ``path`` mode 1777 if missing; True if it is a usable directory (never a symlink)."""
    try:
        os.mkdir(path, 0o1777)
        os.chmod(path, 0o1777)  # the umask took bits away
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != 0o1777:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o1777)
    return os.access(path, os.W_OK | os.X_OK)


def lock_dir() -> Path:
    """The host-wide lock directory: ``$COCKPIT_LOCK_DIR``, else the first usable of
    ``/run/lock/cockpit`` and ``/tmp/cockpit-locks`` (created mode 1777)."""
    override = os.environ.get(LOCK_DIR_ENV)
    candidates = (Path(override),) if override else LOCK_DIRS
    for d in candidates:
        if _ensure_dir(d):
            return d
    raise CockpitError(
        f"no usable host-wide lock directory ({', '.join(map(str, candidates))})",
        title="Lock", hint=f"set {LOCK_DIR_ENV} to a directory every operator of this host can write",
    )


# --------------------------------------------------------------------------- the host lock


@dataclass
class _Held:
    """One flock held by this process for one holder (shared by re-acquiring handles)."""

    fd: int
    path: Path
    info: dict[str, Any]
    refs: int = 1


_registry: dict[tuple[str, str], _Held] = {}
_registry_mutex = threading.Lock()


def _open_lock_file(path: Path) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(3):
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            pass
        else:
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o666)  # every operator of the host may take it over
            return fd
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CockpitError(f"lock file {path} is a symbolic link: refusing it", title="Lock",
                                   hint="remove it; lock files are never links") from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise LockedError(f"lock file {path} is not writable by you", hint=f"remove it or ask its owner "
                                  f"(uid {_owner(path)}) to; {HINT}") from None
            raise CockpitError(f"cannot open lock file {path}: {exc.strerror}", title="Lock") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CockpitError(f"lock file {path} is not a regular file", title="Lock")
        return fd
    raise LockedError(f"could not open lock file {path} (contended)", hint=HINT)


def _owner(path: Path) -> str:
    try:
        return str(os.lstat(path).st_uid)
    except OSError:
        return "?"


def _read_info(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _write_info(fd: int, info: dict[str, Any]) -> None:
    data = json.dumps(info).encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def refusal(target: str, holder: str, since: datetime | None, where: str) -> LockedError:
    """The LockedError naming who holds ``target`` and since when (``holder`` is sanitized)."""
    who = sanitize(holder, max_len=200) or "another operator"
    when = f" since {format_since(since)}" if since else ""
    return LockedError(f"{target} is held by {who}{when} ({where})", hint=HINT)


class HostLock:
    """The host-wide lock file (see the module docstring). Create with :meth:`acquire`."""

    host_only = True

    def __init__(self, target: str, path: Path, holder: str, since: datetime, held: _Held) -> None:
        self.target = target
        self.path = path
        self.holder = holder
        self.since = since
        self.where = f"lock file {path}"
        self._held: _Held | None = held

    @classmethod
    def acquire(cls, target: Target | str, *, actor: str, directory: Path | None = None) -> HostLock:
        """Take the lock on ``target`` for ``actor`` in this process; LockedError if another holds it."""
        if directory is None:
            directory = lock_dir()
        elif not _ensure_dir(directory):
            raise CockpitError(f"lock directory {directory} is not usable", title="Lock",
                               hint=f"set {LOCK_DIR_ENV} to a directory every operator of this host can write")
        path = directory / lock_file_name(target)
        info = process_identity(actor)
        key = (str(path), info["holder"])
        with _registry_mutex:
            held = _registry.get(key)
            if held is not None:
                held.refs += 1
                return cls(str(target), path, info["holder"], parse_time(held.info["since"]) or _now(), held)
            for _ in range(3):
                fd = _open_lock_file(path)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    current = _read_info(fd)
                    os.close(fd)
                    raise refusal(str(target), str(current.get("holder") or current.get("actor") or ""),
                                  parse_time(current.get("since")),
                                  f"lock file {path} on {sanitize(current.get('host') or 'this host', max_len=100)}")
                except OSError:
                    os.close(fd)
                    raise
                if not _same_file(fd, path):  # removed or replaced meanwhile: lock the one in place
                    os.close(fd)
                    continue
                info["since"] = _now().isoformat(timespec="microseconds").replace("+00:00", "Z")
                info["target"] = str(target)
                try:
                    _write_info(fd, info)
                except OSError as exc:
                    os.close(fd)
                    raise CockpitError(f"cannot write lock file {path}: {exc.strerror}", title="Lock") from None
                held = _registry[key] = _Held(fd, path, info)
                return cls(str(target), path, info["holder"], parse_time(info["since"]) or _now(), held)
        raise LockedError(f"could not take the lock file {path} (contended)", hint=HINT)

    @property
    def held(self) -> bool:
        return self._held is not None and _same_file(self._held.fd, self.path)

    def ensure_held(self) -> None:
        """Raise LockedError if this handle was released or the file was removed under us."""
        if not self.held:
            raise LockedError(f"the lock on {self.target} is no longer held ({self.where})", hint=HINT)

    def release(self) -> None:
        """Drop this handle; the last one empties the file and unlocks it. Idempotent."""
        with _registry_mutex:
            held, self._held = self._held, None
            if held is None:
                return
            held.refs -= 1
            if held.refs > 0:
                return
            _registry.pop((str(held.path), self.holder), None)
            with contextlib.suppress(OSError):
                os.ftruncate(held.fd, 0)
            with contextlib.suppress(OSError):
                fcntl.flock(held.fd, fcntl.LOCK_UN)
            os.close(held.fd)

    def __enter__(self) -> HostLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"HostLock({self.target!r}, {str(self.path)!r}, holder={self.holder!r}, held={self.held})"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- the entry point


def acquire_target_lock(locker: TargetLocker | None, target: Target | str, *, actor: str, readonly: bool,
                        warn: Warn | None = None) -> TargetLock:
    """Take "one operator per target" for ``target``.

    ``locker`` is the platform's lock (a Lease for Kubernetes, built by the composition root);
    ``None`` means the target has none (a Docker container) and the host-wide lock file is used.
    Readonly refuses before anything is sent or opened.
    """
    if readonly:
        raise ReadonlyError(f"observers do not take the lock on {target} (this cockpit is readonly; nothing was sent)")
    if locker is None:
        return HostLock.acquire(target, actor=actor)
    if not isinstance(target, Target):
        raise CockpitError(f"cannot lock {target!r}: expected a Kubernetes target", title="Lock")
    return locker.acquire(target, actor=actor, warn=warn)


__all__ = [
    "HINT", "LOCK_DIRS", "LOCK_DIR_ENV", "SESSION", "HostLock", "TargetLock", "Warn", "acquire_target_lock",
    "format_since", "holder_identity", "lock_dir", "lock_file_name", "parse_time", "process_alive",
    "process_identity", "process_started", "refusal",
]
