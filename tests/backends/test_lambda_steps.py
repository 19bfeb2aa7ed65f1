"""Step kinds ``lambda.rollback`` and ``lambda.shift`` through the executor against moto:
intent before the write, reconcile from the alias after a crash (no second UpdateAlias),
readonly sends nothing."""
from __future__ import annotations

import pytest

import backends.aws_lambda.steps  # noqa: F401  registers lambda.* until compose.load_step_kinds does
from cockpit.executor import Executor
from cockpit.journal import Journal, read_journal
from cockpit.runbook import load_runbook
from cockpit.steps import StepContext
from tests.fixtures.moto import make_function

ALIAS_PUT = r"/functions/[^/]+/aliases/"


@pytest.fixture
def aws(moto_server, monkeypatch):
    for k, v in moto_server.env().items():
        monkeypatch.setenv(k, v)
    make_function(moto_server)
    return moto_server


def runbook(tmp_path, kind, extra=""):
    rb = tmp_path / "rb.yaml"
    rb.write_text(f"""
name: lambda rollback
target: {{kind: deployment, namespace: shop, name: checkout}}
steps:
  - kind: {kind}
    name: roll back the alias
    params: {{function: checkout, alias: live{extra}}}
""")
    return load_runbook(rb)


def alias_of(server):
    a = server.client().get_alias(FunctionName="checkout", Name="live")
    return a["FunctionVersion"], (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def test_rollback_step_journals_the_choice_then_moves_the_alias(aws, tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    result = Executor(runbook(tmp_path, "lambda.rollback"), j, StepContext(backends={}, log=lambda s: None, journal=j)).run()
    j.close()
    assert result.ok, result.error
    assert alias_of(aws) == ("1", {})
    intent = next(r for r in read_journal(tmp_path / "j.jsonl") if r["type"] == "intent")
    assert (intent["action"], intent["from_version"], intent["to_version"]) == ("lambda.rollback", "2", "1")


def test_rollback_step_reconciles_after_a_crash_without_a_second_write(aws, tmp_path):
    rb = runbook(tmp_path, "lambda.rollback")
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("run_started", runbook=rb.name, from_step=0, resume=False)
    j.append("step_started", index=0, kind="lambda.rollback", name="roll back the alias", budget=60, mutating=True)
    j.intent("lambda.rollback", step=0, name="roll back the alias", params={"function": "checkout", "alias": "live"},
             function="checkout", alias="live", from_version="2", from_weights={"2": 100}, to_version="1", why="x")
    aws.client().update_alias(FunctionName="checkout", Name="live", FunctionVersion="1")  # went out; then the crash
    before = aws.requests("PUT", ALIAS_PUT)
    result = Executor(rb, j, StepContext(backends={}, log=lambda s: None, journal=j)).resume()
    j.close()
    assert result.ok, result.error
    assert aws.requests("PUT", ALIAS_PUT) == before
    outcome = [r for r in read_journal(tmp_path / "j.jsonl") if r["type"] == "outcome"]
    assert len(outcome) == 1 and outcome[0]["ok"] and outcome[0]["result"]["reconciled"] is True


def test_shift_step_moves_the_weights_in_steps(aws, tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    result = Executor(runbook(tmp_path, "lambda.shift", ", steps: '75,0', hold: 0s"), j,
                      StepContext(backends={}, log=lambda s: None, journal=j)).run()
    j.close()
    assert result.ok, result.error
    assert alias_of(aws) == ("1", {})
    recs = read_journal(tmp_path / "j.jsonl")
    assert [r["weights"] for r in recs if r["type"] == "intent" and r["action"] == "traffic.weights"] == \
        [{"2": 75, "1": 25}, {"2": 0, "1": 100}]
    shift = next(r for r in recs if r["type"] == "intent" and r["action"] == "lambda.shift")
    assert shift["start"] == {"2": 100, "1": 0} and shift["to"] == "1"


def test_shift_step_continues_after_a_crash_mid_shift(aws, tmp_path):
    """First step confirmed, the second's write went out, then the crash: resume confirms it
    from the alias and sends only the last step."""
    from cockpit.traffic import WEIGHTS

    rb = runbook(tmp_path, "lambda.shift", ", steps: '75,50,0', hold: 0s")
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("run_started", runbook=rb.name, from_step=0, resume=False)
    j.append("step_started", index=0, kind="lambda.shift", name="roll back the alias", budget=60, mutating=True)
    j.intent("lambda.shift", step=0, name="roll back the alias", params={"function": "checkout", "alias": "live"},
             route="live", to="1", steps=[75, 50, 0], start={"2": 100, "1": 0}, hold_s=0, shift="s1",
             stop_when_healthy=False, function="checkout", alias="live", from_version="2",
             from_weights={"2": 100}, to_version="1", why="x")
    lam = aws.client()
    a = j.intent(WEIGHTS, route="live", shift="s1", index=0, weights={"2": 75, "1": 25}, previous={"2": 100, "1": 0})
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion="2",
                     RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}})
    j.outcome(a, True, result={"weights": {"2": 75, "1": 25}})
    j.intent(WEIGHTS, route="live", shift="s1", index=1, weights={"2": 50, "1": 50}, previous={"2": 75, "1": 25})
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion="2",
                     RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    before = aws.requests("PUT", ALIAS_PUT)
    result = Executor(rb, j, StepContext(backends={}, log=lambda s: None, journal=j)).resume()
    j.close()
    assert result.ok, result.error
    assert aws.requests("PUT", ALIAS_PUT) == before + 1, "only the last step sent"
    assert alias_of(aws) == ("1", {})


def test_readonly_steps_send_nothing(aws, tmp_path):
    before = aws.requests("PUT")
    for kind, extra in (("lambda.rollback", ""), ("lambda.shift", ", steps: '50,0', hold: 0s")):
        j = Journal.open(tmp_path / f"{kind}.jsonl")
        result = Executor(runbook(tmp_path, kind, extra), j,
                          StepContext(backends={}, log=lambda s: None, journal=j, readonly=True)).run()
        j.close()
        assert not result.ok and result.error is not None and result.error.exit_code == 5, result.error
    assert aws.requests("PUT") == before
    assert alias_of(aws) == ("2", {})
