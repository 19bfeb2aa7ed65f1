"""Leader election (``backends/kubernetes/leader.py``) against the simulated world's real Lease
semantics (resourceVersion conflicts, MicroTimes), over HTTP, with short real durations.

Where a test is about *when* a candidate leads or stops leading, that candidate runs on a
:class:`Clock` the test freezes and steps (the elector's ``clock=``): the decision is then the
elector's own, made at a known time by its clock, not a race between its thread and the test's
polling on a loaded machine. The test waits for the candidate's next attempts by counting the
requests it finished (:class:`Counted`), never by sleeping."""
from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from backends.kubernetes.backend import connect
from backends.kubernetes.leader import LeaderElector, WatchLeadership, lease_name_for, validate_timings
from cockpit.errors import ConfigError, LockedError

NAME = "cockpit-watch-checkout"


@pytest.fixture
def shop(world):
    return world("bad-image", speed=10)


def lease(w) -> dict:
    obj = w.store.get("leases", "shop", NAME)
    assert obj is not None
    return obj


class Clock:
    """A monotonic clock that runs with the real one until :meth:`freeze`, then moves only when
    the test sets it (:meth:`set`)."""

    def __init__(self) -> None:
        self._frozen: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return time.monotonic() if self._frozen is None else self._frozen

    def freeze(self) -> float:
        with self._lock:
            self._frozen = time.monotonic()
            return self._frozen

    def set(self, t: float) -> None:
        with self._lock:
            assert self._frozen is not None and t >= self._frozen, "a monotonic clock only moves forward"
            self._frozen = t


class Counted:
    """The candidate's real transport, counting the requests it finished (answered or failed)."""

    def __init__(self, t) -> None:
        self.t = t
        self.done = 0
        self._cv = threading.Condition()

    def request(self, *args, **kw):
        try:
            return self.t.request(*args, **kw)
        finally:
            with self._cv:
                self.done += 1
                self._cv.notify_all()

    def wait_more(self, n: int, timeout: float = 10.0) -> None:
        """Until ``n`` more requests finished than now. A standby's attempt is one GET, so 3 more
        means at least one whole attempt was started after this call and its answer handled."""
        with self._cv:
            want = self.done + n
            assert self._cv.wait_for(lambda: self.done >= want, timeout), f"fewer than {n} requests in {timeout}s"


def candidate(w, identity: str, log: list[str] | None = None, duration: int = 2, deadline: float = 1.5,
              retry: float = 0.2, clock=time.monotonic) -> LeaderElector:
    kube = connect(str(w.kubeconfig_path))
    return LeaderElector(Counted(kube.t), "shop", NAME, identity, lease_duration=duration, renew_deadline=deadline,
                         retry_period=retry, log=(log.append if log is not None else lambda s: None), clock=clock)


# Where the test is not about when leadership moves: a stall of the machine (a loaded CI runner)
# shorter than 10 s never costs the leader its Lease.
CALM = {"duration": 15, "deadline": 10.0, "retry": 0.2}


