"""``cockpit traffic`` against a real HAProxy and the world: one line and a documented exit
code for each bad input, nothing half-applied; shift, pause, resume, abort."""
from __future__ import annotations

import json
import threading

import pytest

from backends.traffic.haproxy import HAProxyTraffic
from cockpit import cli
from cockpit.journal import read_journal


@pytest.fixture(autouse=True)
def _traffic_command(monkeypatch):
    monkeypatch.setitem(cli.COMMAND_MODULES, "traffic", "backends.traffic.commands")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_set_and_shift(haproxy, capsys, tmp_path):
    sock = str(haproxy.socket)
    code, out, _ = run(capsys, "traffic", "show", "app", "--haproxy", sock)
    assert code == 0 and "old" in out and "new" in out and "100%" in out
    j = tmp_path / "j.jsonl"
    code, out, err = run(capsys, "traffic", "set", "app", "old=25", "new=75", "--haproxy", sock, "--journal", str(j))
    assert code == 0, err
    assert HAProxyTraffic(sock).get_weights("app") == {"old": 25, "new": 75}
    code, out, err = run(capsys, "traffic", "shift", "app", "--to", "old", "--steps", "50,0", "--hold", "0s",
                         "--haproxy", sock, "--journal", str(j), "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "done" and data["weights"] == {"old": 100, "new": 0}
    assert [s["others_pct"] for s in data["steps"]] == [50, 0]
    assert "step 1/2: old=50% new=50%" in err
    intents = [r for r in read_journal(j) if r["type"] == "intent"]
    assert [r["action"] for r in intents] == ["traffic.weights", "traffic.shift", "traffic.weights", "traffic.weights"]


@pytest.mark.parametrize("argv, code, message", [
    (["set", "app", "old=60", "new=30"], 2, "the weights add up to 90, not 100 (old=60, new=30)"),
    (["set", "app", "old=50", "ghost=50"], 3, "route app has no backend 'ghost'; its backends: old, new"),
    (["set", "nope", "old=50", "new=50"], 3, "HAProxy has no backend 'nope'; its backends: app, other"),
    (["shift", "app", "--to", "older", "--steps", "50,0", "--hold", "0s"], 3, "route app has no backend 'older'"),
    (["shift", "app", "--to", "old", "--steps", "50,120"], 2, "--steps: 120 is not between 0 and 100"),
    (["shift", "app", "--steps", "50,0"], 2, "--to BACKEND is required"),
    (["abort", "app"], 3, "no open shift of app to abort"),
])
def test_bad_input_one_line_nothing_sent(haproxy, capsys, tmp_path, argv, code, message):
    sock = str(haproxy.socket)
    got, out, err = run(capsys, "traffic", *argv, "--haproxy", sock, "--journal", str(tmp_path / "j.jsonl"))
    assert got == code, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    port = HAProxyTraffic(sock)
    assert port.get_weights("app") == {"old": 0, "new": 100}


def test_socket_that_does_not_answer(capsys, tmp_path):
    code, out, err = run(capsys, "traffic", "shift", "app", "--to", "old", "--haproxy", str(tmp_path / "gone.sock"))
    assert code == 4 and "does not answer" in err and len(err.strip().splitlines()) == 1


def test_readonly_exit_5(haproxy, capsys, tmp_path):
    code, out, err = run(capsys, "traffic", "set", "app", "old=50", "new=50", "--haproxy", str(haproxy.socket),
                         "--readonly", "--journal", str(tmp_path / "j.jsonl"))
    assert code == 5 and "nothing was sent" in err
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 0, "new": 100}


