"""Idle cost in tmux at 80x24 for N seconds: bytes written to the terminal per second and
CPU% of the process, for ``cockpit --drill`` (healthy scenario, dashboard) vs ``htop -d 10``.

    python bench/idle.py [seconds]     (default 60)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid


def measure(cmd: str, seconds: float, warmup: float = 8.0) -> tuple[float, float]:
    s = f"idle-{uuid.uuid4().hex[:6]}"
    log = tempfile.mktemp(suffix=".out")
    subprocess.run(["tmux", "new-session", "-d", "-s", s, "-x", "80", "-y", "24", cmd], check=True)
    try:
        time.sleep(warmup)
        pid = int(subprocess.run(["tmux", "display", "-p", "-t", s, "#{pane_pid}"], capture_output=True, text=True).stdout)
        # the app is the pane's process (exec) — sum CPU of it and its children
        pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
        def cpu() -> float:
            total = 0
            for p in pids:
                try:
                    f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                    total += int(f[11]) + int(f[12])
                except OSError:
                    pass
            return total / os.sysconf("SC_CLK_TCK")
        subprocess.run(["tmux", "pipe-pane", "-t", s, "-o", f"cat >> {log}"], check=True)
        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        subprocess.run(["tmux", "pipe-pane", "-t", s], check=True)
        size = os.path.getsize(log) if os.path.exists(log) else 0
        return size / (t1 - t0), 100.0 * (c1 - c0) / (t1 - t0)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", s], capture_output=True)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    tmp = tempfile.mkdtemp()
    hb, hc = measure("exec htop -d 10", seconds)
    cb, cc = measure(f"exec env XDG_STATE_HOME={tmp} cockpit --drill --scenario healthy", seconds)
    print(f"htop -d 10:        {hb:8.0f} bytes/s  CPU {hc:5.2f}%")
    print(f"cockpit (healthy): {cb:8.0f} bytes/s  CPU {cc:5.2f}%")
    print(f"ratio bytes/s {cb / max(hb, 1):.2f} (goal <= 2); CPU goal <= 3%")


if __name__ == "__main__":
    main()
