"""Feature flags against a real Unleash server started by the suite (``unleash-server`` on
Node, its database on the suite's PostgreSQL): ``cockpit flag off|on|show`` as an operator runs
them, the ``flag.disable``/``flag.enable`` steps through the executor with reconcile after a
crash, readonly refusing before anything is sent, and bad input as one line with its exit code.

Switches that reached the server are counted from Unleash's own event log."""
from __future__ import annotations

import json

import pytest

import backends.flags.steps  # noqa: F401  registers flag.* until compose.load_step_kinds does
from backends.flags.unleash import UnleashService
from cockpit import cli
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError
from cockpit.executor import Executor
from cockpit.flags import FlagRef, FlagService, set_flag
from cockpit.journal import Journal, read_journal
from cockpit.runbook import load_runbook
from cockpit.steps import StepContext
from tests.fixtures.unleash import ADMIN_TOKEN


@pytest.fixture
def unleash(unleash_server, monkeypatch):
    monkeypatch.setenv("UNLEASH_URL", unleash_server.url)
    monkeypatch.setenv("UNLEASH_API_TOKEN", ADMIN_TOKEN)
    monkeypatch.setitem(cli.COMMAND_MODULES, "flag", "backends.flags.commands")  # until cli.py lists it
    return unleash_server


