"""The traffic port over Gateway API HTTPRoutes, against the world: weights by merge patch,
the world's error rate moving as the shift goes, the verdict through the API server's proxy."""
from __future__ import annotations

import threading
import time

import pytest

from backends.traffic.gateway import GatewayTraffic
from cockpit.compose import kube_backend
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError
from cockpit.journal import Journal
from cockpit.matrix import Verdict
from cockpit.traffic import CountsJudge, make_plan, pending_shift, run_shift
from cockpit.world.scenario import Scenario
from tests.world.test_world_httproute import CANARY, HTTPROUTES, route, route_rate


@pytest.fixture
def canary(world):
    w = world(Scenario.model_validate(CANARY), speed=50, services=True)
    w.api.create(HTTPROUTES, "shop", route(0, 100), dry_run=False)
    return w


def port_for(w, readonly=False) -> GatewayTraffic:
    kb = kube_backend(str(w.kubeconfig_path), None, "shop", readonly=readonly)
    return GatewayTraffic(kb.t, "shop")


def patches(w) -> int:
    return sum(1 for m, p in w.request_log if m == "PATCH" and "/httproutes/" in p)


def test_read_and_set_weights(canary):
    port = port_for(canary)
    assert port.get_weights("checkout") == {"checkout-v1": 0, "checkout-v2": 100}
    assert port.set_weights("checkout", {"checkout-v1": 70, "checkout-v2": 30}) == {"checkout-v1": 70, "checkout-v2": 30}
    assert patches(canary) == 1
    stored = canary.store.require("httproutes", "shop", "checkout")
    assert stored["spec"]["hostnames"] == ["shop.example"]  # the rest of the route untouched
    assert [r["weight"] for r in stored["spec"]["rules"][0]["backendRefs"]] == [70, 30]


def test_shift_moves_the_worlds_error_rate(canary, tmp_path):
    port = port_for(canary)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "checkout", "checkout-v1", (90, 50, 0), 0)
    rates = []

    def wait(ev, s):
        time.sleep(0.6)
        rates.append(route_rate(canary, 1.2)[1])
        return False

    judge = CountsJudge(port, "checkout", "checkout-v1")
    res = run_shift(port, plan, journal, judge=judge, wait=wait)
    assert res.status == "done"
    assert rates[0] > rates[1] > rates[2] and rates[0] > 0.2 and rates[2] < 0.02, rates
    assert [s.judgement.verdict for s in res.steps] == [Verdict.OK] * 3  # the old release stays healthy
    assert patches(canary) == 3
    assert port.get_weights("checkout") == {"checkout-v1": 100, "checkout-v2": 0}
    assert pending_shift(journal.read()) is None


def test_abort_restores_and_verdict_of_the_bad_backend(canary, tmp_path):
    port = port_for(canary)
    journal = Journal.open(tmp_path / "j.jsonl")
    plan = make_plan(port, "checkout", "checkout-v1", (90, 50), 0)
    cancel = threading.Event()

    def wait(ev, s):
        ev.set()
        return True

    res = run_shift(port, plan, journal, wait=wait, cancel=cancel)
    assert res.status == "aborted" and port.get_weights("checkout") == {"checkout-v1": 0, "checkout-v2": 100}
    judge = CountsJudge(port, "checkout", "checkout-v2")
    time.sleep(1.5)
    assert judge().verdict is Verdict.ROLLBACK_NOW


def test_bad_input(canary):
    port = port_for(canary)
    with pytest.raises(NotFoundError, match="HTTPRoute shop/nope does not exist; routes in shop: checkout"):
        port.get_weights("nope")
    with pytest.raises(NotFoundError, match="route checkout has no backend 'checkout-v0'; its backends: checkout-v1, checkout-v2"):
        make_plan(port, "checkout", "checkout-v0", (50,), 0)
    with pytest.raises(NotFoundError, match="no backend 'ghost'"):
        port.set_weights("checkout", {"ghost": 100})
    with pytest.raises(ConfigError, match="0 to 1000000"):
        port.set_weights("checkout", {"checkout-v1": -1})
    with pytest.raises(ReadonlyError):
        port_for(canary, readonly=True).set_weights("checkout", {"checkout-v1": 100, "checkout-v2": 0})
    assert patches(canary) == 0


def test_a_route_changed_meanwhile_is_a_conflict_and_nothing_is_half_applied(canary):
    from cockpit.errors import ConflictError

    class Racing(GatewayTraffic):
        def route(self, route):  # someone edits the route right after the cockpit read it
            obj = super().route(route)
            canary.api.patch(HTTPROUTES, "shop", "checkout", None, {"spec": {"hostnames": ["other.example"]}},
                             "application/merge-patch+json", False)
            return obj

    kb = kube_backend(str(canary.kubeconfig_path), None, "shop", readonly=False)
    with pytest.raises(ConflictError):
        Racing(kb.t, "shop").set_weights("checkout", {"checkout-v1": 50, "checkout-v2": 50})
    stored = canary.store.require("httproutes", "shop", "checkout")
    assert [r["weight"] for r in stored["spec"]["rules"][0]["backendRefs"]] == [0, 100]
    assert stored["spec"]["hostnames"] == ["other.example"]  # the other writer's change stands
