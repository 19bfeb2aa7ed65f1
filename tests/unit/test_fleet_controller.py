"""The fleet controller without a terminal, against the real world (bad-image: checkout's live
revision fails ~30% of requests, cart is healthy and has one revision): every listed target's
verdict from its own engine (missing data never OK), the marks, the plan of the marked targets
(from → to, skipped with why), the run in a fleet journal of its own with each target's lock
taken in order (PATCHes counted at the world), the progress folded from that journal, a plan
that changed before the run asked again, and readonly refused below the UI.

The host is :class:`tests.unit.test_controllers.InlineHost` (the controllers' host without
Textual: thread work runs inline); everything else is real.
"""
from __future__ import annotations

import time

import pytest

from backends.kubernetes.backend import connect
from backends.kubernetes.clusters import KubeFleet
from cockpit import compose
from cockpit.controllers.fleet import INCONCLUSIVE, FleetController, TargetVerdict, plan_signature
from cockpit.decision import Engine
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.fleet import RunOptions, fold, is_fleet_journal
from cockpit.journal import read_journal
from cockpit.model import Target
from cockpit.session import Session
from screens.data import UIData
from tests.unit.test_controllers import InlineHost

CHECKOUT, CART = "shop/checkout", "shop/cart"


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


def patches(w) -> int:
    return sum(1 for m, p in w.request_log if m == "PATCH" and "/deployments/" in p)


class Rig:
    """The controller wired as ``compose.wire_controllers`` does, over a real session."""

    def __init__(self, w, tmp_path, *, readonly: bool = False) -> None:
        self.world = w
        self.backend = connect(str(w.kubeconfig_path), readonly=readonly)
        self.session = Session(backend=self.backend, readonly=readonly, journal_path=tmp_path / "incident.jsonl",
                               locker=None if readonly else compose.target_locker(self.backend))
        self.host, self.data = InlineHost(), UIData(readonly=readonly)
        self.asked: list[tuple] = []
        self.shown = 0
        self.fleet = FleetController(
            self.host, self.data, lambda: self.session, readonly=readonly, window_s=60.0,
            build=lambda t: compose.build_metrics(None, self.backend, w, t),
            source_factory=lambda: KubeFleet({self.backend.context or "default": self.backend}),
            ask=lambda plan, changed, then: self.asked.append((plan, changed, then)),
            show=self.show, prepare=compose.load_step_kinds, options=RunOptions(timeout=60.0))
        self.data.targets = self.session.targets()

    def show(self) -> None:
        self.shown += 1

    def verdicts(self, until: float = 20.0) -> dict[str, TargetVerdict]:
        """Poll until both targets have a conclusive verdict (two scrapes make a rate)."""
        end = time.monotonic() + until
        while True:
            self.host.run_poll("fleet")
            v = self.fleet.view.verdicts
            if all(k in v and v[k].value != INCONCLUSIVE for k in (CHECKOUT, CART)) or time.monotonic() > end:
                return v
            # a rate over a few seconds of traffic, not half a second's handful of requests (where one
            # 5xx of the good release's 0.2 % reads as 7 %)
            time.sleep(2.0)

    def close(self) -> None:
        self.fleet.close()
        self.session.close()


@pytest.fixture
def rig(world, tmp_path):
    made: list[Rig] = []

    def make(readonly: bool = False) -> Rig:
        w = made[0].world if made else world("bad-image", services=True)
        r = Rig(w, tmp_path, readonly=readonly)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_each_listed_target_has_its_own_verdict(rig):
    r = rig()
    r.fleet.start()
    assert r.host.polls["fleet"]["active"]() and r.host.polls["fleet"]["interval"] == 2.0  # warming up
    r.host.run_poll("fleet")
    first = dict(r.fleet.view.verdicts)
    assert set(first) == {CHECKOUT, CART}
    assert all(v.value != "OK" for v in first.values())  # one scrape: no rate yet, never healthy
    assert "targets" in r.host.marked
    v = r.verdicts()
    assert v[CHECKOUT].value == "ROLLBACK_NOW", v[CHECKOUT]
    assert v[CART].value == "OK", v[CART]
    assert "error rate" in v[CHECKOUT].reason
    assert len(r.fleet._watched) == 2  # one engine per target, built once
    assert r.host.polls["fleet"]["interval"] == 10.0  # each read twice: every 10 s from now on


def test_missing_data_is_inconclusive_never_ok(world, tmp_path):
    w = world("bad-image", services=True)
    host, data = InlineHost(), UIData()
    session = Session(backend=connect(str(w.kubeconfig_path)), journal_path=tmp_path / "i.jsonl")

    def build(target: Target):
        if target.name == "cart":
            raise CockpitError("the metrics endpoint is not reachable", title="Unreachable")
        return Engine(), [], "no metrics source for shop/checkout"

    fleet = FleetController(host, data, lambda: session, build=build, source_factory=lambda: None, ask=lambda *a: None)
    data.targets = session.targets()
    fleet.start()
    for _ in range(2):
        host.run_poll("fleet")
    assert fleet.view.verdicts[CHECKOUT] == TargetVerdict(INCONCLUSIVE, "no metrics source for shop/checkout",
                                                          fleet.view.verdicts[CHECKOUT].at)
    assert fleet.view.verdicts[CART].value == INCONCLUSIVE
    assert "Unreachable: the metrics endpoint is not reachable" in fleet.view.verdicts[CART].reason
    fleet.failed(CockpitError("the API server did not answer", title="Unreachable"))
    assert {v.value for v in fleet.view.verdicts.values()} == {INCONCLUSIVE}
    session.close()


