"""``cockpit traffic shift`` killed with SIGKILL between two steps, then ``--resume``: the
steps already confirmed are not sent again (HAProxy's weights and the journal say so), the
shift finishes where it was going."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from backends.traffic.haproxy import HAProxyTraffic

# Until the lead registers it in COMMAND_MODULES (then this is a no-op).
_RUN = ("import sys, cockpit.cli as c; c.COMMAND_MODULES.setdefault('traffic', 'backends.traffic.commands'); "
        "sys.exit(c.main(sys.argv[1:]))")


def weights_records(path):
    if not path.exists():
        return [], {}
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    intents = [r for r in recs if r["type"] == "intent" and r["action"] == "traffic.weights"]
    outs = {r["id"]: r for r in recs if r["type"] == "outcome"}
    return intents, outs


def test_kill_between_steps_then_resume(haproxy, tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    journal = tmp_path / "shift.jsonl"
    base = [sys.executable, "-c", _RUN, "traffic", "shift", "app", "--haproxy", str(haproxy.socket),
            "--journal", str(journal)]
    proc = subprocess.Popen(base + ["--to", "old", "--steps", "90,70,50,25,0", "--hold", "3s", "--on-worse", "continue"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        intents, outs = weights_records(journal)
        if len(intents) == 2 and intents[1]["id"] in outs:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError(f"step 2 never confirmed: {proc.communicate()}")
    os.kill(proc.pid, signal.SIGKILL)  # during step 2's hold
    proc.wait(timeout=10)
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 30, "new": 70}
    t0 = time.monotonic()
    done = subprocess.run(base + ["--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "resuming the shift of app after step 2 of 5" in done.stderr
    intents, outs = weights_records(journal)
    assert [i["index"] for i in intents] == [0, 1, 2, 3, 4]  # each step sent once
    assert all(outs[i["id"]]["ok"] for i in intents)
    assert HAProxyTraffic(haproxy.socket).get_weights("app") == {"old": 100, "new": 0}
    # step 2 held again (its hold was cut short), then steps 3-5: four holds of 3 s
    assert "holding step 2 again before step 3" in done.stderr
    assert time.monotonic() - t0 >= 12
