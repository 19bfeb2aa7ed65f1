"""The executor: journaled steps, failures, cancel, budgets, and crash-safe resume.

The step kinds here are test doubles for the core: a fake mutating kind that writes into a
fake world (a directory), counts its calls, and whose ``reconcile`` inspects that world.
One-shot crashes are armed by a ``crash`` file in the world. Real kinds are tested in
test_exec_steps.py and tests/backends.
"""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cockpit.errors import CockpitError, JournalError
from cockpit.executor import Executor, LogPump
from cockpit.journal import Journal, read_journal
from cockpit.runbook import parse_runbook
from cockpit.state import replay
from cockpit.steps import Step, StepContext, StepParams, step_kind


class World:
    """A directory standing in for the world a step changes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def calls(self, key: str) -> int:
        f = self.root / f"{key}.calls"
        return len(f.read_text().splitlines()) if f.exists() else 0

    def value(self, key: str) -> str | None:
        f = self.root / f"{key}.value"
        return f.read_text() if f.exists() else None

    def arm(self, mode: str) -> None:
        (self.root / "crash").write_text(mode)

    def take_crash(self) -> str | None:
        f = self.root / "crash"
        if not f.exists():
            return None
        mode = f.read_text()
        f.unlink()
        return mode


class WriteParams(StepParams):
    world: str
    key: str = "k"
    value: str = "v"


@step_kind
class FakeWrite(Step):
    """Mutating: sets ``key`` to ``value`` in the world. Reconcile looks at the world."""

    kind = "fake.write"
    mutating = True
    Params = WriteParams

    def run(self, ctx: StepContext, params: WriteParams) -> dict:
        world = World(params.world)
        with (world.root / f"{params.key}.calls").open("a") as fh:
            fh.write("call\n")
        crash = world.take_crash()
        if crash == "before":
            raise SystemExit(3)
        if crash == "hang-before":
            (world.root / "hung").touch()
            time.sleep(60)
        (world.root / f"{params.key}.value").write_text(params.value)
        ctx.log(f"set {params.key}={params.value}")
        if crash == "after":
            raise SystemExit(3)
        if crash == "hang-after":
            (world.root / "hung").touch()
            time.sleep(60)
        return {"key": params.key, "value": params.value}

    def reconcile(self, ctx: StepContext, params: WriteParams, intent: dict) -> dict | None:
        if World(params.world).value(params.key) == params.value:
            ctx.log(f"{params.key} is already {params.value}")
            return {"key": params.key, "value": params.value, "reconciled": True}
        return None


class ReadParams(StepParams):
    world: str
    lines: int = 1
    crash: bool = False
    cancel: bool = False
    sleep: float = 0.0


@step_kind
class FakeRead(Step):
    """Non-mutating: logs lines, may set the cancel event or blow up."""

    kind = "fake.read"
    mutating = False
    Params = ReadParams

    def run(self, ctx: StepContext, params: ReadParams) -> dict:
        world = World(params.world)
        with (world.root / "read.calls").open("a") as fh:
            fh.write("call\n")
        for i in range(params.lines):
            ctx.log(f"line {i}\x1b[31m!")
        if params.cancel:
            ctx.cancel.set()
        if params.sleep:
            time.sleep(params.sleep)
        if params.crash:
            raise KeyError("surprise")
        return {"lines": params.lines}


class FailParams(StepParams):
    title: str = "Broken"


@step_kind
class FakeFail(Step):
    kind = "fake.fail"
    mutating = True
    Params = FailParams

    def run(self, ctx: StepContext, params: FailParams) -> dict:
        ctx.log("about to fail")
        raise CockpitError("the thing broke", title=params.title)


def runbook(world: Path, *steps: str):
    body = "\n".join("  - " + s.replace("WORLD", str(world)) for s in steps)
    return parse_runbook(f"name: test\ntarget: {{namespace: shop, name: checkout}}\nsteps:\n{body}\n")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path / "world")


@pytest.fixture
def journal(tmp_path):
    j = Journal.open(tmp_path / "incident.jsonl", actor="alice@bastion")
    yield j
    j.close()


def types(journal):
    return [r["type"] for r in read_journal(journal.path)]


def ctx(**kw) -> StepContext:
    return StepContext(backends={}, log=kw.pop("log", lambda line: None), **kw)


THREE = (
    "{kind: fake.write, name: first, params: {world: WORLD, key: a}}",
    "{kind: fake.read, params: {world: WORLD, lines: 2}}",
    "{kind: fake.write, params: {world: WORLD, key: b}}",
)


# ---- run


def test_run_journals_every_move(world, journal):
    result = Executor(runbook(world.root, *THREE), journal, ctx()).run()
    assert result.ok and [s.status for s in result.steps] == ["ok", "ok", "ok"]
    assert types(journal) == [
        "run_started",
        "step_started", "intent", "log", "outcome", "step_finished",
        "step_started", "log", "log", "step_finished",  # a read: no intent
        "step_started", "intent", "log", "outcome", "step_finished",
        "run_finished",
    ]
    records = read_journal(journal.path)
    intent = records[2]
    assert intent["action"] == "fake.write" and intent["step"] == 0 and intent["params"]["key"] == "a"
    assert records[4] == {**records[4], "id": intent["id"], "ok": True, "result": {"key": "a", "value": "v"}}
    assert [r["line"] for r in records if r["type"] == "log"] == ["set a=v", "line 0\\e[31m!", "line 1\\e[31m!", "set b=v"]
    state = replay(records)
    assert [s.status for s in state.steps.values()] == ["ok", "ok", "ok"] and state.run_status == "ok"
    assert [a.status for a in state.actions] == ["ok", "ok"] and state.steps[0].name == "first"
    assert world.value("a") == "v" and world.value("b") == "v"


def test_failure_stops_the_run(world, journal):
    rb = runbook(world.root, THREE[0], "{kind: fake.fail, params: {title: Kaputt}}", THREE[2])
    result = Executor(rb, journal, ctx()).run()
    assert result.status == "failed" and result.failed_step == 1
    assert result.error.title == "Kaputt" and world.calls("b") == 0
    state = replay(read_journal(journal.path))
    assert state.steps[1].status == "failed" and state.steps[1].error_title == "Kaputt"
    assert state.steps[1].error_message == "the thing broke"
    assert [a.status for a in state.actions] == ["ok", "failed"]
    assert 2 not in state.steps and state.run_status == "failed"


def test_unexpected_exception_fails_the_step_cleanly(world, journal):
    rb = runbook(world.root, "{kind: fake.read, params: {world: WORLD, crash: true}}")
    result = Executor(rb, journal, ctx()).run()
    assert result.status == "failed" and result.error.title == "Step crashed" and "surprise" in result.error.message


def test_from_step(world, journal):
    result = Executor(runbook(world.root, *THREE), journal, ctx()).run(from_step=2)
    assert [s.status for s in result.steps] == ["skipped", "skipped", "ok"]
    assert world.calls("a") == 0 and world.calls("b") == 1


def test_cancel_before_and_during(world, journal):
    cancel = threading.Event()
    cancel.set()
    result = Executor(runbook(world.root, *THREE), journal, ctx(cancel=cancel)).run()
    assert result.status == "cancelled" and world.calls("a") == 0
    assert replay(read_journal(journal.path)).steps[0].status == "cancelled"

    rb = runbook(world.root, "{kind: fake.read, params: {world: WORLD, cancel: true}}", THREE[2])
    result = Executor(rb, journal, ctx()).run()
    assert result.status == "cancelled" and world.calls("b") == 0


def test_readonly_refuses_mutating_steps_before_the_intent(world, journal):
    rb = runbook(world.root, THREE[1], THREE[0])
    result = Executor(rb, journal, ctx(readonly=True)).run()
    assert result.status == "failed" and result.failed_step == 1 and result.error.title == "Readonly"
    assert "intent" not in types(journal) and world.calls("a") == 0


def test_over_budget_is_journaled(world, journal):
    now = [0.0]

    def clock():
        now[0] += 4.0  # every reading advances 4 s
        return now[0]

    rb = runbook(world.root, "{kind: fake.read, budget: 1s, params: {world: WORLD}}",
                 "{kind: fake.read, budget: 1m, params: {world: WORLD}}")
    result = Executor(rb, journal, ctx(), clock=clock).run()
    assert [s.over_budget for s in result.steps] == [True, False]
    finished = [r for r in read_journal(journal.path) if r["type"] == "step_finished"]
    assert [r["over_budget"] for r in finished] == [True, False] and finished[0]["elapsed"] == 4.0


def test_every_line_is_journaled_but_the_sink_is_rate_bounded(world, journal, monkeypatch):
    # The pump's clock advances 1 ms per reading, so 2000 lines take 2 s of "time" whatever
    # the machine's load (on the wall clock a slow run refilled the allowance: flaky in CI).
    now = [0.0]

    def clock() -> float:
        now[0] += 0.001
        return now[0]

    import cockpit.executor as executor
    monkeypatch.setattr(executor, "LogPump", functools.partial(executor.LogPump, clock=clock))
    shown: list[str] = []
    rb = runbook(world.root, "{kind: fake.read, params: {world: WORLD, lines: 2000}}")
    Executor(rb, journal, ctx(log=shown.append), log_rate=50).run()
    logs = [r for r in read_journal(journal.path) if r["type"] == "log"]
    assert len(logs) == 2000 and logs[-1]["line"] == "line 1999\\e[31m!"  # sanitized: the escape shown inert
    lines = [s for s in shown if not s.startswith("… ")]
    notes = [int(s.split()[1]) for s in shown if s.startswith("… ")]
    assert 50 <= len(lines) <= 160 and len(lines) + sum(notes) == 2000  # nothing lost, only counted
    assert shown[-1].startswith("… ") and shown[-1].endswith("more lines (in the journal)")


def test_log_pump_splits_lines(journal):
    shown: list[str] = []
    pump = LogPump(journal, 3, shown.append)
    pump("one\ntwo")
    assert shown == ["one", "two"] and [r["step"] for r in journal.read()] == [3, 3]


def test_journal_failure_is_fatal_and_the_write_never_happens(world, journal, monkeypatch):
    def broken(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(JournalError):
        Executor(runbook(world.root, THREE[0]), journal, ctx()).run()
    assert world.calls("a") == 0


# ---- resume


def test_resume_after_crash_after_the_write_does_not_write_again(world, journal):
    rb = runbook(world.root, *THREE)
    world.arm("after")
    with pytest.raises(SystemExit):
        Executor(rb, journal, ctx()).run()
    assert replay(journal.read()).pending[0].intent["step"] == 0

    result = Executor(rb, journal, ctx()).resume()
    assert result.ok and world.calls("a") == 1 and world.calls("b") == 1
    assert result.steps[0].resumed and result.steps[0].data["reconciled"]
    state = replay(journal.read())
    assert state.pending == [] and state.steps[0].resumed and state.steps[0].status == "ok"
    outcome = [r for r in journal.read() if r["type"] == "outcome"][0]
    assert outcome["resumed"] is True and outcome["ok"] is True
    assert any(r["type"] == "log" and r["line"] == "a is already v" for r in journal.read())


def test_resume_after_crash_before_the_write_runs_it_again(world, journal):
    rb = runbook(world.root, *THREE)
    world.arm("before")
    with pytest.raises(SystemExit):
        Executor(rb, journal, ctx()).run()
    assert world.value("a") is None

    result = Executor(rb, journal, ctx()).resume()
    assert result.ok and world.calls("a") == 2 and world.value("a") == "v"
    state = replay(journal.read())
    first, second, _ = state.actions
    assert first.status == "failed" and first.outcome["superseded"] and second.status == "ok"
    assert state.pending == []


def test_resume_skips_what_finished_and_retries_the_failure(world, journal):
    rb = runbook(world.root, THREE[0], "{kind: fake.read, params: {world: WORLD, crash: true}}", THREE[2])
    assert Executor(rb, journal, ctx()).run().failed_step == 1
    fixed = runbook(world.root, *THREE)
    result = Executor(fixed, journal, ctx()).resume()
    assert result.ok and [s.status for s in result.steps] == ["skipped", "ok", "ok"]
    assert world.calls("a") == 1 and world.calls("b") == 1


def test_resume_of_a_finished_run_does_nothing(world, journal):
    rb = runbook(world.root, *THREE)
    Executor(rb, journal, ctx()).run()
    result = Executor(rb, journal, ctx()).resume()
    assert result.ok and all(s.status == "skipped" for s in result.steps)
    assert world.calls("a") == 1 and world.calls("read") == 1


# ---- a real crash: SIGKILL after the intent line is fsynced

CHILD = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("fake_kinds", sys.argv[1])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from cockpit.executor import Executor
    from cockpit.journal import Journal
    world, journal_path = sys.argv[2], sys.argv[3]
    rb = mod.runbook(mod.Path(world), *mod.THREE)
    Executor(rb, Journal.open(journal_path), mod.ctx()).run()
    """
)


@pytest.mark.parametrize(("mode", "calls"), [("hang-after", 1), ("hang-before", 2)])
def test_resume_after_sigkill(world, tmp_path, mode, calls):
    path = tmp_path / "killed.jsonl"
    world.arm(mode)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, __file__, str(world.root), str(path)], env=env)
    try:
        deadline = time.monotonic() + 20
        while not (world.root / "hung").exists():
            assert child.poll() is None, "child exited early"
            assert time.monotonic() < deadline, "child never reached the step"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    state = replay(read_journal(path))
    assert [a.status for a in state.actions] == ["pending"]

    with Journal.open(path) as j:
        result = Executor(runbook(world.root, *THREE), j, ctx()).resume()
    assert result.ok and world.calls("a") == calls and world.value("a") == "v" and world.calls("b") == 1
    assert result.steps[0].resumed is (mode == "hang-after")
    assert replay(read_journal(path)).pending == []
