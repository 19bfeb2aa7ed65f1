"""History at scale: 1,000 deployments x 20 ReplicaSets in one namespace.

(a) in-process, with a warm client as the cockpit holds it: median latency of one
    deployment's history, against the whole `kubectl rollout history` process (goal <= 0.5);
(b) whole process: `cockpit history` against `kubectl rollout history` (goal <= 3);
(c) peak RSS of the `cockpit history` process (goal <= 200 MB).

Run: python3 bench/history_scale.py [--runs N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cockpit_argv, median_ms, run_timed, start_world  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--deployments", type=int, default=1000)
    ap.add_argument("--replicasets", type=int, default=20)
    args = ap.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise SystemExit("kubectl is needed for the comparison")
    with tempfile.TemporaryDirectory() as d:
        kc = Path(d) / "kubeconfig"
        t0 = time.perf_counter()
        world = start_world(kc, bulk=f"{args.deployments}x{args.replicasets}")
        print(f"world: {args.deployments} deployments x {args.replicasets} ReplicaSets loaded in {time.perf_counter() - t0:.1f}s")
        try:
            from backends.kubernetes.backend import connect
            from cockpit.model import Target

            target = Target("app-0500", "bench")
            kube = connect(str(kc))
            assert len(kube.history(target)) == args.replicasets  # warm the connection, check the data
            inproc = []
            for _ in range(args.runs * 3):
                t = time.perf_counter()
                kube.history(target)
                inproc.append(time.perf_counter() - t)
            ours_cli, theirs, rss = [], [], []
            kubectl_argv = [kubectl, "--kubeconfig", str(kc), "-n", "bench", "rollout", "history", "deploy/app-0500"]
            cockpit = [*cockpit_argv(), "--kubeconfig", str(kc), "-n", "bench", "history", "app-0500"]
            run_timed(kubectl_argv)
            run_timed(cockpit)
            for _ in range(args.runs):  # interleaved, so noise hits both alike
                w, _r = run_timed(kubectl_argv)
                theirs.append(w)
                w, r = run_timed(cockpit)
                ours_cli.append(w)
                rss.append(r)
        finally:
            world.terminate()
            world.wait()
    a, k, b = median_ms(inproc), median_ms(theirs), median_ms(ours_cli)
    print(f"(a) in-process history (warm client): median {a:.1f} ms; kubectl rollout history process: median {k:.1f} ms; "
          f"ratio {a / k:.3f} (goal <= 0.5)")
    print(f"(b) cockpit history process: median {b:.1f} ms; kubectl: median {k:.1f} ms; ratio {b / k:.2f} (goal <= 3)")
    print(f"(c) cockpit history peak RSS: max {max(rss) / 1024:.1f} MB, median {sorted(rss)[len(rss) // 2] / 1024:.1f} MB (goal <= 200 MB)")
    print(f"    (cockpit ran as {cockpit_argv()[0]})")


if __name__ == "__main__":
    main()
