"""Fleet rollback against two real worlds merged into one kubeconfig as two contexts.

``cockpit rollback -l SELECTOR [-A | -n NS] [--context C]... [NAME...]`` is driven as the
installed CLI (subprocesses), PATCHes are counted at each world, the journal is read back
through the fleet's fold. Nothing is mocked; the one stand-in is a backend that "dies" right
after its PATCH (a crash between intent and outcome cannot be caused on cue otherwise).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.kubernetes.backend import KubeBackend
from backends.kubernetes.clusters import KubeFleet
from backends.kubernetes.lease import LeaseLocker
from cockpit import fleet as fl
from cockpit import locks
from cockpit.errors import LockedError
from cockpit.journal import Journal, read_journal
from cockpit.locks import acquire_target_lock
from cockpit.model import Target
from cockpit.world.world import World

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = """
name: fleet
namespaces: [shop, pay, web]
traffic_rps: 0
deployments:
  - {name: checkout, namespace: shop, replicas: 2, labels: {tier: web}, revisions: [
      {image: "registry.example/checkout:1.4.2"}, {image: "registry.example/checkout:1.5.0"}]}
  - {name: cart, namespace: shop, replicas: 1, labels: {tier: web}, revisions: [
      {image: "registry.example/cart:3.1.0"}]}
  - {name: db, namespace: shop, replicas: 1, labels: {tier: data}, revisions: [
      {image: "registry.example/db:1.0"}, {image: "registry.example/db:1.1"}]}
  - {name: api, namespace: pay, replicas: 2, labels: {tier: web}, revisions: [
      {image: "registry.example/api:2.0.0"}, {image: "registry.example/api:2.1.0"}]}
"""
BATCH = "".join(
    f"""  - {{name: job-{i}, namespace: web, replicas: 1, labels: {{tier: batch}}, revisions: [
      {{image: "registry.example/job-{i}:1.0"}}, {{image: "registry.example/job-{i}:2.0"}}]}}
