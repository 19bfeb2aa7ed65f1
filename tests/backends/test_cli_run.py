"""`cockpit run RUNBOOK` end to end: the installed CLI, the world, the journal, and resume."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cockpit.world.world import World

RUNBOOK = """
name: checkout rollback
target: {kind: deployment, namespace: shop, name: checkout}
steps:
  - kind: kubernetes.rollback
    budget: 2m
    params: {to_revision: 0, timeout: 60}
  - kind: exec
    params: {argv: [sh, -c, "echo smoke ok"], timeout: 10s}
"""


def cockpit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "XDG_STATE_HOME": str(cwd / "state")}, cwd=cwd)


def test_run_json_then_nothing_left_to_resume(tmp_path: Path) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK)
    bad = tmp_path / "bad.yaml"
    bad.write_text(RUNBOOK.replace("to_revision: 0", "to_revision: lots"))
    with World("bad-image", speed=60.0) as world:
        kc = str(world.write_kubeconfig(tmp_path / "kc"))
        out = cockpit("run", str(bad), "--kubeconfig", kc, cwd=tmp_path)
        assert out.returncode == 2 and "bad.yaml:7" in out.stderr and "to_revision" in out.stderr
        assert "Traceback" not in out.stderr
        journal = tmp_path / "j.jsonl"
        out = cockpit("run", str(rb), "--kubeconfig", kc, "--journal", str(journal), "-o", "json", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["status"] == "ok" and [s["status"] for s in doc["steps"]] == ["ok", "ok"]
        assert doc["steps"][0]["data"]["to_revision"] == 2 and "smoke ok" in out.stderr
        # resuming a finished run re-issues nothing
        world.clear_request_log()
        again = cockpit("run", str(rb), "--kubeconfig", kc, "--journal", str(journal), "--resume", "-o", "json", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert [s["status"] for s in json.loads(again.stdout)["steps"]] == ["skipped", "skipped"]
        assert set(world.request_counts) <= {"GET"}
        ro = cockpit("run", str(rb), "--kubeconfig", kc, "--readonly", cwd=tmp_path)
        assert ro.returncode == 5 and "nothing was sent" in ro.stderr


def test_journal_show_reports_a_torn_tail_and_never_accepts_it(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"seq": 1, "ts": "2026-01-01T00:00:00.000Z", "actor": "a@b", "type": "incident_opened", '
                       '"target": "shop/checkout"}\n{"seq": 2, "ts": "2026-01-01T00:00:01.000Z", "type": "inte')
    out = cockpit("journal", "show", str(journal), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "incident_opened" in out.stdout and "target=shop/checkout" in out.stdout
    assert "torn last line" in out.stdout and "inte" not in out.stdout.split("torn")[0].split("incident_opened")[1]
    doc = json.loads(cockpit("journal", "show", str(journal), "-o", "json", cwd=tmp_path).stdout)
    assert [r["type"] for r in doc["records"]] == ["incident_opened"] and doc["torn_tail"]["offset"] > 0
    missing = cockpit("journal", "show", str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing.returncode == 3 and "does not exist" in missing.stderr