def cockpit(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def records(path):
    return list(read_journal(path))


def test_the_adapter_is_the_port(unleash):
    with UnleashService.from_env() as svc:
        assert isinstance(svc, FlagService)


def test_flag_off_switches_it_and_journals_before_and_after(unleash, capsys, tmp_path):
    name = unleash.new_flag(enabled_in=("production", "development"))
    j = tmp_path / "j.jsonl"
    rc, out, err = cockpit(capsys, "--journal", str(j), "-o", "json", "flag", "off", name, "--project", "default",
                           "--env", "production")
    assert rc == 0, err
    assert unleash.enabled(name, "production") is False
    assert unleash.enabled(name, "development") is True  # only the environment asked for
    assert json.loads(out) | {} == {"provider": "unleash", "feature": name, "project": "default",
                                    "environment": "production", "before": "on", "after": "off", "sent": True}
    recs = records(j)
    intent = next(r for r in recs if r["type"] == "intent")
    outcome = next(r for r in recs if r["type"] == "outcome")
    assert (intent["action"], intent["feature"], intent["environment"], intent["before"], intent["target_state"]) == (
        "flag.disable", name, "production", "on", "off")
    assert intent["seq"] < outcome["seq"] and outcome["ok"] and outcome["result"]["after"] == "off"
    text = j.read_text() + out + err
    assert ADMIN_TOKEN not in text and "cockpit-test-admin-token" not in text
    # and on again: the undo
    rc, out, err = cockpit(capsys, "--journal", str(j), "flag", "on", name, "--env", "production")
    assert rc == 0, err
    assert unleash.enabled(name, "production") is True
    assert "on" in out and unleash.toggles_sent(name) == 4  # 2 by setup, off, on


def test_a_flag_already_off_is_left_alone(unleash, capsys, tmp_path):
    name = unleash.new_flag()
    rc, out, err = cockpit(capsys, "--journal", str(tmp_path / "j.jsonl"), "flag", "off", name, "--env", "production")
    assert rc == 0, err
    assert "already off" in err and "nothing sent" in err
    assert unleash.toggles_sent(name) == 0
    j = tmp_path / "j.jsonl"
    assert not j.exists() or not [r for r in records(j) if r["type"] == "intent"]


def test_readonly_refuses_before_anything_is_sent(unleash, capsys, tmp_path):
    name = unleash.new_flag(enabled_in=("production",))
    rc, out, err = cockpit(capsys, "--readonly", "--journal", str(tmp_path / "j.jsonl"), "flag", "off", name,
                           "--env", "production")
    assert rc == 5 and "readonly" in err and "nothing was sent" in err and "Traceback" not in err
    assert unleash.enabled(name, "production") is True and unleash.toggles_sent(name) == 1
    svc = UnleashService.from_env(readonly=True)
    with pytest.raises(ReadonlyError):
        set_flag(svc, FlagRef(name, "default", "production"), False)
    with pytest.raises(ReadonlyError):  # and at the transport, below the adapter's own check
        svc._client.post(f"/api/admin/projects/default/features/{name}/environments/production/off")
    assert svc.requests_sent == 0
    svc.close()
    assert unleash.enabled(name, "production") is True and unleash.toggles_sent(name) == 1


def test_an_unknown_flag_is_exit_3_listing_the_projects_flags(unleash, capsys):
    known = unleash.new_flag("payments")
    rc, out, err = cockpit(capsys, "flag", "off", "no-such-flag", "--env", "production")
    assert rc == 3 and "no-such-flag" in err and known in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_environment_names_the_flags_environments(unleash, capsys):
    name = unleash.new_flag()
    rc, out, err = cockpit(capsys, "flag", "off", name, "--env", "prod")
    assert rc == 3 and "'prod'" in err and "production" in err and "development" in err


def test_a_refused_token_names_its_source_not_the_secret(unleash, capsys, monkeypatch):
    name = unleash.new_flag(enabled_in=("production",))
    monkeypatch.setenv("UNLEASH_API_TOKEN", "*:*.wrong-token-zz9")
    rc, out, err = cockpit(capsys, "flag", "off", name, "--env", "production")
    assert rc == 2 and "$UNLEASH_API_TOKEN" in err and "wrong-token-zz9" not in err
    monkeypatch.delenv("UNLEASH_API_TOKEN")
    rc, out, err = cockpit(capsys, "flag", "off", name, "--env", "production")
    assert rc == 2 and "no Unleash admin API token" in err
    assert unleash.enabled(name, "production") is True


def test_a_server_that_does_not_answer_is_exit_4(unleash, capsys, monkeypatch):
    from tests.fixtures.procs import free_port

    monkeypatch.setenv("UNLEASH_URL", f"http://127.0.0.1:{free_port()}")
    rc, out, err = cockpit(capsys, "flag", "off", "x", "--env", "production")
    assert rc == 4 and "unreachable" in err and ADMIN_TOKEN not in err


def test_show_lists_and_reads(unleash, capsys):
    name = unleash.new_flag(enabled_in=("production",))
    rc, out, err = cockpit(capsys, "flag", "show", name, "--env", "production")
    assert rc == 0 and name in out and "on" in out.split()
    rc, out, err = cockpit(capsys, "-o", "json", "flag", "show")
    assert rc == 0 and name in json.loads(out)["flags"]


def test_the_cli_reconciles_an_interrupted_switch_without_sending_it_again(unleash, capsys, tmp_path):
    name = unleash.new_flag(enabled_in=("production",))
    j = tmp_path / "j.jsonl"
    with Journal.open(j) as journal:
        journal.intent("flag.disable", provider="unleash", service=unleash.url, feature=name, project="default",
                       environment="production", before="on", target_state="off")
    unleash.api("POST", f"/api/admin/projects/default/features/{name}/environments/production/off")  # went out; crash
    rc, out, err = cockpit(capsys, "--journal", str(j), "flag", "off", name, "--env", "production")
    assert rc == 0, err
    assert "had taken effect" in err and unleash.toggles_sent(name) == 2
    outcomes = [r for r in records(j) if r["type"] == "outcome"]
    assert len(outcomes) == 1 and outcomes[0]["ok"] and outcomes[0]["result"]["reconciled"] is True


# ---- the step kinds through the executor

def runbook(tmp_path, kind, feature, env="production"):
    rb = tmp_path / "rb.yaml"
    rb.write_text(f"""
name: quick disable
target: {{kind: deployment, namespace: shop, name: checkout}}
steps:
  - kind: {kind}
    name: switch the flag
    params: {{feature: {feature}, project: default, environment: {env}}}
""")
    return load_runbook(rb)


def test_disable_then_enable_steps(unleash, tmp_path):
    name = unleash.new_flag(enabled_in=("production",))
    j = Journal.open(tmp_path / "j.jsonl")
    result = Executor(runbook(tmp_path, "flag.disable", name), j, StepContext(backends={}, log=lambda s: None, journal=j)).run()
    assert result.ok, result.error
    assert unleash.enabled(name, "production") is False
    result = Executor(runbook(tmp_path, "flag.enable", name), j, StepContext(backends={}, log=lambda s: None, journal=j)).run()
    j.close()
    assert result.ok, result.error
    assert unleash.enabled(name, "production") is True
    recs = records(tmp_path / "j.jsonl")
    intents = [r for r in recs if r["type"] == "intent"]
    assert [(i["action"], i["before"]) for i in intents] == [("flag.disable", "on"), ("flag.enable", "off")]
    outcomes = [r["result"] for r in recs if r["type"] == "outcome"]
    assert [(o["before"], o["after"]) for o in outcomes] == [("on", "off"), ("off", "on")]
    assert ADMIN_TOKEN not in (tmp_path / "j.jsonl").read_text()


def test_the_step_reconciles_after_a_crash_without_a_second_write(unleash, tmp_path):
    name = unleash.new_flag(enabled_in=("production",))
    rb = runbook(tmp_path, "flag.disable", name)
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("run_started", runbook=rb.name, from_step=0, resume=False)
    j.append("step_started", index=0, kind="flag.disable", name="switch the flag", budget=60, mutating=True)
    j.intent("flag.disable", step=0, name="switch the flag",
             params={"feature": name, "project": "default", "environment": "production"},
             provider="unleash", feature=name, project="default", environment="production", before="on",
             target_state="off")
    unleash.api("POST", f"/api/admin/projects/default/features/{name}/environments/production/off")  # then the crash
    result = Executor(rb, j, StepContext(backends={}, log=lambda s: None, journal=j)).resume()
    j.close()
    assert result.ok, result.error
    assert unleash.toggles_sent(name) == 2  # the setup's on and the write before the crash: none since
    outcome = [r for r in records(tmp_path / "j.jsonl") if r["type"] == "outcome"]
    assert len(outcome) == 1 and outcome[0]["result"]["reconciled"] is True and outcome[0]["result"]["before"] == "on"


def test_a_readonly_step_sends_nothing(unleash, tmp_path):
    name = unleash.new_flag(enabled_in=("production",))
    j = Journal.open(tmp_path / "j.jsonl")
    result = Executor(runbook(tmp_path, "flag.disable", name), j,
                      StepContext(backends={}, log=lambda s: None, journal=j, readonly=True)).run()
    j.close()
    assert not result.ok and unleash.enabled(name, "production") is True and unleash.toggles_sent(name) == 1


def test_an_unknown_flag_fails_the_step_before_any_intent(unleash, tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    result = Executor(runbook(tmp_path, "flag.disable", "ghost-flag"), j,
                      StepContext(backends={}, log=lambda s: None, journal=j)).run()
    j.close()
    assert not result.ok
    assert not [r for r in records(tmp_path / "j.jsonl") if r["type"] == "intent"]


def test_an_unknown_project_is_exit_3(unleash, capsys):
    rc, out, err = cockpit(capsys, "flag", "off", "x", "--project", "no-such-project", "--env", "production")
    assert rc == 3 and "no-such-project" in err and "Traceback" not in err


def test_a_hostile_flag_name_is_shown_inert(unleash, capsys):
    rc, out, err = cockpit(capsys, "flag", "off", "evil\x1b]52;c;aGk=\x07\u202ename", "--env", "production")
    assert rc == 3
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err and "\\e]52" in err
