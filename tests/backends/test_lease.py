"""The Lease lock against the simulated world over real HTTP (and real processes).

Nothing is mocked: the world serves ``coordination.k8s.io/v1`` Leases; a second operator is a
second locker (another actor) or another process with its own XDG_STATE_HOME.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backends.kubernetes.backend import KubeBackend, connect
from backends.kubernetes.lease import LeaseLock, LeaseLocker, lease_name, microtime
from cockpit import locks
from cockpit.errors import LockedError, NotFoundError, ReadonlyError
from cockpit.locks import HostLock, acquire_target_lock, holder_identity
from cockpit.model import Target
from cockpit.world.world import World

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = Target("checkout", "shop")
LEASE = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/cockpit-incident-checkout"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HINT = "join as an observer with --readonly, or ask them to hand over"


@pytest.fixture
def shop(world: Callable[..., World]) -> World:
    return world("bad-image", speed=60.0)


@pytest.fixture
def connect_to(shop: World) -> Iterator[Callable[..., KubeBackend]]:
    made: list[KubeBackend] = []

    def make(readonly: bool = False) -> KubeBackend:
        kube = connect(str(shop.kubeconfig_path), readonly=readonly)
        made.append(kube)
        return kube

    yield make
    for kube in made:
        kube.close()


@pytest.fixture
def kube(connect_to: Callable[..., KubeBackend]) -> KubeBackend:
    return connect_to()


@pytest.fixture(autouse=True)
def lockdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "locks"
    monkeypatch.setenv(locks.LOCK_DIR_ENV, str(d))
    return d


@pytest.fixture
def held() -> Iterator[list[Any]]:
    """Locks taken by a test, released at teardown even when it fails."""
    taken: list[Any] = []
    yield taken
    for lock in taken:
        lock.release()


def lease(kube: KubeBackend) -> dict[str, Any]:
    return kube.t.request("GET", LEASE)


def foreign_lease(kube: KubeBackend, holder: str, renewed: datetime, *, transitions: int = 2,
                  annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A Lease written by another operator (through the API, as their cockpit would)."""
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "cockpit-incident-checkout", "namespace": "shop", "annotations": annotations or {}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60,
                     "acquireTime": microtime((renewed - timedelta(minutes=5)).timestamp()),
                     "renewTime": microtime(renewed.timestamp()), "leaseTransitions": transitions}}
    return kube.t.request("POST", LEASES, body=body)


# --------------------------------------------------------------------------- names


def test_lease_names_are_dns_1123_subdomains() -> None:
    dns = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    assert lease_name("checkout") == "cockpit-incident-checkout"
    long = lease_name("a" * 253)
    assert len(long) <= 253 and dns.match(long) and long != lease_name("a" * 252)
    odd = lease_name("Web_API")
    assert dns.match(odd) and odd != lease_name("web-api")  # never two targets on one Lease


# --------------------------------------------------------------------------- one holder


@pytest.mark.parametrize("client", ["light", "official"])
def test_a_second_operator_is_refused_naming_the_holder_and_since_when(
        client: str, connect_to: Callable[..., KubeBackend], monkeypatch: pytest.MonkeyPatch,
        held: list[Any], kubectl: Callable[..., Any], shop: World) -> None:
    if client == "official":
        monkeypatch.setenv("COCKPIT_KUBE_CLIENT", "official")
    alice_kube, bob_kube = connect_to(), connect_to()
    warnings: list[str] = []
    alice = LeaseLocker(alice_kube).acquire(CHECKOUT, actor="alice@bastion-1", warn=warnings.append)
    held.append(alice)
    assert isinstance(alice, LeaseLock) and not alice.host_only and alice.held and warnings == []
    assert alice.holder == holder_identity("alice@bastion-1") == f"alice@bastion-1 (pid {os.getpid()})"
    assert alice.where == "Lease shop/cockpit-incident-checkout"

    obj = lease(alice_kube)
    spec, meta = obj["spec"], obj["metadata"]
    assert spec["holderIdentity"] == alice.holder and spec["leaseDurationSeconds"] == 60
    assert spec["leaseTransitions"] == 0 and MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"])
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "cockpit"
    ann = meta["annotations"]
    assert ann["cockpit/session"] == locks.SESSION and ann["cockpit/host"] == socket.gethostname()
    assert ann["cockpit/pid"] == str(os.getpid()) and ann["cockpit/actor"] == "alice@bastion-1"

    with pytest.raises(LockedError) as exc:
        LeaseLocker(bob_kube).acquire(CHECKOUT, actor="bob@bastion-2")
    local = alice.since.astimezone() if alice.since else None
    assert local is not None and exc.value.exit_code == 6 and exc.value.hint == HINT
    assert re.fullmatch(
        rf"shop/checkout is held by alice@bastion-1 \(pid {os.getpid()}\) since {local:%H:%M:%S} on {local:%Y-%m-%d} "
        r"\(Lease shop/cockpit-incident-checkout, renewed \d+s ago\)", exc.value.message), exc.value.message
    assert lease(bob_kube)["spec"]["holderIdentity"] == alice.holder  # bob changed nothing
    # kubectl shows who holds it
    out = kubectl(shop).ok("get", "lease", "-n", "shop", "cockpit-incident-checkout",
                           "-o", "jsonpath={.spec.holderIdentity}")
    assert out == alice.holder
    alice.release()  # over this transport too: deleted
    with pytest.raises(NotFoundError):
        lease(bob_kube)
    LeaseLocker(bob_kube).acquire(CHECKOUT, actor="bob@bastion-2").release()


