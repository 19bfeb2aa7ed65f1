"""Faults on the wire, through the real ``cockpit rollback`` CLI.

``python -m cockpit --kubeconfig KC -n shop rollback checkout --yes --journal J`` with the
kubeconfig pointing at the fault proxy (tests/fixtures/faultproxy.py) in front of the simulated
world: HTTP 500, 503 with Retry-After, 429, a connection reset mid-body, a watch that stops
sending and an answer delayed past the client's timeout — on the GETs before the rollback, on
the PATCH itself and on the watch after it.

For each: either the rollback completes, or the operator gets one titled line with what to do
next and the README's exit code; a PATCH whose answer was lost is read back before anything is
sent again; the world never receives the rollback PATCH twice (counted at the world); the
journal tells what happened.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cockpit.world.world import World
from tests.fixtures.faultproxy import FaultProxy

GOOD = "registry.example/shop/checkout:1.4.2"
BAD = "registry.example/shop/checkout:1.5.0"
DEPLOY = r"/deployments/checkout$"
DEPLOY_ANY = r"/deployments/checkout(\?|$)"
RS_LIST = r"/namespaces/shop/replicasets\?"
PATCH = ("PATCH", r"/deployments/checkout")
WATCH = r"/deployments\?.*watch=1"
TIMEOUT = "3"  # COCKPIT_KUBE_TIMEOUT: the client's per-request timeout (the delays below are twice that)


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    world: World
    journal: Path
    proxy: FaultProxy

    @property
    def patches(self) -> int:
        """Rollback PATCHes that reached the world (not the proxy)."""
        return sum(1 for m, p in self.world.request_log if m == "PATCH" and "/deployments/checkout" in p)

    @property
    def image(self) -> str:
        dep = self.world.store.require("deployments", "shop", "checkout")
        return dep["spec"]["template"]["spec"]["containers"][0]["image"]

    def records(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines()]

    def logs(self) -> str:
        return "\n".join(r["line"] for r in self.records() if r["type"] == "log")

    def outcome(self) -> dict[str, Any]:
        outcomes = [r for r in self.records() if r["type"] == "outcome"]
        assert len(outcomes) == 1, outcomes
        return outcomes[0]

    def error_lines(self) -> list[str]:
        return [line for line in self.proc.stderr.splitlines() if line.strip()]


@pytest.fixture
def rollback(tmp_path: Path, fault_proxy) -> Iterator[Any]:
    worlds: list[World] = []

    def run(*faults: dict[str, Any], args: tuple[str, ...] = (), world: World | None = None,
            journal: Path | None = None) -> Run:
        if world is None:
            world = World("bad-image", speed=20).start()
            worlds.append(world)
        proxy = fault_proxy(world)
        for f in faults:
            proxy.add(**f)
        kc = proxy.write_kubeconfig(world, tmp_path / f"kc-{proxy.port}", "shop")
        journal = journal or tmp_path / "incident.jsonl"
        env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COCKPIT_LOCK_DIR": str(tmp_path / "locks"),
               "COCKPIT_KUBE_TIMEOUT": TIMEOUT, "NO_COLOR": "1"}
        cmd = [sys.executable, "-m", "cockpit", "--kubeconfig", str(kc), "-n", "shop", "rollback", "checkout", "--yes",
               "--journal", str(journal), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
        return Run(proc, world, journal, proxy)

    yield run
    for w in worlds:
        w.stop()


def assert_rolled_back(r: Run) -> None:
    assert r.proc.returncode == 0, r.proc.stderr
    assert r.proc.stderr.strip() == ""
    assert r.patches == 1
    assert r.image == GOOD
    assert "successfully rolled out" in r.proc.stdout
    out = r.outcome()
    assert out["ok"] is True and out["result"]["result"] == "rolled-back"


def assert_one_titled_error(r: Run, code: int, title: str) -> str:
    assert r.proc.returncode == code, (r.proc.returncode, r.proc.stderr)
    lines = r.error_lines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"cockpit: {title}: "), lines[0]
    assert "Traceback" not in r.proc.stderr and "internal error" not in r.proc.stderr
    return lines[0]


# --------------------------------------------------------------------------- before the PATCH

@pytest.mark.parametrize("fault", [
    {"kind": "status", "method": "GET", "path": DEPLOY, "status": 500},
    {"kind": "status", "method": "GET", "path": DEPLOY, "status": 503, "retry_after": 1},
    {"kind": "status", "method": "GET", "path": RS_LIST, "status": 429, "retry_after": 0},
    {"kind": "reset", "method": "GET", "path": DEPLOY},
    {"kind": "reset", "method": "GET", "path": RS_LIST},
    {"kind": "delay", "method": "GET", "path": DEPLOY, "delay": 6},
], ids=["500", "503-retry-after", "429-list", "reset", "reset-list", "delayed"])
def test_a_passing_fault_on_a_read_before_the_rollback_is_retried(rollback, fault) -> None:
    r = rollback(fault)
    assert r.proxy.faults[0].hits == 1  # the fault did happen
    assert_rolled_back(r)


@pytest.mark.parametrize("fault, title", [
    ({"kind": "status", "method": "GET", "path": DEPLOY, "status": 500, "times": None}, "API server error"),
    ({"kind": "status", "method": "GET", "path": DEPLOY, "status": 503, "retry_after": 0, "times": None},
     "API server busy"),
    ({"kind": "status", "method": "GET", "path": DEPLOY, "status": 429, "retry_after": 600, "times": None},
     "API server busy"),
    ({"kind": "reset", "method": "GET", "path": DEPLOY, "times": None}, "Unreachable"),
], ids=["500", "503", "429-retry-after-too-long", "reset"])
def test_a_read_that_keeps_failing_before_the_rollback_is_one_titled_error_and_nothing_is_sent(
        rollback, fault, title) -> None:
    r = rollback(fault)
    line = assert_one_titled_error(r, 4, title)
    assert "try again" in line or "check the context" in line  # what to do next
    assert r.patches == 0 and r.image == BAD
    assert not any(rec["type"] == "intent" for rec in r.records())


def test_a_retry_after_too_long_to_wait_for_is_not_waited_for(rollback) -> None:
    r = rollback({"kind": "status", "method": "GET", "path": DEPLOY, "status": 429, "retry_after": 600,
                  "times": None})
    assert_one_titled_error(r, 4, "API server busy")
    assert len(r.proxy.requests("GET", DEPLOY)) == 1  # asked to wait 10 minutes: not retried
    assert "retry after 600s" in r.proc.stderr


# --------------------------------------------------------------------------- the PATCH itself

def test_a_patch_refused_with_500_before_it_applied_is_read_back_then_sent_again(rollback) -> None:
    r = rollback({"kind": "status", "method": "PATCH", "path": PATCH[1], "status": 500})
    assert_rolled_back(r)
    assert len(r.proxy.requests("PATCH", PATCH[1])) == 2  # one answered 500 by the proxy, one reached the world
    logs = r.logs()
    assert "reading shop/checkout back before anything is sent again" in logs
    assert "the PATCH did not take effect; sending it again" in logs
    # read back (a GET of the deployment) between the two PATCHes
    seen = [(m, t) for m, t, _ in r.proxy.log]
    first, second = [i for i, (m, t) in enumerate(seen) if m == "PATCH"]
    assert any(m == "GET" and "/deployments/checkout" in t for m, t in seen[first + 1:second])


def test_a_patch_that_applied_but_answered_500_is_never_sent_again(rollback) -> None:
    r = rollback({"kind": "status", "method": "PATCH", "path": PATCH[1], "status": 500, "forward": True})
    assert_rolled_back(r)
    assert len(r.proxy.requests("PATCH", PATCH[1])) == 1
    assert "the rollback took effect; it is not sent again" in r.logs()


def test_a_patch_answered_503_with_retry_after_is_sent_again_after_reading_back(rollback) -> None:
    r = rollback({"kind": "status", "method": "PATCH", "path": PATCH[1], "status": 503, "retry_after": 1})
    assert_rolled_back(r)
    assert "sending it again in 1s" in r.logs()


@pytest.mark.parametrize("fault", [
    {"kind": "reset", "method": "PATCH", "path": PATCH[1]},
    {"kind": "delay", "method": "PATCH", "path": PATCH[1], "delay": 6},
    {"kind": "stall", "method": "PATCH", "path": PATCH[1]},
], ids=["reset-mid-body", "delayed-past-timeout", "stalled"])
def test_a_patch_whose_answer_was_lost_is_read_back_and_never_sent_twice(rollback, fault) -> None:
    """Before: a reset on a kept-alive connection made the transport send the PATCH again."""
    r = rollback(fault)
    assert_rolled_back(r)
    assert len(r.proxy.requests("PATCH", PATCH[1])) == 1
    logs = r.logs()
    assert "its answer was lost" in logs
    assert "the rollback took effect; it is not sent again" in logs


def test_a_patch_throttled_every_time_is_one_titled_error_and_nothing_changed(rollback) -> None:
    r = rollback({"kind": "status", "method": "PATCH", "path": PATCH[1], "status": 429, "retry_after": 0,
                  "times": None})
    line = assert_one_titled_error(r, 4, "Rollback not applied")
    assert "run the same command again" in line
    assert r.patches == 0 and r.image == BAD
    out = r.outcome()
    assert out["ok"] is False and out["error_title"] == "Rollback not applied"
    assert r.logs().count("the PATCH did not take effect") == 2  # read back after each of the 3 attempts
    assert len(r.proxy.requests("PATCH", PATCH[1])) == 3


def test_a_lost_patch_that_cannot_be_read_back_sends_nothing_more_and_a_retry_sends_nothing(rollback) -> None:
    """The answer is lost and the API stops answering reads: the outcome is unknown, so
    nothing more is sent. Run again once it answers: the deployment is read back, the
    rollback is found in effect, and no PATCH goes out."""
    r = rollback({"kind": "reset", "method": "PATCH", "path": PATCH[1]},
                 {"kind": "status", "method": "GET", "path": DEPLOY_ANY, "status": 503, "times": None,
                  "once": PATCH})
    line = assert_one_titled_error(r, 4, "Rollback outcome unknown")
    assert "run the same command again" in line
    assert r.patches == 1 and r.image == GOOD
    assert r.outcome()["error_title"] == "Rollback outcome unknown"
    again = rollback(world=r.world, journal=r.journal)
    assert again.patches == 1  # still the one
    assert again.image == GOOD
    if again.proc.returncode == 0:  # found in effect: reconciled or skipped
        assert "already rolled back" in again.proc.stdout or "skipped rollback" in again.proc.stdout
    else:  # refused by the deployment's own note: it would undo the rollback that took effect
        assert "nothing was changed" in assert_one_titled_error(again, 6, "Already rolled back")


def test_a_patch_sent_again_only_applies_to_the_template_read_back(rollback) -> None:
    """The second PATCH carries a JSON-patch test of the template read back: had the first
    one landed late, the second would be refused, not applied on top."""
    r = rollback({"kind": "status", "method": "PATCH", "path": PATCH[1], "status": 503, "retry_after": 0})
    assert_rolled_back(r)
    first, second = [json.loads(b) for m, t, b in r.proxy.bodies if m == "PATCH" and "/deployments/checkout" in t]
    assert [op["op"] for op in first] == ["replace", "replace"]  # what kubectl sends
    assert second[0]["op"] == "test" and second[0]["path"] == "/spec/template"
    assert second[0]["value"]["spec"]["containers"][0]["image"] == BAD  # still the template read back
    assert second[1:] == first


# --------------------------------------------------------------------------- the watch after it

@pytest.mark.parametrize("fault", [
    {"kind": "status", "method": "GET", "path": WATCH, "status": 500, "times": None},
    {"kind": "status", "method": "GET", "path": WATCH, "status": 503, "retry_after": 1, "times": None},
    {"kind": "reset", "method": "GET", "path": WATCH, "events": 1, "times": None},
    {"kind": "reset", "method": "GET", "path": WATCH, "events": 0, "times": None},
    {"kind": "stall", "method": "GET", "path": WATCH, "events": 1},
], ids=["500", "503", "reset-after-an-event", "reset-mid-event", "stops-sending"])
def test_a_broken_watch_after_the_rollback_is_re_listed_and_the_rollout_followed(rollback, fault) -> None:
    r = rollback(fault)
    assert r.proxy.faults[0].hits >= 1
    assert_rolled_back(r)


def test_reads_failing_after_the_patch_end_in_one_titled_error_saying_the_rollback_took_effect(rollback) -> None:
    r = rollback({"kind": "status", "method": "GET", "path": r"/deployments", "status": 500, "times": None,
                  "once": PATCH}, args=("--timeout", "3"))
    line = assert_one_titled_error(r, 4, "Rollout not followed")
    assert "took effect" in line and "cockpit status checkout -n shop --wait" in line
    assert r.patches == 1 and r.image == GOOD
    out = r.outcome()
    assert out["error_title"] == "Rollout not followed"
    assert "deployment.apps/checkout rolled back" in r.logs()