def test_marked_targets_are_planned_confirmed_and_rolled_back_in_one_incident(rig):
    r = rig()
    w = r.world
    assert r.fleet.toggle(CHECKOUT) and r.fleet.toggle(CART)
    assert r.fleet.toggle(CART) is False and r.fleet.view.selected == [CHECKOUT]  # space again unmarks
    r.fleet.toggle(CART)
    with pytest.raises(CockpitError):
        FleetController(r.host, UIData(), lambda: r.session, build=None, source_factory=None, ask=None).want()  # none
    w.clear_request_log()
    r.fleet.want()
    assert not r.host.errors and len(r.asked) == 1
    plan, changed, then = r.asked[0]
    assert not changed and r.session.journal is None  # browsing so far: no incident, no lock
    assert all(m == "GET" for m, _ in w.request_log)
    (checkout,), (cart,) = plan.rollbacks, plan.skipped
    assert (checkout.namespace, checkout.name, checkout.from_revision, checkout.to_revision) == ("shop", "checkout", 3, 2)
    assert checkout.from_images == ("registry.example/shop/checkout:1.5.0",)
    assert checkout.images == ("registry.example/shop/checkout:1.4.2",)
    assert (cart.name, cart.why) == ("cart", "no earlier revision to roll back to")

    then(True)
    assert not r.host.errors, r.host.errors
    assert r.shown == 1 and r.fleet.view.busy == ""
    assert r.fleet.result is not None and r.fleet.result.ok
    assert patches(w) == 1  # checkout's rollback; cart needed nothing
    # each target's Lease asked for in (namespace, name) order: cart before checkout
    asked = [p.rsplit("/", 1)[-1] for m, p in w.request_log if m == "GET" and "/leases/cockpit-incident-" in p]
    assert asked.index("cockpit-incident-cart") < asked.index("cockpit-incident-checkout")
    assert str(w.store.get("deployments", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"]) \
        == "registry.example/shop/checkout:1.4.2"

    # one journal of the fleet's own (the session's one-target incident is not touched): the
    # plan first, each target's records stamped with it, closed once every target is done
    assert r.session.journal is None
    path = r.fleet.view.journal
    assert is_fleet_journal(path)
    records = read_journal(path)
    assert records[0]["type"] == "fleet_planned" and records[-1]["type"] == "incident_closed"
    last = {x["member"]: x["status"] for x in records if x["type"] == "fleet_target"}
    key = checkout.key
    assert last == {key: "ok", cart.key: "skipped"}
    assert any(x.get("member") == key and x["type"] == "intent" for x in records)
    assert not any(x.get("member") == cart.key and x["type"] != "fleet_target" for x in records)  # cart: no write

    # the screen's progress: the journal's fold, as it was written
    state = r.fleet.view.state
    assert state.plan is not None and plan_signature(state.plan) == plan_signature(plan)
    assert state.status(key) == "ok" and state.status(cart.key) == "skipped" and state.finished.ok
    assert state.incident(key).rolled_back.to_revision == 2
    assert state == fold(records)
    assert "fleet" in r.host.marked
    assert any("fleet rollback done: 1 rolled back, 1 skipped" in msg for _, msg in r.host.toasts)
    # the Leases: the fleet's released as each target ended
    assert not [m for m in w.store.list("leases", "shop") if m["metadata"]["name"].startswith("cockpit-incident-")]

    # an observer following that journal folds what its follower read (records come in bursts)
    host, data = InlineHost(), UIData(readonly=True)
    observer = FleetController(host, data, lambda: None, build=None, source_factory=None, ask=None, readonly=True)
    data.records = [x for x in records if x["type"] != "log"][:3]
    assert observer.folded().plan is not None and observer.status(key) != "ok"
    data.records.extend(x for x in records[3:] if x["type"] != "log")
    assert observer.folded().status(key) == "ok" and observer.view.state.finished.ok
    data.records = []  # another journal followed: start over
    assert observer.folded().plan is None


def test_a_plan_that_changed_before_the_run_is_asked_again(rig):
    r = rig()
    for key in (CHECKOUT, CART):
        r.fleet.toggle(key)
    r.fleet.want()
    plan, _, then = r.asked[-1]
    other = connect(str(r.world.kubeconfig_path))  # another operator ships 1.5.1 meanwhile
    other.set_image(Target("checkout", "shop"), "checkout", "registry.example/shop/checkout:1.5.1")
    other.close()
    sent = patches(r.world)
    then(True)
    assert not r.host.errors, r.host.errors
    assert patches(r.world) == sent and not r.fleet.view.journal  # nothing sent, no incident opened
    again, changed, _ = r.asked[-1]
    assert changed and len(r.asked) == 2 and again.rollbacks[0].from_images == ("registry.example/shop/checkout:1.5.1",)


def test_readonly_refuses_below_the_ui(rig):
    r = rig(readonly=True)
    r.world.clear_request_log()
    for act in (lambda: r.fleet.toggle(CHECKOUT), r.fleet.want, lambda: r.fleet.run(object())):
        with pytest.raises(ReadonlyError):
            act()
    assert r.fleet.view.selected == [] and r.asked == [] and r.fleet.view.busy == ""
    r.fleet.start()
    r.host.run_poll("fleet")  # the verdicts are reads: shown to observers too
    assert set(r.fleet.view.verdicts) == {CHECKOUT, CART}
    assert {m for m, _ in r.world.request_log} <= {"GET"}