def test_pause_then_resume_then_abort(haproxy, capsys, tmp_path):
    sock, j = str(haproxy.socket), str(tmp_path / "j.jsonl")
    stop = threading.Event()

    def traffic():  # requests all along; the old release starts failing once it has 30 %
        port = HAProxyTraffic(sock)
        while not stop.is_set():
            if port.get_weights("app").get("old") == 30:
                haproxy.backends["old"].error_every = 1
            haproxy.hits(5)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    try:
        code, out, err = run(capsys, "traffic", "shift", "app", "--to", "old", "--steps", "90,70,0", "--hold", "0.7s",
                             "--haproxy", sock, "--journal", j, "--on-worse", "pause")
    finally:
        stop.set()
        t.join(timeout=10)
    assert code == 7, err
    assert "Paused: verdict for old got worse after step 2: OK → ROLLBACK_NOW" in err
    assert HAProxyTraffic(sock).get_weights("app") == {"old": 30, "new": 70}
    haproxy.backends["old"].error_every = 0
    code, out, err = run(capsys, "traffic", "shift", "app", "--resume", "--hold", "0s", "--haproxy", sock, "--journal", j)
    assert code == 0, err
    assert "resuming the shift of app after step 2 of 3" in err
    idx = [r["index"] for r in read_journal(j) if r["type"] == "intent" and r["action"] == "traffic.weights"]
    assert idx == [0, 1, 2]  # step 3 only, on resume
    assert HAProxyTraffic(sock).get_weights("app") == {"old": 100, "new": 0}
    code, out, err = run(capsys, "traffic", "abort", "app", "--haproxy", sock, "--journal", j)
    assert code == 3 and "no open shift of app to abort" in err  # it finished


def test_abort_an_open_shift_puts_the_start_back(haproxy, capsys, tmp_path):
    from cockpit.journal import Journal
    from cockpit.traffic import make_plan

    sock, j = str(haproxy.socket), str(tmp_path / "j.jsonl")
    port = HAProxyTraffic(sock)
    journal = Journal.open(j)
    plan = make_plan(port, "app", "old", (90, 50, 0), 0)
    journal.intent("traffic.shift", **plan.intent_data())  # a shift a killed process left open, at 50 %
    journal.close()
    port.set_weights("app", {"old": 50, "new": 50})
    code, out, err = run(capsys, "traffic", "abort", "app", "--haproxy", sock, "--journal", j)
    assert code == 0, err
    assert port.get_weights("app") == {"old": 0, "new": 100}
    code, out, err = run(capsys, "traffic", "shift", "app", "--resume", "--haproxy", sock, "--journal", j)
    assert code == 3 and "no open shift of app to resume" in err


def test_gateway_route_missing_backend(world, capsys, tmp_path):
    from cockpit.world.scenario import Scenario
    from tests.world.test_world_httproute import CANARY, HTTPROUTES, route

    w = world(Scenario.model_validate(CANARY), speed=50, services=True)
    w.api.create(HTTPROUTES, "shop", route(0, 100), dry_run=False)
    kc = str(w.kubeconfig_path)
    code, out, err = run(capsys, "traffic", "shift", "checkout", "--to", "checkout-v0", "-n", "shop",
                         "--kubeconfig", kc, "--journal", str(tmp_path / "j.jsonl"))
    assert code == 3 and "route checkout has no backend 'checkout-v0'; its backends: checkout-v1, checkout-v2" in err
    code, out, err = run(capsys, "traffic", "shift", "checkout", "--to", "checkout-v1", "--steps", "50,0",
                         "--hold", "0s", "-n", "shop", "--kubeconfig", kc, "--journal", str(tmp_path / "j.jsonl"))
    assert code == 0, err
    assert [r["weight"] for r in w.store.require("httproutes", "shop", "checkout")["spec"]["rules"][0]["backendRefs"]] \
        == [100, 0]


def test_drain_and_ready(haproxy, capsys, tmp_path):
    sock, j = str(haproxy.socket), str(tmp_path / "j.jsonl")
    HAProxyTraffic(sock).set_weights("app", {"old": 50, "new": 50})
    code, out, err = run(capsys, "traffic", "drain", "app", "new", "--state", "maint", "--haproxy", sock, "--journal", j)
    assert code == 0, err
    assert haproxy.hits(10)["old"] == 10
    code, out, err = run(capsys, "traffic", "drain", "app", "new", "--state", "ready", "--haproxy", sock, "--journal", j)
    assert code == 0 and haproxy.hits(10)["new"] == 5
    acts = [r["state"] for r in read_journal(j) if r["type"] == "intent" and r["action"] == "traffic.state"]
    assert acts == ["maint", "ready"]
