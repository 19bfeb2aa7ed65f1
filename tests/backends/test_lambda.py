"""The Lambda backend against moto's standalone server: versions, rollback (immediate and
gradual), resume after a crash without a second UpdateAlias, bad input one line each with
its exit code, readonly sending nothing, credentials never printed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backends.aws_lambda.client import LambdaBackend
from cockpit.journal import Journal, read_journal
from tests.fixtures.moto import CREDS, make_function

ALIAS_PUT = r"/functions/[^/]+/aliases/"
# `lambda` is registered here until cli.COMMAND_MODULES has it
_RUN = ("import sys; from cockpit import cli; "
        "cli.COMMAND_MODULES.setdefault('lambda', 'backends.aws_lambda.commands'); sys.exit(cli.main(sys.argv[1:]))")


def cockpit(server, tmp_path, *args, env_extra=None, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(env if env is not None else server.env())
    base.update({"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")})
    base.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=120,
                          env=base, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def alias_of(server, fn="checkout", name="live"):
    a = server.client().get_alias(FunctionName=fn, Name=name)
    return a["FunctionVersion"], (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def test_versions_lists_descriptions_hashes_and_aliases(moto_server, tmp_path):
    fns = make_function(moto_server)
    moto_server.client().update_alias(FunctionName="checkout", Name="live", FunctionVersion="2",
                                      RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}})
    r = cockpit(moto_server, tmp_path, "lambda", "versions", "checkout", "-o", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [(v["version"], v["description"]) for v in data["versions"]] == [("1", "good"), ("2", "bad")]
    assert data["versions"][0]["code_sha256"] == fns["v1"]["CodeSha256"] != fns["v2"]["CodeSha256"]
    assert data["aliases"] == [{"name": "live", "version": "2", "weights": {"2": 75, "1": 25},
                                "revision_id": data["aliases"][0]["revision_id"]}]
    r = cockpit(moto_server, tmp_path, "lambda", "versions", "checkout")
    assert r.returncode == 0, r.stderr
    assert "live 75%" in r.stdout and "live 25%" in r.stdout and fns["v1"]["CodeSha256"] in r.stdout


def test_rollback_points_the_alias_at_the_previous_version(moto_server, tmp_path):
    make_function(moto_server)
    j = tmp_path / "j.jsonl"
    before = moto_server.requests("PUT", ALIAS_PUT)
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--yes", "--journal", str(j))
    assert r.returncode == 0, r.stderr
    assert alias_of(moto_server) == ("1", {})
    assert moto_server.requests("PUT", ALIAS_PUT) == before + 1
    recs = read_journal(j)
    intent = next(x for x in recs if x["type"] == "intent")
    assert intent["action"] == "lambda.rollback" and intent["from_version"] == "2" and intent["to_version"] == "1"
    assert any(x["type"] == "outcome" and x["id"] == intent["id"] and x["ok"] for x in recs)
    # again: the journal says it is done — nothing sent, never back to the bad version
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--yes", "--journal", str(j))
    assert r.returncode == 0, r.stderr
    assert "already rolled back" in r.stdout and "nothing to do" in r.stdout
    assert moto_server.requests("PUT", ALIAS_PUT) == before + 1
    assert alias_of(moto_server) == ("1", {})


def test_rollback_from_the_journal_after_the_alias_moved(moto_server, tmp_path):
    make_function(moto_server)
    lam = moto_server.client()
    lam.update_function_code(FunctionName="checkout", ZipFile=b"PK\x05\x06" + b"\0" * 18)
    lam.publish_version(FunctionName="checkout", Description="v3")
    j = tmp_path / "j.jsonl"
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--to-version", "1",
                "--yes", "--journal", str(j))
    assert r.returncode == 0, r.stderr
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion="3")  # a deploy of 3
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--yes", "--journal", str(j))
    assert r.returncode == 0, r.stderr
    assert alias_of(moto_server) == ("1", {}), "the version the journal last put live, not 2 (the one before 3)"


def test_gradual_shift_steps_the_weights(moto_server, tmp_path):
    make_function(moto_server)
    j = tmp_path / "j.jsonl"
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--steps", "90,50,0",
                "--hold", "0s", "--yes", "--journal", str(j), "-o", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["status"] == "done" and data["weights"] == {"2": 0, "1": 100}
    assert [s["weights"] for s in data["steps"]] == [{"2": 90, "1": 10}, {"2": 50, "1": 50}, {"2": 0, "1": 100}]
    assert alias_of(moto_server) == ("1", {})
    recs = read_journal(j)
    weights = [x["weights"] for x in recs if x["type"] == "intent" and x["action"] == "traffic.weights"]
    assert weights == [{"2": 90, "1": 10}, {"2": 50, "1": 50}, {"2": 0, "1": 100}]
    assert [x["action"] for x in recs if x["type"] == "intent"][0] == "lambda.shift"
    assert "step 2/3: 2=50% 1=50%" in r.stderr


def test_crash_between_intent_and_outcome_then_resume_sends_nothing(moto_server, tmp_path):
    make_function(moto_server)
    j = tmp_path / "j.jsonl"
    with Journal.open(j) as journal:  # the first run: intent fsynced, the write went out, then the crash
        journal.intent("lambda.rollback", function="checkout", alias="live", from_version="2",
                       from_weights={"2": 100}, to_version="1", why="version 1")
    moto_server.client().update_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
    before = moto_server.requests("PUT", ALIAS_PUT)
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--yes", "--journal", str(j))
    assert r.returncode == 0, r.stderr
    assert "had taken effect" in r.stderr and "nothing sent" in r.stderr
    assert moto_server.requests("PUT", ALIAS_PUT) == before, "no second UpdateAlias"
    out = [x for x in read_journal(j) if x["type"] == "outcome"]
    assert len(out) == 1 and out[0]["ok"] and out[0]["resumed"]


def test_crash_before_the_write_resends_once(moto_server, tmp_path):
    make_function(moto_server)
    j = tmp_path / "j.jsonl"
    with Journal.open(j) as journal:
        journal.intent("lambda.rollback", function="checkout", alias="live", from_version="2",
                       from_weights={"2": 100}, to_version="1", why="version 1")
    before = moto_server.requests("PUT", ALIAS_PUT)
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--yes", "--journal", str(j))
    assert r.returncode == 0, r.stderr
    assert moto_server.requests("PUT", ALIAS_PUT) == before + 1
    assert alias_of(moto_server) == ("1", {})
    outs = [x for x in read_journal(j) if x["type"] == "outcome"]
    assert [(o["ok"], o.get("superseded", False)) for o in outs] == [(False, True), (True, False)]


@pytest.mark.parametrize("args, message", [
    (["versions", "ghost"], "no Lambda function 'ghost' in http://127.0.0.1:{port}; its functions: checkout"),
    (["rollback", "ghost", "--alias", "live", "--yes"], "its functions: checkout"),
    (["rollback", "checkout", "--alias", "prod", "--yes"], "function checkout has no alias 'prod'; its aliases: live"),
    (["rollback", "checkout", "--alias", "live", "--to-version", "9", "--yes"],
     "function checkout has no published version '9'; its published versions: 1, 2"),
])
def test_unknown_function_alias_version_exit_3_listing_what_exists(moto_server, tmp_path, args, message):
    make_function(moto_server)
    before = moto_server.requests("PUT")
    r = cockpit(moto_server, tmp_path, "lambda", *args)
    assert r.returncode == 3, r.stderr
    assert message.format(port=moto_server.port) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert moto_server.requests("PUT") == before
    assert alias_of(moto_server) == ("2", {})


def test_readonly_sends_nothing(moto_server, tmp_path, monkeypatch):
    make_function(moto_server)
    before = moto_server.requests("PUT")
    for extra in ([], ["--steps", "50,0", "--hold", "0s"]):
        r = cockpit(moto_server, tmp_path, "--readonly", "lambda", "rollback", "checkout", "--alias", "live", "--yes",
                    *extra, "--journal", str(tmp_path / "j.jsonl"))
        assert r.returncode == 5, r.stderr
        assert "readonly" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # below the command: the backend's method and its transport hook
    for k, v in moto_server.env().items():
        monkeypatch.setenv(k, v)
    b = LambdaBackend(endpoint_url=moto_server.url, region="us-east-1", readonly=True)
    from cockpit.errors import ReadonlyError
    with pytest.raises(ReadonlyError):
        b.set_alias("checkout", "live", "1")
    with pytest.raises(ReadonlyError):
        b.call("update_alias", FunctionName="checkout", Name="live", FunctionVersion="1")
    with pytest.raises(ReadonlyError):
        b.call("delete_alias", FunctionName="checkout", Name="live")
    assert b.versions("checkout")[0].version == "1"  # reads still go
    assert moto_server.requests("PUT") == before and moto_server.requests("DELETE") == 0
    assert alias_of(moto_server) == ("2", {})


def test_missing_credentials_one_line_naming_the_sources(moto_server, tmp_path):
    make_function(moto_server)
    env = {k: v for k, v in moto_server.env().items() if not k.startswith("AWS_ACCESS") and "SECRET" not in k}
    r = cockpit(moto_server, tmp_path, "lambda", "versions", "checkout", env=env)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "no AWS credentials found" in line
    assert "AWS_ACCESS_KEY_ID" in line and "/nonexistent/aws-credentials" in line


def test_refused_credentials_name_the_source_never_the_secret(moto_auth_server, tmp_path):
    r = cockpit(moto_auth_server, tmp_path, "lambda", "versions", "checkout")
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "refused the credentials from the environment (AWS_ACCESS_KEY_ID)" in line
    assert CREDS["AWS_SECRET_ACCESS_KEY"] not in r.stderr + r.stdout


def test_server_that_does_not_answer_exit_4(moto_server, tmp_path):
    from tests.fixtures.procs import free_port

    env = {**moto_server.env(), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    r = cockpit(moto_server, tmp_path, "lambda", "rollback", "checkout", "--alias", "live", "--yes", env=env)
    assert r.returncode == 4, r.stderr
    assert "did not answer" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert CREDS["AWS_SECRET_ACCESS_KEY"] not in r.stderr + r.stdout
