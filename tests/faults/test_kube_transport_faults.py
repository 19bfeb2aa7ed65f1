"""Faults on the wire at the Kubernetes backend, over both transports (stdlib and the official
client), through the fault proxy in front of the simulated world.

What reached the world is counted at the world (``world.request_log``); what the client sent,
at the proxy (``proxy.log``)."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.kubernetes.backend import KubeBackend, connect
from cockpit.errors import CockpitError, ServerError, UnreachableError
from cockpit.model import RollbackResult, Target
from cockpit.world.world import World
from tests.fixtures.faultproxy import FaultProxy

CHECKOUT = Target("checkout", "shop")
DEPLOY = r"/deployments/checkout$"
WATCH = r"/deployments\?.*watch=1"


@pytest.fixture
def world() -> Iterator[World]:
    with World("bad-image", speed=60.0) as w:
        yield w


@pytest.fixture
def proxy(world: World, fault_proxy) -> FaultProxy:
    return fault_proxy(world)


@pytest.fixture(params=["light", "official"])
def kube(request: pytest.FixtureRequest, world: World, proxy: FaultProxy, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeBackend]:
    if request.param == "official":
        monkeypatch.setenv("COCKPIT_KUBE_CLIENT", "official")
    backend = connect(str(proxy.write_kubeconfig(world, tmp_path / "kc", "shop")), timeout=3.0)
    assert type(backend.t).__name__ == ("OfficialTransport" if request.param == "official" else "HttpTransport")
    yield backend
    backend.close()


def world_patches(world: World) -> int:
    return sum(1 for m, p in world.request_log if m == "PATCH" and "/deployments/checkout" in p)


def image(world: World) -> str:
    return world.store.require("deployments", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]["image"]


# --------------------------------------------------------------------------- reads

@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 500}, {"kind": "status", "status": 502}, {"kind": "status", "status": 503, "retry_after": 0},
    {"kind": "status", "status": 429, "retry_after": 1}, {"kind": "reset"}, {"kind": "truncate"},
    {"kind": "delay", "delay": 6},
], ids=["500", "502", "503", "429", "reset", "truncated", "delayed"])
def test_a_read_meeting_a_passing_fault_is_tried_again(kube: KubeBackend, proxy: FaultProxy, fault: dict) -> None:
    proxy.add(method="GET", path=DEPLOY, **fault)
    assert kube.deployment(CHECKOUT).name == "checkout"
    assert len(proxy.requests("GET", DEPLOY)) == 2


def test_a_read_failing_every_time_is_tried_three_times_then_a_server_error(kube: KubeBackend, proxy: FaultProxy) -> None:
    proxy.add("status", method="GET", path=DEPLOY, status=503, retry_after=0, times=None)
    with pytest.raises(ServerError) as info:
        kube.deployment(CHECKOUT)
    assert len(proxy.requests("GET", DEPLOY)) == 3
    err = info.value
    assert (err.status, err.retry_after, err.exit_code, err.title) == (503, 0.0, 4, "API server busy")
    assert "HTTP 503" in err.message and err.hint and "tried 3 times" in err.hint


def test_a_retry_after_longer_than_ten_seconds_is_not_waited_for(kube: KubeBackend, proxy: FaultProxy) -> None:
    proxy.add("status", method="GET", path=DEPLOY, status=429, retry_after=120, times=None)
    with pytest.raises(ServerError) as info:
        kube.deployment(CHECKOUT)
    assert info.value.retry_after == 120 and "retry after 120s" in info.value.message
    assert len(proxy.requests("GET", DEPLOY)) == 1


def test_a_refused_connection_is_not_retried(world: World, tmp_path: Path) -> None:
    import yaml

    from tests.fixtures.procs import free_port

    doc = world.kubeconfig("shop")
    doc["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    kc = tmp_path / "kc-dead"
    kc.write_text(yaml.safe_dump(doc))
    backend = connect(str(kc), timeout=3.0)
    with pytest.raises(UnreachableError) as info:
        backend.deployment(CHECKOUT)
    assert not isinstance(info.value, ServerError) and info.value.exit_code == 4
    assert not getattr(info.value, "transient", True)


# --------------------------------------------------------------------------- writes

@pytest.mark.parametrize("fault", [
    {"kind": "reset"}, {"kind": "delay", "delay": 6}, {"kind": "stall"},
    {"kind": "status", "status": 500, "forward": True},
], ids=["reset", "delayed", "stalled", "500-after-applying"])
def test_a_write_whose_answer_is_lost_is_never_sent_again_by_the_transport(
        kube: KubeBackend, world: World, proxy: FaultProxy, fault: dict) -> None:
    """Before: a reset on a kept-alive connection made HttpTransport send the PATCH again."""
    kube.history(CHECKOUT)  # a kept-alive connection is in use
    proxy.add(method="PATCH", path=r"/deployments/checkout", **fault)
    with pytest.raises(UnreachableError) as info:
        kube.rollback(CHECKOUT)
    assert world_patches(world) == 1
    assert len(proxy.requests("PATCH")) == 1
    if fault["kind"] != "status":
        assert info.value.title == "No answer" and "may or may not have taken effect" in info.value.message
    assert image(world).endswith(":1.4.2")  # it did take effect


def test_a_write_after_the_server_closed_the_kept_alive_connection_goes_once_on_a_fresh_one(
        kube: KubeBackend, world: World, proxy: FaultProxy) -> None:
    kube.history(CHECKOUT)
    proxy.drop_clients()  # the server side closes the idle connection
    out = kube.rollback(CHECKOUT)
    assert out.result is RollbackResult.ROLLED_BACK
    assert world_patches(world) == 1 and len(proxy.requests("PATCH")) == 1


def test_a_rollback_sent_again_applies_only_to_the_template_it_read_back(kube: KubeBackend, world: World) -> None:
    """The guard of a PATCH sent again: had the first one landed late, the second is refused."""
    plan = kube.plan_rollback(CHECKOUT)
    stale = copy.deepcopy(plan.deployment["spec"]["template"])
    stale["spec"]["containers"][0]["image"] = "registry.example/shop/checkout:0.0.1"
    with pytest.raises(CockpitError) as info:
        kube.rollback(CHECKOUT, plan=plan, only_if_template=stale)
    assert info.value.title == "Rejected by the API server"
    assert image(world).endswith(":1.5.0")  # nothing applied
    out = kube.rollback(CHECKOUT, plan=plan, only_if_template=plan.deployment["spec"]["template"])
    assert out.result is RollbackResult.ROLLED_BACK and image(world).endswith(":1.4.2")


# --------------------------------------------------------------------------- watches

@pytest.mark.parametrize("fault", [
    {"kind": "truncate", "events": 0}, {"kind": "truncate", "events": 1}, {"kind": "reset", "events": 1},
    {"kind": "status", "status": 500}, {"kind": "stall", "events": 1},
], ids=["cut-before-an-event", "cut-after-an-event", "reset", "500", "stops-sending"])
def test_the_rollout_is_followed_through_a_broken_watch(kube: KubeBackend, proxy: FaultProxy, fault: dict) -> None:
    """Before: a stream cut mid-event that ended cleanly raised json's ValueError out of the wait."""
    kube.rollback(CHECKOUT)
    proxy.add(method="GET", path=WATCH, times=None, **fault)
    progress = list(kube.watch_progress(CHECKOUT, timeout=60))
    assert progress[-1].complete
    assert proxy.faults[0].hits >= 1


