"""The host-wide lock file and the core's entry point (cockpit.locks).

Real files, real flock, real processes: a second process with its own XDG_STATE_HOME is
refused, and a holder killed with SIGKILL is taken over.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cockpit import locks
from cockpit.errors import CockpitError, LockedError, ReadonlyError
from cockpit.locks import HostLock, TargetLock, acquire_target_lock, holder_identity
from cockpit.model import Target

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = Target("checkout", "shop")


@pytest.fixture
def lockdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "locks"
    monkeypatch.setenv(locks.LOCK_DIR_ENV, str(d))
    return d


def test_lock_file_records_the_holder_in_a_shared_directory(lockdir: Path) -> None:
    lock = HostLock.acquire(CHECKOUT, actor="alice@bastion-1")
    try:
        assert isinstance(lock, TargetLock) and lock.host_only and lock.held
        assert lock.holder == f"alice@bastion-1 (pid {os.getpid()})" == holder_identity("alice@bastion-1")
        assert lock.path == lockdir / "shop_checkout.lock" and lock.where == f"lock file {lockdir / 'shop_checkout.lock'}"
        assert stat.S_IMODE(lockdir.stat().st_mode) == 0o1777  # sticky, world-writable like /tmp
        assert stat.S_IMODE(lock.path.stat().st_mode) == 0o666  # any operator may take it over
        info = json.loads(lock.path.read_text())
        assert info["holder"] == lock.holder and info["actor"] == "alice@bastion-1"
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        assert info["target"] == "shop/checkout" and info["session"] == locks.SESSION
        since = datetime.fromisoformat(info["since"].replace("Z", "+00:00"))
        assert abs((datetime.now(timezone.utc) - since).total_seconds()) < 60
    finally:
        lock.release()
    assert not lock.held and lock.path.read_text() == ""  # emptied, never unlinked


def test_a_second_holder_is_refused_naming_the_first_and_since_when(lockdir: Path) -> None:
    first = HostLock.acquire(CHECKOUT, actor="alice@bastion-1")
    with pytest.raises(LockedError) as exc:
        HostLock.acquire(CHECKOUT, actor="bob@bastion-1")
    err = exc.value
    local = first.since.astimezone()
    assert err.exit_code == 6
    assert err.message == (f"shop/checkout is held by alice@bastion-1 (pid {os.getpid()}) since "
                           f"{local:%H:%M:%S} on {local:%Y-%m-%d} (lock file {first.path} on {socket.gethostname()})")
    assert err.hint == "join as an observer with --readonly, or ask them to hand over"
    # another target is free
    other = HostLock.acquire(Target("cart", "shop"), actor="bob@bastion-1")
    other.release()
    first.release()
    second = HostLock.acquire(CHECKOUT, actor="bob@bastion-1")
    assert "bob@bastion-1" in json.loads(second.path.read_text())["holder"]
    second.release()


def test_the_same_holder_re_acquires_and_the_last_release_frees_it(lockdir: Path) -> None:
    a = HostLock.acquire(CHECKOUT, actor="alice@bastion-1")
    b = HostLock.acquire(CHECKOUT, actor="alice@bastion-1")  # the TUI and the rollback use case
    a.release()
    a.release()  # idempotent: does not drop b's reference
    assert b.held
    with pytest.raises(LockedError):
        HostLock.acquire(CHECKOUT, actor="bob@bastion-1")
    b.release()
    HostLock.acquire(CHECKOUT, actor="bob@bastion-1").release()


HOLD = """
import sys
from cockpit.locks import HostLock
from cockpit.model import Target
lock = HostLock.acquire(Target("checkout", "shop"), actor=sys.argv[1])
print(lock.path, flush=True)
sys.stdin.readline()
"""


def _holder_process(tmp_path: Path, actor: str, state: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp_path / state), HOME=str(tmp_path / state))
    proc = subprocess.Popen([sys.executable, "-c", HOLD, actor], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip().endswith("shop_checkout.lock"), "the holder process did not take the lock"
    return proc


def test_another_process_with_its_own_state_dir_is_seen_and_a_dead_one_taken_over(
        lockdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = _holder_process(tmp_path, "alice@bastion-1", "alice-state")
    try:
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "bob-state"))
        with pytest.raises(LockedError, match=rf"held by alice@bastion-1 \(pid {proc.pid}\) since"):
            HostLock.acquire(CHECKOUT, actor="bob@bastion-1")
    finally:
        proc.send_signal(signal.SIGKILL)  # no release: the process just dies
        proc.wait()
    assert json.loads((lockdir / "shop_checkout.lock").read_text())["pid"] == proc.pid  # stale content left
    lock = HostLock.acquire(CHECKOUT, actor="bob@bastion-1")  # the kernel dropped the dead one's flock
    assert json.loads(lock.path.read_text())["holder"] == holder_identity("bob@bastion-1")
    lock.release()


def test_a_clean_exit_of_the_holder_frees_the_lock_too(lockdir: Path, tmp_path: Path) -> None:
    proc = _holder_process(tmp_path, "alice@bastion-1", "alice-state")
    proc.communicate("\n")
    HostLock.acquire(CHECKOUT, actor="bob@bastion-1").release()


def test_hostile_holder_text_is_made_inert_in_the_refusal(lockdir: Path) -> None:
    lockdir.mkdir(mode=0o1777)
    path = lockdir / "shop_checkout.lock"
    path.write_text(json.dumps({"holder": "mallory\x1b]0;pwned\x07\u202e@evil", "since": "2024-05-01T06:41:02Z",
                                "host": "h\x1b[31m"}))
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by another open file (another holder)
    try:
        with pytest.raises(LockedError) as exc:
            HostLock.acquire(CHECKOUT, actor="bob@bastion-1")
    finally:
        os.close(fd)
    msg = exc.value.message
    assert "\x1b" not in msg and "\x07" not in msg and "\u202e" not in msg
    assert "mallory" in msg and "@evil" in msg and "since " in msg


def test_a_symlinked_lock_file_is_refused(lockdir: Path, tmp_path: Path) -> None:
    lockdir.mkdir(mode=0o1777)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (lockdir / "shop_checkout.lock").symlink_to(victim)
    with pytest.raises(CockpitError, match="symbolic link"):
        HostLock.acquire(CHECKOUT, actor="bob@bastion-1")
    assert victim.read_text() == "keep me"


def test_a_removed_lock_file_means_the_lock_is_no_longer_held(lockdir: Path) -> None:
    lock = HostLock.acquire(CHECKOUT, actor="alice@bastion-1")
    lock.ensure_held()
    lock.path.unlink()  # an admin cleaning up: a newcomer could now lock a new file
    with pytest.raises(LockedError, match="no longer held"):
        lock.ensure_held()
    lock.release()
    with pytest.raises(LockedError, match="no longer held"):
        lock.ensure_held()


def test_lock_dir_prefers_the_override_then_the_first_usable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locks.LOCK_DIR_ENV, raising=False)
    blocked = tmp_path / "run-lock-cockpit"
    blocked.write_text("not a directory")
    fallback = tmp_path / "tmp" / "cockpit-locks"
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(locks, "LOCK_DIRS", (blocked, fallback))
    assert locks.lock_dir() == fallback and stat.S_IMODE(fallback.stat().st_mode) == 0o1777
    link = tmp_path / "link"
    link.symlink_to(fallback)
    monkeypatch.setenv(locks.LOCK_DIR_ENV, str(link))
    with pytest.raises(CockpitError, match="no usable host-wide lock directory"):
        locks.lock_dir()  # never a symlinked directory
    monkeypatch.setenv(locks.LOCK_DIR_ENV, str(tmp_path / "mine"))
    assert locks.lock_dir() == tmp_path / "mine"


class CountingLocker:
    def __init__(self) -> None:
        self.calls: list[tuple[Target, str]] = []

    def acquire(self, target: Target, *, actor: str, warn=None) -> TargetLock:
        self.calls.append((target, actor))
        return HostLock.acquire(target, actor=actor)


def test_readonly_never_takes_a_lock(lockdir: Path) -> None:
    locker = CountingLocker()
    for candidate in (locker, None):
        with pytest.raises(ReadonlyError, match="observers do not take the lock on shop/checkout"):
            acquire_target_lock(candidate, CHECKOUT, actor="carol@bastion-2", readonly=True)
    assert locker.calls == [] and not lockdir.exists()


def test_acquire_target_lock_uses_the_locker_or_the_host_file(lockdir: Path) -> None:
    locker = CountingLocker()
    lock = acquire_target_lock(locker, CHECKOUT, actor="alice@bastion-1", readonly=False)
    assert locker.calls == [(CHECKOUT, "alice@bastion-1")]
    lock.release()
    lock = acquire_target_lock(None, "web", actor="alice@bastion-1", readonly=False)  # a Docker container
    assert isinstance(lock, HostLock) and lock.path == lockdir / "web.lock"
    lock.release()


def test_a_reused_pid_is_not_the_same_process() -> None:
    me = os.getpid()
    started = locks.process_started(me)
    assert started is not None
    assert locks.process_alive(me) and locks.process_alive(me, started)
    assert not locks.process_alive(me, started + 1)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not locks.process_alive(proc.pid)
