"""Every mutating action in the registry is an fsynced intent before it is sent.

Walks the registry of runbook step kinds (every backend's, as the composition root loads
them; the headless rollback, the armed watcher and the full-screen cockpit all act through
these steps): for each kind whose call is mutating, the executor must have written *and
fsynced* an ``intent`` for that step before the step's ``run`` is entered, and write its
``outcome`` after. The step's ``run`` is replaced by a spy (a test double: the real calls need
their real servers and are tested against them in tests/backends); the spy reads the journal
from disk, as a process that crashed at that instant would leave it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cockpit.compose import load_step_kinds
from cockpit.executor import Executor
from cockpit.journal import Journal
from cockpit.model import Target
from cockpit.runbook import Runbook, RunbookStep, TargetSpec
from cockpit.steps import REGISTRY, StepContext

load_step_kinds()

EXTRA: dict[str, dict[str, Any]] = {"docker.rollback": {"to_tag": "1.0"},
                                    "cdn.purge": {"provider": "cloudflare", "zone": "z", "everything": True}}
SAMPLES: dict[str, Any] = {"argv": ["true"], "url": "http://127.0.0.1:9/", "selector": {"app": "x"},
                           "replicas": 2, "confirm": "x", "pattern": "session:*", "file": "/nonexistent.dump"}


def minimal_params(model: type[BaseModel], kind: str = "") -> BaseModel:
    data = dict(EXTRA.get(kind, {}))
    for name, field in model.model_fields.items():
        if field.is_required() and name not in data:  # EXTRA's values for a kind win
            data[name] = SAMPLES.get(name, "x")
    return model.model_validate(data)


MUTATING = sorted(kind for kind, cls in REGISTRY.items() if cls().is_mutating(minimal_params(cls.Params, kind)))


def test_the_registry_has_the_kinds_that_change_the_world():
    assert {"kubernetes.rollback", "kubernetes.scale", "docker.rollback", "redis.invalidate", "redis.flush",
            "postgres.restore", "exec"} <= set(MUTATING)


@pytest.mark.parametrize("kind", MUTATING)
def test_an_fsynced_intent_precedes_every_mutating_step(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cls = REGISTRY[kind]
    params = minimal_params(cls.Params, kind)
    path = tmp_path / "incident.jsonl"
    synced_sizes: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr("cockpit.journal.os.fsync", fsync)
    seen: dict[str, Any] = {}

    def spy_run(self, ctx, p):  # noqa: ANN001, ANN202
        on_disk = [json.loads(line) for line in path.read_text().splitlines()]
        seen["last"] = on_disk[-1]
        seen["durable"] = bool(synced_sizes) and synced_sizes[-1] == path.stat().st_size
        return {"spied": True}

    monkeypatch.setattr(cls, "prepare", lambda self, ctx, p: {"prepared": True})
    monkeypatch.setattr(cls, "run", spy_run)
    runbook = Runbook(name="walk", target=TargetSpec(kind="deployment", namespace="shop", name="checkout"),
                      steps=[RunbookStep(index=0, kind=kind, name=kind, budget=None, params=params)])
    journal = Journal.open(path)
    ctx = StepContext(backends={}, log=lambda line: None, target=Target("checkout", "shop"))
    result = Executor(runbook, journal, ctx).run()
    journal.close()
    assert result.ok, result.error
    last = seen["last"]
    assert last["type"] == "intent" and last["action"] == kind and last["step"] == 0 and last["prepared"] is True
    assert seen["durable"], "the intent was not fsynced before the step ran"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    outcome = next(r for r in records if r["type"] == "outcome")
    assert outcome["id"] == last["id"] and outcome["ok"] is True and outcome["result"] == {"spied": True}