def test_another_process_with_its_own_state_dir_is_refused_and_a_dead_one_taken_over(
        kube: KubeBackend, shop: World, tmp_path: Path, held: list[Any]) -> None:
    script = (
        "import sys\n"
        "from backends.kubernetes.backend import connect\n"
        "from backends.kubernetes.lease import LeaseLocker\n"
        "from cockpit.model import Target\n"
        "lock = LeaseLocker(connect(sys.argv[1])).acquire(Target('checkout', 'shop'), actor='alice@bastion-1')\n"
        "print(lock.holder, flush=True)\n"
        "sys.stdin.readline()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp_path / "alice-state"))
    proc = subprocess.Popen([sys.executable, "-c", script, str(shop.kubeconfig_path)], cwd=ROOT, env=env,
                            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"alice@bastion-1 (pid {proc.pid})"
        with pytest.raises(LockedError, match=rf"held by alice@bastion-1 \(pid {proc.pid}\) since "):
            LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1")  # same user, another session
    finally:
        proc.send_signal(signal.SIGKILL)  # a crash: nothing released
        proc.wait()
    before = lease(kube)["spec"]
    assert before["holderIdentity"] == f"alice@bastion-1 (pid {proc.pid})"  # not expired, but its process is dead
    lock = LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1")
    held.append(lock)
    after = lease(kube)["spec"]
    assert after["holderIdentity"] == lock.holder and after["leaseTransitions"] == before["leaseTransitions"] + 1


def test_a_live_process_on_this_host_is_not_taken_over(kube: KubeBackend, held: list[Any]) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    try:
        foreign_lease(kube, f"dave@{socket.gethostname()} (pid {sleeper.pid})", datetime.now(timezone.utc),
                      annotations={"cockpit/host": socket.gethostname(), "cockpit/pid": str(sleeper.pid),
                                   "cockpit/session": "someone-else"})
        with pytest.raises(LockedError, match=rf"held by dave@.* \(pid {sleeper.pid}\)"):
            LeaseLocker(kube).acquire(CHECKOUT, actor="erin@bastion-1")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_expired_lease_is_taken_over(kube: KubeBackend, held: list[Any]) -> None:
    stale = datetime.now(timezone.utc) - timedelta(minutes=10)
    foreign_lease(kube, "zoe@bastion-9 (pid 4242)", stale, transitions=2)
    lock = LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1")
    held.append(lock)
    spec = lease(kube)["spec"]
    assert spec["holderIdentity"] == lock.holder and spec["leaseTransitions"] == 3
    acquired = datetime.strptime(spec["acquireTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert acquired > stale and lock.since == acquired


def test_a_fresh_foreign_lease_is_refused_with_its_renewal_age(kube: KubeBackend) -> None:
    foreign_lease(kube, "zoe@bastion-9 (pid 4242)", datetime.now(timezone.utc) - timedelta(seconds=30))
    with pytest.raises(LockedError, match=r"held by zoe@bastion-9 \(pid 4242\) since .*renewed 3\ds ago\)"):
        LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1")
    assert lease(kube)["spec"]["holderIdentity"] == "zoe@bastion-9 (pid 4242)"


# --------------------------------------------------------------------------- renew and release


def test_renew_moves_renew_time_only(kube: KubeBackend, held: list[Any]) -> None:
    lock = LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1")
    held.append(lock)
    before = lease(kube)["spec"]
    lock.renew()
    after = lease(kube)["spec"]
    assert after["renewTime"] > before["renewTime"]
    assert {k: after[k] for k in ("holderIdentity", "acquireTime", "leaseTransitions")} == \
        {k: before[k] for k in ("holderIdentity", "acquireTime", "leaseTransitions")}


def test_the_renew_thread_renews_while_the_session_lives(kube: KubeBackend, held: list[Any]) -> None:
    lock = LeaseLocker(kube, duration=3).acquire(CHECKOUT, actor="alice@bastion-1")  # renews every second
    held.append(lock)
    first = lease(kube)["spec"]["renewTime"]
    seen = first
    for _ in range(300):  # wait for it, up to 30 s (asserting what happened, not how fast)
        seen = lease(kube)["spec"]["renewTime"]
        if seen != first:
            break
        time.sleep(0.1)
    assert seen > first and lock.held


def test_release_deletes_our_lease_and_the_same_holder_shares_it(kube: KubeBackend) -> None:
    locker = LeaseLocker(kube)
    a = locker.acquire(CHECKOUT, actor="alice@bastion-1")
    b = locker.acquire(CHECKOUT, actor="alice@bastion-1")  # the TUI and the rollback use case
    assert b.holder == a.holder
    a.release()
    a.release()  # idempotent
    assert lease(kube)["spec"]["holderIdentity"] == b.holder and b.held
    b.release()
    with pytest.raises(NotFoundError):
        lease(kube)
    assert not b.held
    with pytest.raises(LockedError, match="released"):
        b.ensure_held()


def test_release_never_touches_someone_elses_lease(kube: KubeBackend) -> None:
    warnings: list[str] = []
    lock = LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1", warn=warnings.append)
    try:
        obj = lease(kube)  # zoe takes it over (as if alice's renewals had stopped long enough)
        obj["spec"].update(holderIdentity="zoe@bastion-9 (pid 4242)", leaseTransitions=1)
        obj["metadata"]["annotations"]["cockpit/session"] = "zoe-session"
        kube.t.request("PUT", LEASE, body=obj)
        with pytest.raises(LockedError, match="no longer ours: another operator took it over"):
            lock.renew()
        assert not lock.held and len(warnings) == 1 and "zoe@bastion-9" in warnings[0]
        with pytest.raises(LockedError, match="no longer ours"):
            lock.ensure_held()
    finally:
        lock.release()
    assert lease(kube)["spec"]["holderIdentity"] == "zoe@bastion-9 (pid 4242)"


def test_release_checks_the_lease_is_still_ours_before_deleting(kube: KubeBackend) -> None:
    lock = LeaseLocker(kube).acquire(CHECKOUT, actor="alice@bastion-1")
    obj = lease(kube)  # taken over before alice's next renewal noticed it
    obj["spec"]["holderIdentity"] = "zoe@bastion-9 (pid 4242)"
    kube.t.request("PUT", LEASE, body=obj)
    lock.release()
    assert lease(kube)["spec"]["holderIdentity"] == "zoe@bastion-9 (pid 4242)"


class RacingTransport:
    """The real transport; before our first PUT another operator's real write lands (409)."""

    def __init__(self, inner: Any, kube: KubeBackend) -> None:
        self.inner, self.kube = inner, kube
        self.server, self.readonly = inner.server, inner.readonly
        self.calls: list[tuple[str, str]] = []
        self.raced = False

    def request(self, method: str, path: str, query: Any = None, body: Any = None, **kw: Any) -> Any:
        self.calls.append((method, path))
        if method == "PUT" and not self.raced:
            self.raced = True
            other = self.inner.request("GET", path)
            other["metadata"]["annotations"]["note"] = "touched by someone"
            self.inner.request("PUT", path, body=other)
        return self.inner.request(method, path, query, body, **kw)

    def close(self) -> None:
        self.inner.close()


def test_a_conflicting_update_retries_once_from_the_get(kube: KubeBackend, held: list[Any]) -> None:
    foreign_lease(kube, "zoe@bastion-9 (pid 4242)", datetime.now(timezone.utc) - timedelta(minutes=10))
    racing = RacingTransport(kube.t, kube)
    lock = LeaseLocker(KubeBackend(racing, namespace="shop")).acquire(CHECKOUT, actor="alice@bastion-1")
    held.append(lock)
    assert racing.calls == [("POST", LEASES), ("GET", LEASE), ("PUT", LEASE), ("GET", LEASE), ("PUT", LEASE)]
    obj = lease(kube)
    assert obj["spec"]["holderIdentity"] == lock.holder and obj["metadata"]["annotations"]["note"] == "touched by someone"


# --------------------------------------------------------------------------- readonly and RBAC


def test_readonly_refuses_before_any_request(connect_to: Callable[..., KubeBackend], shop: World) -> None:
    ro = connect_to(readonly=True)
    shop.clear_request_log()
    with pytest.raises(ReadonlyError, match="nothing was sent"):
        LeaseLocker(ro).acquire(CHECKOUT, actor="carol@bastion-2")
    for readonly in (True, False):  # refused by the core, and by the locker of a readonly backend
        with pytest.raises(ReadonlyError):
            acquire_target_lock(LeaseLocker(ro), CHECKOUT, actor="carol@bastion-2", readonly=readonly)
    assert shop.request_log == [] and not locks.lock_dir().joinpath("shop_checkout.lock").exists()
    ro.history(CHECKOUT)  # the log does see this backend's requests
    assert shop.request_log


def test_forbidden_leases_fall_back_to_the_host_lock_file_with_a_warning(
        kube: KubeBackend, shop: World, lockdir: Path, held: list[Any]) -> None:
    shop.forbid("leases")
    warnings: list[str] = []
    lock = acquire_target_lock(LeaseLocker(kube), CHECKOUT, actor="alice@bastion-1", readonly=False,
                               warn=warnings.append)
    held.append(lock)
    path = lockdir / "shop_checkout.lock"
    assert isinstance(lock, HostLock) and lock.host_only and lock.path == path
    assert warnings == [f"Leases are forbidden in namespace shop (403): using a host-wide lock file {path} — "
                        "it does not protect against operators on other hosts"]
    assert json.loads(path.read_text())["holder"] == lock.holder
    with pytest.raises(LockedError, match=rf"held by alice@bastion-1 .* \(lock file {re.escape(str(path))} on "):
        LeaseLocker(kube).acquire(CHECKOUT, actor="bob@bastion-1")
