"""Fleet rollback: 50 deployments rolled back by one `cockpit rollback -l` against one `cockpit rollback NAME`.

One world (its own process) holds 50 deployments labelled `tier=fleet` and one more, `solo`,
outside the selector, all alike (2 replicas, two revisions, the same simulated pod start-up:
3 s at speed x1). Each run times, as whole processes, journaled and waiting for their
rollouts, `cockpit rollback solo --yes` and `cockpit rollback -l tier=fleet --yes` (default
--parallel 4) — with the evidence capture (the default) and with --no-evidence; `--force`
flips them between their two revisions so every run is a real rollback. Prints the medians
and the ratios (goal: the fleet <= 1.5x the single rollback). No timed asserts.

The fleet pays its fixed costs once (start-up, 50 plans, 50 Leases) and then, per target,
the rollback itself (evidence, the revision chosen, the fsynced intent, the PATCH) `--parallel`
at a time, while the rollouts run alongside; so the ratio is the fleet's own work over the
length of one rollout. Faster simulated pods (`--speed 4`: a 0.75 s pod start) make that work
weigh more; the simulated API server is one Python process serving the 50 rollouts too.

Run: python3 bench/fleet_rollback.py [--runs N] [--speed X] [--deployments N] [--parallel N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cockpit_argv, median_ms, start_world  # noqa: E402


def scenario(n: int) -> str:
    deps = []
    for name, tier in [*((f"svc-{i:02d}", "fleet") for i in range(n)), ("solo", "solo")]:
        deps.append({"name": name, "namespace": "bench", "replicas": 2, "labels": {"tier": tier},
                     "revisions": [{"image": f"registry.example/{name}:1.0"}, {"image": f"registry.example/{name}:2.0"}]})
    return json.dumps({"name": "fleet-bench", "namespaces": ["bench"], "traffic_rps": 0, "deployments": deps})


def timed(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--deployments", type=int, default=50)
    ap.add_argument("--parallel", type=int, default=None, help="the fleet's --parallel (default: the cockpit's, 4)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        sc = Path(d) / "fleet.yaml"
        sc.write_text(scenario(args.deployments))  # JSON is YAML
        kc = Path(d) / "kubeconfig"
        t = time.perf_counter()
        world = start_world(kc, scenario=str(sc), speed=args.speed)
        built = time.perf_counter() - t
        env = {**os.environ, "XDG_STATE_HOME": f"{d}/state", "COCKPIT_LOCK_DIR": f"{d}/locks"}
        base = [*cockpit_argv(), "--kubeconfig", str(kc), "-n", "bench"]
        parallel = ["--parallel", str(args.parallel)] if args.parallel else []
        times: dict[tuple[str, str], list[float]] = {}
        try:
            for i in range(args.runs):
                for ev, extra in (("evidence", []), ("no-evidence", ["--no-evidence"])):
                    times.setdefault(("single", ev), []).append(timed(
                        [*base, "--journal", f"{d}/solo-{ev}-{i}.jsonl", "rollback", "solo", "--yes", "--force", *extra],
                        env))
                    journal = Path(f"{d}/fleet-{ev}-{i}.jsonl")
                    times.setdefault(("fleet", ev), []).append(timed(
                        [*base, "--journal", str(journal), "rollback", "-l", "tier=fleet", "--yes", "--force",
                         *parallel, *extra], env))
                    done = sum(1 for line in journal.read_text().splitlines()
                               if '"type": "fleet_target"' in line and '"status": "ok"' in line)
                    if done != args.deployments:
                        raise SystemExit(f"run {i}: the fleet rolled back {done} of {args.deployments}")
        finally:
            world.terminate()
            world.wait()
    print(f"world: {args.deployments} deployments (+1 solo), 2 replicas each, speed x{args.speed}, built in "
          f"{built:.1f} s; runs: {args.runs}; fleet --parallel {args.parallel or 4}")
    for ev in ("evidence", "no-evidence"):
        single, fleet = times[("single", ev)], times[("fleet", ev)]
        s, f = median_ms(single), median_ms(fleet)
        flag = " --no-evidence" if ev == "no-evidence" else ""
        print(f"cockpit rollback solo --yes{flag}:{' ' * (28 - len(flag))}median {s:6.0f} ms "
              f"(min {min(single) * 1000:.0f}, max {max(single) * 1000:.0f})")
        print(f"cockpit rollback -l tier=fleet --yes{flag} ({args.deployments}):{' ' * (14 - len(flag))}median {f:6.0f} ms "
              f"(min {min(fleet) * 1000:.0f}, max {max(fleet) * 1000:.0f}, stdev {statistics.pstdev(fleet) * 1000:.0f})")
        print(f"ratio fleet / single{flag}: {f / s:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
