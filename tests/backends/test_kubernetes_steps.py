"""Runbook steps on the world: a crash between intent and outcome resumes without a second write."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import backends.kubernetes.steps  # noqa: F401  (registers the kubernetes.* kinds)
from backends.kubernetes.backend import KubeBackend, connect
from cockpit.world.world import World
from cockpit.executor import Executor
from cockpit.journal import Journal
from cockpit.model import Target
from cockpit.runbook import parse_runbook
from cockpit.state import replay
from cockpit.steps import StepContext

CHECKOUT = Target("checkout", "shop")
RUNBOOK = """
name: checkout rollback
target: {kind: deployment, namespace: shop, name: checkout}
steps:
  - kind: kubernetes.rollback
    budget: 2m
    params: {to_revision: 0, timeout: 60}
  - kind: kubernetes.scale
    params: {replicas: 2}
"""


class Crash(SystemExit):
    """The process dies (SIGKILL, lost SSH): no outcome gets written."""


class CrashingBackend(KubeBackend):
    def __init__(self, real: KubeBackend, when: str) -> None:
        super().__init__(real.t, namespace=real.namespace)
        self.when = when

    def rollback(self, target: Target, to_revision: int = 0, **kw):  # type: ignore[override]
        if self.when == "before":
            raise Crash(1)
        super().rollback(target, to_revision, **kw)
        raise Crash(1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, str]]:
    with World("bad-image", speed=60.0) as w:
        yield w, str(w.write_kubeconfig(tmp_path / "kc"))


def numbers(kube: KubeBackend) -> tuple[list[int], int]:
    hist = kube.history(CHECKOUT)
    return [r.number for r in hist], next(r.number for r in hist if r.live)


def run(journal: Journal, backend: KubeBackend, resume: bool = False):
    ctx = StepContext(backends={"kubernetes": backend}, log=lambda line: None, namespace="shop")
    ex = Executor(parse_runbook(RUNBOOK), journal, ctx)
    return ex.resume() if resume else ex.run()


@pytest.mark.parametrize("when", ["after", "before"])
def test_crash_mid_rollback_resumes_without_a_second_write(world: tuple[World, str], tmp_path: Path, when: str) -> None:
    _, kc = world
    kube = connect(kc)
    journal = Journal.open(tmp_path / "j.jsonl")
    with pytest.raises(Crash):
        run(journal, CrashingBackend(kube, when))
    journal.close()
    list(kube.watch_progress(CHECKOUT, timeout=60))  # let the controller observe what was sent
    expected_after_crash = ([1, 3, 4], 4) if when == "after" else ([1, 2, 3], 3)
    assert numbers(kube) == expected_after_crash
    state = replay(Journal.open(tmp_path / "j.jsonl", readonly=True).read())
    assert [a.status for a in state.actions] == ["pending"]

    journal = Journal.open(tmp_path / "j.jsonl")
    result = run(journal, connect(kc), resume=True)
    assert result.ok, result.error
    # exactly one rollback happened: re-resolving "previous" after it would have gone to revision 3
    assert numbers(kube) == ([1, 3, 4], 4)
    assert kube.deployment(CHECKOUT).replicas == 2
    records = journal.read()
    outcomes = [r for r in records if r["type"] == "outcome" and r.get("step") == 0]
    if when == "after":
        assert [o.get("resumed") for o in outcomes] == [True] and outcomes[0]["ok"]
    else:  # the dangling intent is superseded, and the step ran again, once
        assert [(o["ok"], o.get("superseded")) for o in outcomes] == [(False, True), (True, False)]
    # chosen once, before the first intent: the retry reuses that choice (by template hash)
    assert sum(1 for r in records if r["type"] == "revision_chosen") == 1
    chosen = next(r for r in records if r["type"] == "revision_chosen")
    intents = [r for r in records if r["type"] == "intent" and r.get("step") == 0]
    assert all(i["template_hash"] == chosen["template_hash"] and i["to_revision"] == 2 for i in intents)


def test_readonly_runbook_refuses_before_any_write(world: tuple[World, str], tmp_path: Path) -> None:
    w, kc = world
    w.clear_request_log()
    journal = Journal.open(tmp_path / "j.jsonl")
    ctx = StepContext(backends={"kubernetes": connect(kc, readonly=True)}, log=lambda line: None, readonly=True)
    result = Executor(parse_runbook(RUNBOOK), journal, ctx).run()
    assert result.status == "failed" and result.error is not None and result.error.title == "Readonly"
    assert {m for m, _ in w.request_log} <= {"GET"}