""" for i in range(6))
WEB = (("shop", "checkout"), ("pay", "api"))
OLD = {"checkout": "registry.example/checkout:1.4.2", "api": "registry.example/api:2.0.0"}


class Fleet:
    """Two worlds (east, west) and one kubeconfig naming both."""

    def __init__(self, tmp: Path, east: World, west: World) -> None:
        self.tmp, self.east, self.west = tmp, east, west
        self.kubeconfig = tmp / "kubeconfig"
        self.write_kubeconfig()
        self.env = {**os.environ, "XDG_STATE_HOME": str(tmp / "state"), "COCKPIT_LOCK_DIR": str(tmp / "locks"),
                    "PYTHONPATH": str(ROOT)}

    @property
    def worlds(self) -> dict[str, World]:
        return {"east": self.east, "west": self.west}

    def write_kubeconfig(self) -> None:
        cfg: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [],
                               "current-context": "east"}
        for name, w in self.worlds.items():
            cfg["clusters"].append({"name": name, "cluster": {"server": w.url}})
            cfg["users"].append({"name": name, "user": {}})
            cfg["contexts"].append({"name": name, "context": {"cluster": name, "user": name, "namespace": "shop"}})
        self.kubeconfig.write_text(yaml.safe_dump(cfg))

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cockpit", "--kubeconfig", str(self.kubeconfig), *args]

    def cockpit(self, *args: str, timeout: float = 120.0, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env,
                              cwd=self.tmp, input=stdin)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, cwd=self.tmp)


def patches(w: World, namespace: str | None = None, name: str | None = None) -> int:
    """PATCHes of deployments that reached ``w`` (all of them, or one deployment's)."""
    return sum(1 for m, p in w.request_log if m == "PATCH" and "/deployments/" in p
               and (namespace is None or p.endswith(f"/namespaces/{namespace}/deployments/{name}")))


def image(w: World, namespace: str, name: str) -> str:
    return w.store.require("deployments", namespace, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def scenario(tmp: Path, extra: str = "") -> Path:
    path = tmp / "fleet.yaml"
    path.write_text(SCENARIO + extra)
    return path


@pytest.fixture
def fleet(world: Callable[..., World], tmp_path: Path) -> Fleet:
    sc = scenario(tmp_path)
    return Fleet(tmp_path, world(sc, speed=50.0), world(sc, speed=50.0))


@pytest.fixture
def batch(world: Callable[..., World], tmp_path: Path) -> Fleet:
    sc = scenario(tmp_path, BATCH)
    return Fleet(tmp_path, world(sc, speed=50.0), world(sc, speed=50.0))


@pytest.fixture(autouse=True)
def lockdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "locks"
    monkeypatch.setenv(locks.LOCK_DIR_ENV, str(d))
    return d


def test_one_plan_across_namespaces_and_contexts(fleet: Fleet) -> None:
    journal = fleet.tmp / "fleet.jsonl"
    out = fleet.cockpit("rollback", "-l", "tier=web", "-A", "--context", "east", "--context", "west", "--yes",
                        "--journal", str(journal), "-o", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    plan = {e["member"]: e for e in doc["plan"]}
    # every web deployment of both clusters, across namespaces; the data tier is not selected
    assert sorted(plan) == ["east/pay/api", "east/shop/cart", "east/shop/checkout",
                            "west/pay/api", "west/shop/cart", "west/shop/checkout"]
    for ctx in ("east", "west"):
        assert plan[f"{ctx}/shop/checkout"]["action"] == "rollback"
        assert (plan[f"{ctx}/shop/checkout"]["from_revision"], plan[f"{ctx}/shop/checkout"]["to_revision"]) == (2, 1)
        assert plan[f"{ctx}/shop/checkout"]["images"] == [OLD["checkout"]]
        assert plan[f"{ctx}/shop/cart"]["action"] == "skip" and "no earlier revision" in plan[f"{ctx}/shop/cart"]["why"]
    # the plan was shown before anything was done (stderr, since stdout is JSON)
    assert "CONTEXT" in out.stderr and "skip: no earlier revision" in out.stderr
    results = {r["member"]: r["status"] for r in doc["results"]}
    assert results == {**{k: "ok" for k in plan if "cart" not in k}, "east/shop/cart": "skipped",
                       "west/shop/cart": "skipped"}
    for w in fleet.worlds.values():
        for ns, name in WEB:
            assert patches(w, ns, name) == 1 and image(w, ns, name) == OLD[name]
        assert patches(w) == 2  # cart (nothing to do) and db (not selected) were not touched
        assert image(w, "shop", "db") == "registry.example/db:1.1"
        assert w.store.list("leases", "shop") == [] and w.store.list("leases", "pay") == []  # every Lease released
    # one journal: every target's intents and outcomes, folded per target
    state = fl.fold(read_journal(journal))
    assert state.plan is not None and len(state.plan.rollbacks) == 4
    for key in ("east/shop/checkout", "east/pay/api", "west/shop/checkout", "west/pay/api"):
        incident = state.incident(key)
        assert incident.target == key.split("/", 1)[1]
        assert incident.rolled_back is not None and incident.rolled_back.to_revision == 1
        assert [a.status for a in incident.actions] == ["ok"]
        assert state.status(key) == "ok"
    assert state.finished is not None and state.finished.ok and state.finished.rolled_back == 4
    # a second fleet finds nothing to do: someone (us) already rolled them back
    again = fleet.cockpit("rollback", "-l", "tier=web", "-A", "--context", "east", "--context", "west", "--yes")
    assert again.returncode == 0, again.stderr
    assert "already rolled back by" in again.stdout and "nothing to roll back" in again.stdout
    assert all(patches(w) == 2 for w in fleet.worlds.values())


def test_readonly_shows_the_plan_and_sends_nothing(fleet: Fleet) -> None:
    out = fleet.cockpit("rollback", "-l", "tier=web", "-A", "--context", "east", "--context", "west", "--readonly")
    assert out.returncode == 5, out.stderr
    assert "east      pay" in out.stdout and "roll back" in out.stdout
    assert "would roll back 4 deployment(s)" in out.stderr and "nothing was sent" in out.stderr
    for w in fleet.worlds.values():
        assert set(w.request_counts) == {"GET"}


def _in_rollback(records: list[dict]) -> int:
    """The most targets that were being rolled back at once (started → their run finished)."""
    busy: set[str] = set()
    most = 0
    for r in records:
        if r["type"] == "fleet_target" and r["status"] == "started":
            busy.add(r["member"])
        elif r["type"] == "run_finished":
            busy.discard(r.get("member"))
        most = max(most, len(busy))
    return most


@pytest.mark.parametrize("parallel", [1, 3])
def test_parallel_bounds_how_many_targets_are_rolled_back_at_once(batch: Fleet, parallel: int) -> None:
    journal = batch.tmp / f"p{parallel}.jsonl"
    out = batch.cockpit("rollback", "-l", "tier=batch", "-n", "web", "--context", "east", "--context", "west",
                        "--parallel", str(parallel), "--yes", "--no-evidence", "--journal", str(journal))
    assert out.returncode == 0, out.stderr
    records = read_journal(journal)
    assert 1 <= _in_rollback(records) <= parallel
    if parallel == 1:  # one after the other, in the plan's order
        started = [r["member"] for r in records if r["type"] == "fleet_target" and r["status"] == "started"]
        assert started == sorted(started) and len(started) == 12
    assert all(patches(w, "web", f"job-{i}") == 1 for w in batch.worlds.values() for i in range(6))


def test_the_first_failure_stops_new_starts_then_resume_finishes(batch: Fleet) -> None:
    journal = batch.tmp / "fleet.jsonl"
    batch.east.forbid("deployments", ["patch"])  # RBAC says no to the first target's PATCH
    out = batch.cockpit("rollback", "-l", "tier=batch", "-n", "web", "--context", "east", "--context", "west",
                        "--parallel", "1", "--yes", "--no-evidence", "--journal", str(journal))
    assert out.returncode == 1, out.stderr
    assert "first failure east/web/job-0: Forbidden" in out.stderr and "1 failed, 11 not started" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert patches(batch.east) == 1 and patches(batch.west) == 0  # nothing started after the failure
    state = fl.fold(read_journal(journal))
    assert state.status("east/web/job-0") == "failed"
    assert [state.status(f"{c}/web/job-{i}") for c in ("east", "west") for i in range(6)][1:] == ["not_started"] * 11
    # the cause fixed, the same journal continues the plan
    batch.east.allow("deployments")
    again = batch.cockpit("rollback", "--journal", str(journal), "--yes", "--no-evidence")
    assert again.returncode == 0, again.stderr
    assert "resuming the fleet rollback" in again.stdout
    for w in batch.worlds.values():
        for i in range(6):
            assert image(w, "web", f"job-{i}") == f"registry.example/job-{i}:1.0"
    # one refused PATCH, then exactly one per target
    assert patches(batch.east, "web", "job-0") == 2 and patches(batch.east) == 7 and patches(batch.west) == 6


def test_keep_going_goes_on_after_a_failure(batch: Fleet) -> None:
    batch.east.forbid("deployments", ["patch"])
    out = batch.cockpit("rollback", "-l", "tier=batch", "-n", "web", "--context", "east", "--context", "west",
                        "--parallel", "2", "--keep-going", "--yes", "--no-evidence", "-o", "json")
    assert out.returncode == 1, out.stderr
    results = {r["member"]: r for r in json.loads(out.stdout)["results"]}
    assert {k for k, r in results.items() if r["status"] == "failed"} == {f"east/web/job-{i}" for i in range(6)}
    assert {k for k, r in results.items() if r["status"] == "ok"} == {f"west/web/job-{i}" for i in range(6)}
    assert results["east/web/job-3"]["error"]["title"] == "Forbidden"
    assert patches(batch.west) == 6 and patches(batch.east) == 6


def test_one_cluster_unreachable(fleet: Fleet, world: Callable[..., World]) -> None:
    port = fleet.west.port
    fleet.west.stop()
    # without --keep-going: nothing is sent anywhere, the unreachable context is named
    out = fleet.cockpit("rollback", "-l", "tier=web", "-A", "--context", "east", "--context", "west", "--yes")
    assert out.returncode == 4, out.stderr
    assert "FAILED: Unreachable" in out.stdout and "cockpit: Unreachable: west:" in out.stderr
    assert "nothing was sent; --keep-going rolls back the other 2" in out.stderr
    assert patches(fleet.east) == 0
    # with --keep-going: east's targets are rolled back, west's fail, exit 4
    journal = fleet.tmp / "fleet.jsonl"
    out = fleet.cockpit("rollback", "-l", "tier=web", "-A", "--context", "east", "--context", "west", "--yes",
                        "--keep-going", "--journal", str(journal))
    assert out.returncode == 4, out.stderr
    assert "2 rolled back" in out.stderr and "first failure west: Unreachable" in out.stderr
    assert patches(fleet.east) == 2
    # west answers again (a fresh cluster on the same address): the resume lists it and rolls its
    # targets back; east's are not sent again
    fleet.west = world(scenario(fleet.tmp), speed=50.0, port=port)
    again = fleet.cockpit("rollback", "--journal", str(journal), "--yes")
    assert again.returncode == 0, again.stderr
    assert patches(fleet.east) == 2 and patches(fleet.west) == 2
    assert image(fleet.west, "pay", "api") == OLD["api"]


class Crash(SystemExit):
    """The process dies (SIGKILL, a lost SSH session): nothing more is written."""


class DiesAfterPatch(KubeBackend):
    """The real backend; the process "dies" right after the ``n``-th rollback PATCH was sent."""

    def __init__(self, real: KubeBackend, n: int) -> None:
        super().__init__(real.t, namespace=real.namespace, context=real.context)
        self.n = n

    def rollback(self, target: Target, to_revision: int = 0, **kw: Any) -> Any:  # type: ignore[override]
        out = super().rollback(target, to_revision, **kw)
        self.n -= 1
        if self.n == 0:
            raise Crash(1)
        return out


def test_resume_after_a_crash_mid_fleet_sends_no_second_patch(batch: Fleet) -> None:
    journal_path = batch.tmp / "fleet.jsonl"
    source = KubeFleet.connect(str(batch.kubeconfig), ["east", "west"])
    source.backends["east"] = DiesAfterPatch(source.backends["east"], 3)
    scope = fl.Scope("tier=batch", (), ("web",), False, ("east", "west"))
    journal = Journal.open(journal_path)
    plan, taken = fl.prepare_plan(source, scope, acquire=lambda m: acquire_target_lock(
        source.locker(m.context), m.target, actor=journal.actor, readonly=False))
    journal.write(plan.event(parallel=1, keep_going=False))
    with pytest.raises(Crash):
        fl.FleetRun(plan, journal, source, fl.RunOptions(parallel=1, evidence=False), locks=taken).run()
    journal.close()
    state = fl.fold(read_journal(journal_path))
    # two done (their rollouts may still have been followed when it died), the third's PATCH sent
    # with no outcome, nothing after it started
    assert [[a.status for a in state.incident(f"east/web/job-{i}").actions] for i in range(4)] == [
        ["ok"], ["ok"], ["pending"], []]
    assert [state.status(f"east/web/job-{i}") for i in range(2, 6)] == ["started", "planned", "planned", "planned"]
    assert patches(batch.east) == 3 and patches(batch.west) == 0
    # resume: the pending intent is reconciled (it took effect), the rest of the plan goes on
    out = batch.cockpit("rollback", "--journal", str(journal_path), "--yes", "--no-evidence")
    assert out.returncode == 0, out.stderr
    for w in batch.worlds.values():
        for i in range(6):
            assert patches(w, "web", f"job-{i}") == 1, (w, i)
            assert image(w, "web", f"job-{i}") == f"registry.example/job-{i}:1.0"
    state = fl.fold(read_journal(journal_path))
    outcome = state.incident("east/web/job-2").actions[0].outcome
    assert outcome is not None and outcome.get("resumed") is True and outcome["ok"]
    assert all(state.status(f"{c}/web/job-{i}") == "ok" for c in ("east", "west") for i in range(6))


def test_killed_mid_fleet_then_resumed_never_patches_twice(batch: Fleet) -> None:
    """A real SIGKILL wherever it lands: every target ends rolled back, none PATCHed twice."""
    journal = batch.tmp / "fleet.jsonl"
    proc = batch.popen("rollback", "-l", "tier=batch", "-n", "web", "--context", "east", "--context", "west",
                       "--parallel", "1", "--yes", "--journal", str(journal))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count('"status": "started"') >= 3:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = {c: patches(w) for c, w in batch.worlds.items()}
    assert 0 < sum(before.values()) < 12  # killed mid-fleet
    out = batch.cockpit("rollback", "--journal", str(journal), "--yes")
    assert out.returncode == 0, out.stderr
    for w in batch.worlds.values():
        for i in range(6):
            assert patches(w, "web", f"job-{i}") == 1
            assert image(w, "web", f"job-{i}") == f"registry.example/job-{i}:1.0"


def test_two_fleets_on_overlapping_targets_cannot_deadlock(batch: Fleet) -> None:
    """Each names the targets in its own order and waits for a held one; both finish, long
    before the wait is over, and every target is rolled back once."""
    names = [f"job-{i}" for i in range(6)]
    a = batch.popen("rollback", *names[:5], "-n", "web", "--context", "east", "--context", "west", "--yes",
                    "--lock-wait", "600", "--journal", str(batch.tmp / "a.jsonl"))
    b = batch.popen("rollback", *reversed(names[1:]), "-n", "web", "--context", "west", "--context", "east", "--yes",
                    "--lock-wait", "600", "--journal", str(batch.tmp / "b.jsonl"))
    t0 = time.monotonic()
    outs = [p.communicate(timeout=660) for p in (a, b)]
    assert time.monotonic() - t0 < 180  # a deadlock would wait out the 600 s; a loaded machine is slow, not that slow
    assert [a.returncode, b.returncode] == [0, 0], outs
    for w in batch.worlds.values():
        assert all(patches(w, "web", n) == 1 for n in names)
        assert all(image(w, "web", n) == f"registry.example/{n}:1.0" for n in names)


def test_ordered_locks_two_holders_waiting_on_each_other_both_get_through(batch: Fleet) -> None:
    """In process, with real Leases: two holders each naming the targets in the opposite order
    — and bob's kubeconfig calls the clusters by other names, which sort the other way round —
    each holding its locks a while. In (cluster, namespace, name) order neither can hold one the
    other waits for while waiting itself."""
    alias = batch.tmp / "bob-kubeconfig"
    cfg = yaml.safe_load(batch.kubeconfig.read_text())
    for c in cfg["contexts"]:
        c["name"] = {"east": "zz-prod", "west": "aa-dr"}[c["name"]]
    cfg["current-context"] = "zz-prod"
    alias.write_text(yaml.safe_dump(cfg))
    alice = KubeFleet.connect(str(batch.kubeconfig), ["east", "west"])
    bob = KubeFleet.connect(str(alias), ["zz-prod", "aa-dr"])
    members = {"alice@east": [fl.Member(c, "web", f"job-{i}") for c in ("east", "west") for i in range(4)],
               "bob@west": [fl.Member(c, "web", f"job-{i}") for c in ("aa-dr", "zz-prod") for i in reversed(range(4))]}
    sources = {"alice@east": alice, "bob@west": bob}
    done: dict[str, float] = {}
    errors: list[BaseException] = []

    def take(actor: str, wait: float = 120.0) -> dict[str, Any]:
        source = sources[actor]
        return fl.lock_in_order(members[actor], lambda m: LeaseLocker(source.backend(m.context)).acquire(
            m.target, actor=actor), wait=wait, poll=0.05, cluster=source.cluster)

    def fleet(actor: str) -> None:
        try:
            taken = take(actor)
            time.sleep(0.5)
            fl.release_all(taken)
            done[actor] = time.monotonic()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t0 = time.monotonic()
    threads = [threading.Thread(target=fleet, args=(actor,)) for actor in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    assert not errors and sorted(done) == ["alice@east", "bob@west"]
    assert max(done.values()) - t0 < 40  # one waited for the other's 0.5 s, nobody for the 120 s
    # with no wait, the second is refused at its first target, holding nothing
    first = take("alice@east", 0.0)
    with pytest.raises(LockedError, match="alice@east"):
        take("bob@west", 0.0)
    assert all(o["spec"]["holderIdentity"].startswith("alice@east") for o in batch.east.store.list("leases", "web"))
    assert len(batch.west.store.list("leases", "web")) == 4
    fl.release_all(first)
    assert batch.east.store.list("leases", "web") == [] and batch.west.store.list("leases", "web") == []
    alice.close()
    bob.close()


def test_bad_input_one_line_each_and_nothing_sent(fleet: Fleet) -> None:
    both = ("--context", "east", "--context", "west")
    nothing = fleet.cockpit("rollback", "-l", "tier=none", *both, "--yes")
    assert nothing.returncode == 3, nothing.stderr
    assert ("no deployment matches -l tier=none in namespace shop of context east; namespace shop of context west"
            in nothing.stderr)
    everywhere = fleet.cockpit("rollback", "-l", "tier=none", "-A", "--context", "east", "--yes")
    assert everywhere.returncode == 3 and "in all namespaces of context east" in everywhere.stderr
    ghost = fleet.cockpit("rollback", "-l", "tier=web", "--context", "east", "--context", "north", "--yes")
    assert ghost.returncode == 2, ghost.stderr
    assert "'north' not in the kubeconfig; contexts: east, west" in ghost.stderr
    both_ns = fleet.cockpit("rollback", "-l", "tier=web", "-A", "-n", "shop", "--yes")
    assert both_ns.returncode == 2 and "-A and -n together" in both_ns.stderr
    missing = fleet.cockpit("rollback", "checkout", "nosuch", *both, "--yes")
    assert missing.returncode == 3 and "no deployment nosuch in namespace shop of context east" in missing.stderr
    bad_parallel = fleet.cockpit("rollback", "-l", "tier=web", "--parallel", "0", "--yes")
    assert bad_parallel.returncode == 2 and "expected a number from 1 to 1000" in bad_parallel.stderr
    no_tty = fleet.cockpit("rollback", "-l", "tier=web", *both, "--journal", str(fleet.tmp / "no.jsonl"), stdin="y\n")
    assert no_tty.returncode == 130 and "pass --yes" in no_tty.stderr
    assert not (fleet.tmp / "no.jsonl").exists()
    for out in (nothing, everywhere, ghost, both_ns, missing, bad_parallel, no_tty):
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    assert patches(fleet.east) == 0 and patches(fleet.west) == 0
    # resuming a fleet's journal with other arguments is refused; a one-target journal is not a fleet's
    journal = fleet.tmp / "fleet.jsonl"
    assert fleet.cockpit("rollback", "-l", "tier=data", *both, "--yes", "--journal", str(journal)).returncode == 0
    other = fleet.cockpit("rollback", "-l", "tier=web", "--yes", "--journal", str(journal))
    assert other.returncode == 2 and "holds the fleet rollback of -l tier=data" in other.stderr
    single = fleet.tmp / "single.jsonl"
    assert fleet.cockpit("rollback", "checkout", "--context", "east", "--yes", "--journal", str(single)).returncode == 0
    wrong = fleet.cockpit("rollback", "-l", "tier=web", "--yes", "--journal", str(single))
    assert wrong.returncode == 6 and "holds the incident on shop/checkout" in wrong.stderr


def test_a_fleets_targets_share_their_namespace_event_list(batch: Fleet, monkeypatch) -> None:
    """Fifty evidence captures in one namespace read its (large) event list once per 2 s, not
    fifty times; a backend that was not told to share reads it every time. (The sharing period
    is made 300 s here: on a loaded machine six reads may take longer than 2 s.)"""
    from backends.kubernetes import clusters

    monkeypatch.setattr(clusters, "SHARED_EVENTS_S", 300.0)
    source = KubeFleet.connect(str(batch.kubeconfig), ["east"])
    kube = source.backend("east")
    events_of = lambda: sum(1 for m, p in batch.east.request_log if m == "GET" and p == "/api/v1/namespaces/web/events")
    threads = [threading.Thread(target=kube.events, args=(Target(f"job-{i}", "web"),)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert events_of() == 1
    mine = {e.object for e in kube.events(Target("job-2", "web"), limit=500)}
    assert mine and all("job-2" in o for o in mine)  # still only the target's own events
    alone = KubeBackend(kube.t, namespace="web")
    alone.events(Target("job-1", "web"))
    alone.events(Target("job-1", "web"))
    assert events_of() == 3
    source.close()
