"""Time to the first frame showing live data vs a minimal Textual app, in the same run, both
in tmux at 120x40. Prints figures; asserts nothing.

"Live data" is the drill target's pods table with a pod's real STATUS from the world
("Running" appears nowhere else on the dashboard): the world started, the backend connected,
the first snapshot polled and painted. The cockpit is this checkout's (``python -m cockpit``
with the repo on PYTHONPATH, no pyenv shim), the minimal app the same interpreter.

    python bench/startup.py [runs]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ROOT, repo_cockpit  # noqa: E402

MINIMAL = "from textual.app import App\nfrom textual.widgets import Static\nclass A(App):\n    def compose(self):\n        yield Static('READY-MINIMAL')\nA().run()\n"


def first_frame(cmd: str, needle: str, timeout: float = 30.0) -> float:
    s = f"bench-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", s, "-x", "120", "-y", "40", cmd], check=True)
    try:
        while time.perf_counter() - t0 < timeout:
            out = subprocess.run(["tmux", "capture-pane", "-t", s, "-p"], capture_output=True, text=True).stdout
            if needle in out:
                return time.perf_counter() - t0
            time.sleep(0.01)
        return float("nan")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", s], capture_output=True)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    tmp = tempfile.mkdtemp()
    script = f"{tmp}/minimal.py"
    open(script, "w").write(MINIMAL)
    # a cluster that is already running (the world in its own process, as a real API server is)
    kubeconfig = f"{tmp}/kubeconfig"
    world = subprocess.Popen([sys.executable, "-m", "cockpit", "world", "serve", "--kubeconfig", kubeconfig,
                              "--scenario", "bad-image"], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert world.stdout is not None and world.stdout.readline().startswith("world ready")
    mins, cps, live = [], [], []
    try:
        for _ in range(runs):
            mins.append(first_frame(f"{sys.executable} {script}", "READY-MINIMAL"))
            argv, _env = repo_cockpit()
            cps.append(first_frame(f"env XDG_STATE_HOME={tmp} PYTHONPATH={ROOT} {' '.join(argv)} --drill --scenario bad-image",
                                   "Running"))
            # the deployments across namespaces, listed from the cluster ("checkout" is only in that list)
            live.append(first_frame(f"env XDG_STATE_HOME={tmp} PYTHONPATH={ROOT} {' '.join(argv)} --kubeconfig {kubeconfig}",
                                    "checkout"))
    finally:
        world.terminate()
        world.wait()
    m, c, k = (sorted(v)[len(v) // 2] for v in (mins, cps, live))
    print(f"minimal textual app first frame: median {m:.3f}s  {['%.3f' % x for x in mins]}")
    print(f"cockpit on a running cluster, first frame with its deployments: median {k:.3f}s  {['%.3f' % x for x in live]}")
    print(f"cockpit --drill (boots its world too), first frame with live pods: median {c:.3f}s  {['%.3f' % x for x in cps]}")
    print(f"ratio on a running cluster {k / m:.2f}; ratio for a drill {c / m:.2f} (goal <= 2.0)")


if __name__ == "__main__":
    main()
