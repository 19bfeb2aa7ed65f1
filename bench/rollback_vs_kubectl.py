"""Rollback-and-wait: the cockpit against `kubectl rollout undo --to-revision=N` + `kubectl rollout status`.

Twin deployments (same replicas, same revisions, same simulated pod start-up) in one world,
in one run, alternating: we roll `twin-a` back and forth between two images, kubectl does the
same to `twin-b`. Both pay the same simulated rollout; the difference is client overhead and
how fast each notices completion. Prints medians and ratios (goal <= 1.0).

Run: python3 bench/rollback_vs_kubectl.py [--runs N] [--speed X]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, cockpit_argv, median_ms, start_world  # noqa: E402

IMAGES = ("registry.example/twin:1.1.0", "registry.example/twin:1.2.0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--speed", type=float, default=4.0)
    args = ap.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise SystemExit("kubectl is needed for the comparison")
    from backends.kubernetes.backend import connect
    from cockpit.model import Target

    with tempfile.TemporaryDirectory() as d:
        kc = Path(d) / "kubeconfig"
        world = start_world(kc, scenario=str(ROOT / "bench" / "twins.yaml"), speed=args.speed)
        try:
            kube = connect(str(kc))
            a, b = Target("twin-a", "bench"), Target("twin-b", "bench")

            def other(target: Target) -> int:
                """The revision whose image is not the live one (so every timed rollback is real)."""
                hist = kube.history(target)
                live = next(r for r in hist if r.live)
                return next(r.number for r in reversed(hist) if r.images != live.images and r.images[0] in IMAGES)

            def settle(target: Target) -> None:
                for _ in kube.watch_progress(target, timeout=300):
                    pass

            ours, ours_cli, ours_bare, theirs = [], [], [], []
            base = [kubectl, "--kubeconfig", str(kc), "-n", "bench"]
            for i in range(args.runs):
                # ours, in process (the cockpit holds a warm client)
                n = other(a)
                t = time.perf_counter()
                assert kube.rollback(a, n).result.value == "rolled-back"
                last = None
                for last in kube.watch_progress(a, timeout=300):
                    pass
                ours.append(time.perf_counter() - t)
                assert last is not None and last.complete
                # kubectl, whole processes
                n = other(b)
                t = time.perf_counter()
                out = subprocess.run([*base, "rollout", "undo", "deploy/twin-b", f"--to-revision={n}"], check=True,
                                     capture_output=True, text=True).stdout
                subprocess.run([*base, "rollout", "status", "deploy/twin-b", "--timeout=300s"], check=True, capture_output=True)
                theirs.append(time.perf_counter() - t)
                assert "rolled back" in out, out
                # ours, whole process (`cockpit rollback --yes`, journaled), on twin-a again
                n = other(a)
                t = time.perf_counter()
                # odd runs skip the evidence capture (kubectl captures none): like for like
                extra = ["--no-evidence"] if i % 2 else []
                out = subprocess.run([*cockpit_argv(), "--kubeconfig", str(kc), "-n", "bench", "--journal", f"{d}/j{i}.jsonl",
                                      "rollback", "twin-a", f"--to-revision={n}", "--yes", *extra], check=True,
                                     capture_output=True, text=True).stdout
                (ours_bare if extra else ours_cli).append(time.perf_counter() - t)
                assert "rolled back" in out, out
                # keep the twins in step, untimed
                kube.rollback(b, other(b))
                settle(b)
        finally:
            world.terminate()
            world.wait()
    o, oc, ob, k = median_ms(ours), median_ms(ours_cli), median_ms(ours_bare), median_ms(theirs)
    print(f"runs: {args.runs}, world speed x{args.speed}, 4 replicas per twin")
    print(f"cockpit rollback-and-wait (in process, warm client):             median {o:.0f} ms")
    print(f"cockpit rollback --yes (whole process, journaled, evidence first): median {oc:.0f} ms")
    print(f"cockpit rollback --yes --no-evidence (whole process, journaled):   median {ob:.0f} ms")
    print(f"kubectl rollout undo + rollout status:                            median {k:.0f} ms")
    print(f"ratio in process / kubectl: {o / k:.3f}; whole process / kubectl: {oc / k:.3f} with evidence, "
          f"{ob / k:.3f} without (goal <= 1.0)")


if __name__ == "__main__":
    main()
