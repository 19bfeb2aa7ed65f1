"""Issue 13's reproduction, as the operator met it: on a world whose last rollout finished
longer ago than progressDeadlineSeconds, `cockpit rollback web --yes` failed at once with exit 7
"exceeded its progress deadline" while the rollout completed seconds later."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_cockpit_rollback_on_a_world_idle_past_the_deadline_completes(world, tmp_path: Path) -> None:
    w = world("healthy", speed=20)
    timed_out: list[str] = []

    def listen(etype: str, resource: str, obj: dict) -> None:
        if resource == "deployments" and obj["metadata"]["name"] == "web":
            timed_out.extend(c["reason"] for c in (obj.get("status") or {}).get("conditions", [])
                             if c["reason"] == "ProgressDeadlineExceeded")

    w.store.add_listener(listen)
    w.clock.fast_forward(3600)  # web's last rollout finished an hour ago; its deadline is 600 s
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COCKPIT_LOCK_DIR": str(tmp_path / "locks")}
    p = subprocess.run([sys.executable, "-m", "cockpit", "--kubeconfig", str(w.kubeconfig_path), "rollback", "web",
                        "--yes", "--journal", str(tmp_path / "j.jsonl")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'deployment "web" successfully rolled out' in p.stdout
    assert "progress deadline" not in p.stdout + p.stderr
    assert timed_out == []
