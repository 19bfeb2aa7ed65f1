"""`cockpit helm history` on a release with 50 revisions vs reading it with helm-sdkpy's History.

One world (its own process); helm-sdkpy (Helm v4's Go library, in the 3.12 venv that
scripts/install-helm.sh makes) installs a one-Deployment + Service chart and upgrades it 49
times (a new image tag each time, max_history 0), so the release has 50 Secret records. Then,
alternating in the same run, whole processes each: `cockpit helm history RELEASE -n NS -o json`
and a Python 3.12 process that builds helm-sdkpy's Configuration and runs History (what a
script using Helm's library pays). Prints medians, peak RSS and the ratio (goal <= 1.0).

Run: python3 bench/helm_history.py [--runs N] [--revisions N]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, median_ms, run_timed, start_world  # noqa: E402

HELM_PY = os.environ.get("COCKPIT_HELM_PYTHON", "/opt/helmpy/bin/python")
NS, RELEASE = "bench", "hist"

SEED = """
import asyncio, sys, helm_sdkpy as h
kc, chart, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = h.Configuration(namespace="bench", kubeconfig=kc)
asyncio.run(h.Install(c).run("hist", chart, values={"image": {"tag": "1"}}, create_namespace=True, wait=False))
for i in range(2, n + 1):
    asyncio.run(h.Upgrade(c).run("hist", chart, values={"image": {"tag": f"1.{i}"}}, wait=False,
                                 max_history=0))
"""

HELM_HISTORY = """
import asyncio, sys, helm_sdkpy as h
c = h.Configuration(namespace="bench", kubeconfig=sys.argv[1])
print(len(asyncio.run(h.History(c).run("hist"))))
"""

COCKPIT = """
import sys
from cockpit import cli
cli.COMMAND_MODULES.setdefault("helm", "backends.helm.commands")
sys.exit(cli.main())
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--revisions", type=int, default=50)
    args = ap.parse_args()
    if not Path(HELM_PY).exists():
        raise SystemExit(f"{HELM_PY} is missing: run scripts/install-helm.sh")
    sys.path.insert(0, str(ROOT / "tests" / ".."))
    from tests.fixtures.helm import write_chart

    with tempfile.TemporaryDirectory() as d:
        kc = Path(d) / "kubeconfig"
        world = start_world(kc)
        try:
            chart = write_chart(Path(d) / "chart")
            subprocess.run([HELM_PY, "-c", SEED, str(kc), str(chart), str(args.revisions)], check=True,
                           capture_output=True, timeout=600)
            cockpit = [sys.executable, "-c", COCKPIT, "--kubeconfig", str(kc), "-n", NS, "-o", "json", "helm",
                       "history", RELEASE]
            env = {"PYTHONPATH": str(ROOT)}
            check = subprocess.run(cockpit, capture_output=True, text=True, env={**os.environ, **env}, check=True)
            import json

            got = len(json.loads(check.stdout)["revisions"])
            want = int(subprocess.run([HELM_PY, "-c", HELM_HISTORY, str(kc)], capture_output=True, text=True,
                                      check=True).stdout)
            assert got == want == args.revisions, (got, want)
            ours, theirs, rss_ours, rss_theirs = [], [], [], []
            for _ in range(args.runs):
                w, r = run_timed(cockpit, env)
                ours.append(w)
                rss_ours.append(r)
                w, r = run_timed([HELM_PY, "-c", HELM_HISTORY, str(kc)])
                theirs.append(w)
                rss_theirs.append(r)
        finally:
            world.terminate()
            world.wait(timeout=10)
    a, b = median_ms(ours), median_ms(theirs)
    print(f"release with {args.revisions} revisions, {args.runs} runs each, alternating, whole processes")
    print(f"cockpit helm history      median {a:7.1f} ms   peak RSS {max(rss_ours) / 1024:6.1f} MiB")
    print(f"helm-sdkpy History        median {b:7.1f} ms   peak RSS {max(rss_theirs) / 1024:6.1f} MiB")
    print(f"ratio cockpit/helm-sdkpy  {a / b:.2f}x (goal <= 1.0)")


if __name__ == "__main__":
    main()