def wait(pred, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not pred():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - start


def test_the_first_candidate_creates_the_lease_and_leads(shop) -> None:
    log: list[str] = []
    a = candidate(shop, "a", log).start()
    try:
        assert a.wait_for_leadership(5)
        assert a.is_leader() and a.leader() == "a"
        spec = lease(shop)["spec"]
        assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 2 and spec["leaseTransitions"] == 0
        datetime.strptime(spec["renewTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
        first = spec["renewTime"]
        wait(lambda: lease(shop)["spec"]["renewTime"] != first, timeout=2)  # renewed every retry period
        assert lease(shop)["spec"]["acquireTime"] == spec["acquireTime"]  # a renewal keeps acquireTime
        assert lease(shop)["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "cockpit"
        assert "leader election: a is the leader (Lease shop/cockpit-watch-checkout)" in log
    finally:
        a.stop()


def test_a_standby_never_leads_while_the_leader_renews_and_takes_over_after_it_dies(shop) -> None:
    log: list[str] = []
    a = candidate(shop, "a").start()
    assert a.wait_for_leadership(5)
    clock = Clock()  # b's: real time while a renews, then stepped by the test
    b = candidate(shop, "b", log, clock=clock).start()
    try:
        time.sleep(3 * 2)  # three lease durations of real time: a renews, b waits
        assert not b.is_leader() and b.leader() == "a" and a.is_leader()
        assert "leader election: a leads (Lease shop/cockpit-watch-checkout); b stands by" in log
        # From here b's clock stands still: every change b sees now, it sees at `seen`.
        seen = clock.freeze()
        renewed = lease(shop)["spec"]["renewTime"]
        wait(lambda: lease(shop)["spec"]["renewTime"] != renewed)  # a renewed after the freeze
        a.stop(release=False)  # a dies without a word (kill -9): the Lease must expire
        b.t.wait_more(3)  # b read the Lease as a left it: its last change, seen at `seen`
        clock.set(seen + 2 - 0.01)  # just short of one lease duration since
        b.t.wait_more(3)  # b looked again (more than once): a's Lease has not expired yet
        assert not b.is_leader() and b.leader() == "a" and lease(shop)["spec"]["holderIdentity"] == "a"
        clock.set(seen + 2)  # one lease duration since a's last renewal: expired
        wait(b.is_leader, timeout=10)  # at b's next retry
        spec = lease(shop)["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    finally:
        b.stop()
        a.stop(release=False)


def test_release_hands_over_at_once(shop) -> None:
    a = candidate(shop, "a", duration=30, deadline=20, retry=0.2).start()
    assert a.wait_for_leadership(5)
    b = candidate(shop, "b", duration=30, deadline=20, retry=0.2).start()
    try:
        wait(lambda: b.leader() == "a")  # b stands by, having seen a's renewals
        assert not b.is_leader()
        assert a.stop(release=True) is True
        spec = lease(shop)["spec"]
        assert "holderIdentity" not in spec and spec["leaseDurationSeconds"] == 1
        assert not a.is_leader()
        took = wait(b.is_leader, timeout=20)
        # at its next retry (0.2 s), not after the 30 s lease: < 10 s leaves a loaded machine room
        # and still rules the expiry out (b saw a renew less than a second before the release)
        assert took < 10, took
        assert lease(shop)["spec"]["leaseTransitions"] == 1
    finally:
        b.stop()


def test_two_candidates_started_together_elect_exactly_one(shop) -> None:
    cands = [candidate(shop, f"c{i}", **CALM) for i in range(4)]
    threads = [threading.Thread(target=c.start) for c in cands]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        wait(lambda: any(c.is_leader() for c in cands), timeout=5)
        for _ in range(20):
            assert sum(c.is_leader() for c in cands) <= 1
            time.sleep(0.1)
        leader = next(c for c in cands if c.is_leader())
        assert lease(shop)["spec"]["holderIdentity"] == leader.identity
    finally:
        for c in cands:
            c.stop()


def test_a_leader_cut_off_stops_leading_by_its_renew_deadline_and_leads_again(shop) -> None:
    log: list[str] = []
    clock = Clock()  # a's: it stands still from the cut, so a's last renewal is at `cut` or before
    a = candidate(shop, "a", log, clock=clock).start()
    try:
        assert a.wait_for_leadership(5)
        cut = clock.freeze()
        shop.forbid("leases")
        a.t.wait_more(2)  # a tried to renew since the cut: refused
        clock.set(cut + 1.5)  # the renew deadline since the cut
        assert not a.is_leader()  # no longer the leader, whatever a's loop has noticed yet
        a.t.wait_more(2)  # and a keeps trying, refused: it does not lead again while cut off
        assert not a.is_leader()
        wait(lambda: any("lost Lease shop/cockpit-watch-checkout" in line for line in log), timeout=5)
        assert any("Leases are forbidden in namespace shop" in line and "get, create and update" in line
                   for line in log), log
        shop.allow("leases")
        wait(a.is_leader, timeout=5)
        assert lease(shop)["spec"]["holderIdentity"] == "a"
    finally:
        shop.allow("leases")
        a.stop()


def test_a_lease_held_by_someone_else_is_never_taken_while_they_renew(shop) -> None:
    from backends.kubernetes.lease import microtime

    kube = connect(str(shop.kubeconfig_path))
    path = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
    kube.t.request("POST", path, body={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                        "metadata": {"name": NAME, "namespace": "shop"},
                                        "spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 2,
                                                 "renewTime": microtime(time.time())}})
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(0.3):
            cur = kube.t.request("GET", f"{path}/{NAME}")
            cur["spec"]["renewTime"] = microtime(time.time())
            kube.t.request("PUT", f"{path}/{NAME}", body=cur)

    t = threading.Thread(target=renew, daemon=True)
    t.start()
    log: list[str] = []
    a = candidate(shop, "a", log).start()
    try:
        time.sleep(3)
        assert not a.is_leader() and a.leader() == "someone-else"
        assert "leader election: someone-else leads (Lease shop/cockpit-watch-checkout); a stands by" in log
        with pytest.raises(LockedError, match="not the leader"):
            WatchLeadership(a).record_incident("shop/checkout", {"incident": "x", "state": "acting"})
        assert "annotations" not in lease(shop)["metadata"] or \
            "cockpit.io/watch-incidents" not in lease(shop)["metadata"]["annotations"]
        stop.set()
        t.join()
        wait(a.is_leader, timeout=5)  # they stopped renewing: it expired
    finally:
        stop.set()
        a.stop()


def test_incidents_are_recorded_on_the_lease_and_survive_a_takeover(shop) -> None:
    a = candidate(shop, "a", **CALM).start()
    assert a.wait_for_leadership(5)
    b = candidate(shop, "b", **CALM).start()
    try:
        la = WatchLeadership(a)
        la.record_incident("shop/checkout", {"incident": "shop/checkout@3:abc", "state": "acting", "at": "t1"})
        la.record_incident("shop/checkout", {"incident": "shop/checkout@3:abc", "state": "done", "at": "t2"})
        assert la.incident("shop/checkout") == {"incident": "shop/checkout@3:abc", "state": "done", "at": "t2",
                                               "by": "a"}
        a.stop(release=True)
        wait(b.is_leader, timeout=10)  # released: at b's next retry, not after the 15 s lease
        lb = WatchLeadership(b)
        assert lb.incident("shop/checkout")["state"] == "done"  # the new leader reads what the last one did
        assert lb.incident("shop/cart") is None
    finally:
        b.stop()


@pytest.mark.parametrize("timings, says", [
    ((1.5, 1.0, 0.2), "whole number of seconds"),
    ((10, 10, 2), "must be greater than --renew-deadline"),
    ((15, 2, 2), "greater than 1.2 x --retry-period"),
    ((15, 10, 0), "above zero"),
])
def test_timings_are_checked_as_client_go_does(timings, says) -> None:
    with pytest.raises(ConfigError, match=says):
        validate_timings(*timings)


def test_lease_names() -> None:
    assert lease_name_for("checkout") == "cockpit-watch-checkout"
    assert lease_name_for(selector="tier=web") == lease_name_for(selector="tier=web")
    assert lease_name_for(selector="tier=web").startswith("cockpit-watch-l-")
    assert lease_name_for(selector="tier=web") != lease_name_for(selector="tier=api")
    assert len(lease_name_for("x" * 300)) <= 253


@pytest.mark.parametrize("argv, says", [
    (["watch"], "name the DEPLOYMENT to watch, or -l SELECTOR for several"),
    (["watch", "checkout", "-l", "app=x"], "name one deployment or -l SELECTOR, not both"),
    (["watch", "checkout", "-A"], "-A (all namespaces) goes with -l SELECTOR"),
    (["watch", "-l", "tier=web", "--journal", "/tmp/j.jsonl"], "--journal is for one deployment"),
    (["--readonly", "watch", "checkout", "--leader-elect"], "--leader-elect writes a Lease"),
    (["watch", "checkout", "--leader-elect", "--lease-duration", "5", "--renew-deadline", "6"],
     "--lease-duration (5s) must be greater than --renew-deadline (6s)"),
    (["watch", "checkout", "--image", "x"], "--image goes with --print-manifest"),
    (["watch", "--print-manifest", "-A", "-l", "a=b"], "namespaced Role"),
])
def test_bad_flags_are_one_line_and_exit_2(argv, says, capsys) -> None:
    from cockpit.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cockpit: Bad configuration: ") and says in err[0], err
