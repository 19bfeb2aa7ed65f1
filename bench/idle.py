"""Idle cost at 80x24 for N seconds: bytes the process writes to its terminal per second and
its CPU %, for ``cockpit --drill --scenario healthy`` (dashboard, first target picked: live pods, plots and
verdict) vs ``htop -d 10``, same run.

    python bench/idle.py [seconds]     (default 60)

Each program runs on a pty we open ourselves (``pty.fork``, window size set to 80x24 before
the program starts), so every byte it draws is counted from its very first frame: we read
the master side continuously, count the bytes written after ``warmup`` seconds (start-up
drawing excluded, idle drawing included) and answer the terminal queries Textual sends
(cursor position, device attributes) the way a terminal would. CPU is utime+stime of the
process and its children from /proc. Prints figures; asserts nothing.
"""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import repo_cockpit  # noqa: E402


def _cpu(pid: int) -> float:
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def measure(argv: list[str], seconds: float, env: dict[str, str] | None = None, warmup: float = 8.0,
            keys: bytes = b"", keys_at: float = 3.0) -> tuple[float, float, int]:
    """(bytes/s after warm-up, CPU % after warm-up, bytes during warm-up). ``keys`` are typed
    ``keys_at`` seconds after the start (the cockpit: enter picks the first target, so the
    dashboard is live — pods, plots, verdict — and not an empty screen)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is our controlling terminal
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24", **(env or {})})
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.monotonic()
    warm_bytes = counted = 0
    c0 = t0 = None
    try:
        while True:
            now = time.monotonic()
            if keys and now - start >= keys_at:
                os.write(fd, keys)
                keys = b""
            if c0 is None and now - start >= warmup:
                c0, t0 = _cpu(pid), now
            if t0 is not None and now - t0 >= seconds:
                break
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if b"\x1b[6n" in data:  # cursor position report, as a terminal would answer
                os.write(fd, b"\x1b[1;1R")
            if t0 is None:
                warm_bytes += len(data)
            else:
                counted += len(data)
        c1, t1 = _cpu(pid), time.monotonic()
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
            time.sleep(0.3)
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
        os.close(fd)
    assert t0 is not None and c0 is not None
    return counted / (t1 - t0), 100.0 * (c1 - c0) / (t1 - t0), warm_bytes


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    tmp = tempfile.mkdtemp()
    hb, hc, hw = measure(["htop", "-d", "10"], seconds)
    argv, env = repo_cockpit()
    cb, cc, cw = measure([*argv, "--drill", "--scenario", "healthy"], seconds, env={**env, "XDG_STATE_HOME": tmp},
                         keys=b"\r", warmup=12.0)
    print(f"htop -d 10:        {hb:8.0f} bytes/s  CPU {hc:5.2f}%  (start-up drawing {hw} bytes)")
    print(f"cockpit (healthy): {cb:8.0f} bytes/s  CPU {cc:5.2f}%  (start-up drawing {cw} bytes)")
    print(f"ratio bytes/s {cb / max(hb, 1):.2f} (goal <= 2); CPU goal <= 3%")


if __name__ == "__main__":
    main()
