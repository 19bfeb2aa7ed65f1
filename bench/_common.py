"""Shared bench plumbing: a world in its own process, medians, the real console script."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cockpit_argv() -> list[str]:
    """The installed console script itself (not a pyenv shim, which adds a shell and ~50 ms)."""
    beside = Path(sys.executable).parent / "cockpit"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("cockpit")
    return [found] if found else [sys.executable, "-m", "cockpit"]


def repo_cockpit() -> tuple[list[str], dict[str, str]]:
    """This checkout's cockpit (``python -m cockpit`` with the repo first on ``PYTHONPATH``):
    the installed console script may be an editable install of another checkout."""
    return [sys.executable, "-m", "cockpit"], {"PYTHONPATH": str(ROOT)}


def start_world(kubeconfig: Path, *, scenario: str = "healthy", speed: float = 1.0, bulk: str | None = None) -> subprocess.Popen:
    """Serve a world from another process (so our timings don't share its GIL)."""
    code = (
        "import sys, signal, threading\n"
        "from cockpit.world.world import World\n"
        f"w = World({scenario!r}, speed={speed}, services=False)\n"
        "w.start()\n"
        + (f"w.bulk_load(deployments={bulk.split('x')[0]}, replicasets_per={bulk.split('x')[1]})\n" if bulk else "")
        + f"w.write_kubeconfig({str(kubeconfig)!r})\n"
        "print('ready', flush=True)\n"
        "done = threading.Event()\n"
        "signal.signal(signal.SIGTERM, lambda *a: done.set())\n"
        "done.wait()\n"
        "w.stop()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != "ready":
        proc.kill()
        raise SystemExit("the world did not start")
    return proc


def run_timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    return wall, usage.ru_maxrss


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000
