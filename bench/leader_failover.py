"""Leader failover of the in-cluster watcher: kill -9 of the leader → the standby leads and acts.

Two ``cockpit watch checkout -n shop --auto-rollback --leader-elect`` processes against a
bad-image world (in this process, its API over HTTP). The leader is killed with SIGKILL (no
release: the Lease must expire) once its trigger fired, during its countdown, before it sent
anything; the standby, a hot standby, has judged all along and its trigger stands too.
Measured from the kill:

- **leads**: the standby's "is the leader" line;
- **acts**: the rollback PATCH reaching the API server (polled in the world's request log).
  The standby runs with ``--countdown 0`` (the leader with a long one, so it can be killed
  inside it), so "acts" is the failover and the decision, not a wait an operator could abort
  — with the same countdown on both, add it.

Goal (issue 14): acts ≤ lease duration + 2 s. Also checks exactly one rollback PATCH per run.

Run: python3 bench/leader_failover.py [--runs N] [--lease-duration S] [--renew-deadline S]
     [--retry-period S] [--interval S]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, repo_cockpit  # noqa: E402

PATCH = ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/checkout")


class Proc:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, pattern: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, line in list(self.lines):
                if re.search(pattern, line):
                    return t
            time.sleep(0.01)
        raise SystemExit(f"no line matching {pattern!r} in {timeout}s:\n" + "\n".join(x for _, x in self.lines))


def one_run(args: argparse.Namespace, tmp: Path, run: int) -> tuple[float, float, int]:
    from cockpit.world.world import World

    world = World("bad-image", speed=10).start()
    try:
        kc = world.write_kubeconfig(tmp / f"kubeconfig-{run}")
        argv, extra = repo_cockpit()
        common = ["--kubeconfig", str(kc), "watch", "checkout", "-n", "shop", "--auto-rollback", "--leader-elect",
                  "--lease-duration", f"{args.lease_duration:g}", "--renew-deadline", f"{args.renew_deadline:g}",
                  "--retry-period", f"{args.retry_period:g}", "--interval", f"{args.interval:g}", "--window", "2",
                  "--stabilization", "3", "--no-crashes", "--duration", "300"]
        procs = {}
        for ident, countdown in (("A", "600"), ("B", "0")):
            env = {**os.environ, **extra, "XDG_STATE_HOME": str(tmp / f"state-{run}-{ident}"), "NO_COLOR": "1",
                   "COCKPIT_LOCK_DIR": str(tmp / "locks")}
            procs[ident] = Proc([*argv, *common, "--countdown", countdown, "--identity", ident], env)
            procs[ident].wait_for(rf"{ident} is the leader" if ident == "A" else r"A leads .*B stands by")
        a, b = procs["A"], procs["B"]
        a.wait_for(r"AUTO-ROLLBACK in", timeout=120)  # the leader's trigger fired; it counts down
        b.wait_for(r"\(standby\) TRIGGER", timeout=60)  # the standby's stands too
        a.p.kill()
        killed = time.monotonic()
        a.p.wait()
        if PATCH in world.request_log:
            raise SystemExit("the leader sent its rollback before it was killed")
        acted = None
        while time.monotonic() - killed < args.lease_duration + 30:
            if PATCH in world.request_log:
                acted = time.monotonic() - killed
                break
            time.sleep(0.005)
        if acted is None:
            raise SystemExit("the standby never rolled back:\n" + "\n".join(x for _, x in b.lines))
        leads = b.wait_for(r"B is the leader") - killed
        b.wait_for(r"rolled back shop/checkout", timeout=30)
        time.sleep(args.interval * 3)
        b.p.terminate()
        b.p.wait(timeout=20)
        return leads, acted, world.request_log.count(PATCH)
    finally:
        world.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lease-duration", type=float, default=15.0)
    ap.add_argument("--renew-deadline", type=float, default=10.0)
    ap.add_argument("--retry-period", type=float, default=0.5)
    ap.add_argument("--interval", type=float, default=5.0)
    args = ap.parse_args()
    os.chdir(ROOT)
    leads, acts = [], []
    with tempfile.TemporaryDirectory() as d:
        for run in range(args.runs):
            lead, act, n = one_run(args, Path(d), run)
            leads.append(lead)
            acts.append(act)
            print(f"run {run + 1}: kill -9 → standby leads {lead:.2f}s, rolls back {act:.2f}s ({n} rollback PATCH)",
                  flush=True)
            if n != 1:
                raise SystemExit(f"expected exactly one rollback PATCH, saw {n}")
    goal = args.lease_duration + 2
    worst = max(acts)
    print(f"lease {args.lease_duration:g}s, renew deadline {args.renew_deadline:g}s, retry {args.retry_period:g}s, "
          f"check interval {args.interval:g}s, standby countdown 0")
    print(f"failover (kill -9 → new leader): median {statistics.median(leads):.2f}s, max {max(leads):.2f}s")
    print(f"failover (kill -9 → new leader acts): median {statistics.median(acts):.2f}s, max {worst:.2f}s "
          f"(goal ≤ lease + 2s = {goal:g}s: {'ok' if worst <= goal else 'MISSED'})")
    if worst > goal:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