def test_a_stream_cut_mid_event_is_unreachable_not_a_crash(kube: KubeBackend, proxy: FaultProxy) -> None:
    proxy.add("truncate", method="GET", path=WATCH, events=0)
    with pytest.raises(UnreachableError):
        list(kube.t.stream("/apis/apps/v1/namespaces/shop/deployments",
                           {"watch": "1", "fieldSelector": "metadata.name=checkout", "timeoutSeconds": "2"}, timeout=2))


def test_following_a_rollout_gives_up_after_losing_contact(kube: KubeBackend, proxy: FaultProxy) -> None:
    kube.rollback(CHECKOUT)
    proxy.add("status", method="GET", path=r"/deployments", status=500, times=None)
    with pytest.raises(UnreachableError) as info:
        list(kube.watch_progress(CHECKOUT, timeout=60, lost_after=1.0))
    assert "lost contact with the Kubernetes API while following the rollout of shop/checkout" in info.value.message
    assert "cockpit status checkout -n shop --wait" in (info.value.hint or "")


def test_a_passing_outage_while_following_a_rollout_is_ridden_out(kube: KubeBackend, proxy: FaultProxy) -> None:
    kube.rollback(CHECKOUT)
    proxy.add("status", method="GET", path=r"/deployments", status=503, retry_after=0, times=4)
    progress = list(kube.watch_progress(CHECKOUT, timeout=60, lost_after=30))
    assert progress[-1].complete
