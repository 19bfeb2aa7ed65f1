"""Leader election (``backends/kubernetes/leader.py``) against the simulated world's real Lease
semantics (resourceVersion conflicts, MicroTimes), over HTTP, with short real durations."""
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


def candidate(w, identity: str, log: list[str] | None = None, duration: int = 2, deadline: float = 1.5,
              retry: float = 0.2) -> LeaderElector:
    kube = connect(str(w.kubeconfig_path))
    return LeaderElector(kube.t, "shop", NAME, identity, lease_duration=duration, renew_deadline=deadline,
                         retry_period=retry, log=(log.append if log is not None else lambda s: None))


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
    b = candidate(shop, "b", log).start()
    try:
        time.sleep(3 * 2)  # three lease durations: a renews, b waits
        assert not b.is_leader() and b.leader() == "a" and a.is_leader()
        assert "leader election: a leads (Lease shop/cockpit-watch-checkout); b stands by" in log
        a.stop(release=False)  # a dies without a word (kill -9): the Lease must expire
        took = wait(b.is_leader, timeout=10)
        assert 1.0 <= took <= 2 + 1.0, took  # about one lease duration after a's last renewal
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
        time.sleep(0.5)
        assert a.stop(release=True) is True
        spec = lease(shop)["spec"]
        assert "holderIdentity" not in spec and spec["leaseDurationSeconds"] == 1
        assert not a.is_leader()
        took = wait(b.is_leader, timeout=5)
        assert took < 1.0, took  # at its next retry, not after the 30 s lease
        assert lease(shop)["spec"]["leaseTransitions"] == 1
    finally:
        b.stop()


def test_two_candidates_started_together_elect_exactly_one(shop) -> None:
    cands = [candidate(shop, f"c{i}") for i in range(4)]
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
    a = candidate(shop, "a", log).start()
    try:
        assert a.wait_for_leadership(5)
        shop.forbid("leases")
        cut = time.monotonic()
        wait(lambda: not a.is_leader(), timeout=5)
        assert time.monotonic() - cut <= 1.5 + 0.3  # within the renew deadline (+ one retry)
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
    a = candidate(shop, "a").start()
    assert a.wait_for_leadership(5)
    b = candidate(shop, "b").start()
    try:
        la = WatchLeadership(a)
        la.record_incident("shop/checkout", {"incident": "shop/checkout@3:abc", "state": "acting", "at": "t1"})
        la.record_incident("shop/checkout", {"incident": "shop/checkout@3:abc", "state": "done", "at": "t2"})
        assert la.incident("shop/checkout") == {"incident": "shop/checkout@3:abc", "state": "done", "at": "t2",
                                               "by": "a"}
        a.stop(release=True)
        wait(b.is_leader, timeout=5)
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
