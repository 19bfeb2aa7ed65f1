"""End to end: the INSTALLED ``cockpit --drill --scenario bad-image`` driven in tmux by
keystrokes to a verified rollback, read back with ``capture-pane``."""
from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tui")]


def _cap(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout


def _wait(session: str, needle: str, timeout: float) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _cap(session)
        if needle in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{needle!r} not on screen after {timeout}s:\n{screen}")


@pytest.mark.skipif(not shutil.which("tmux") or not shutil.which("cockpit"), reason="needs tmux and the installed cockpit")
def test_drill_bad_image_to_verified_rollback(tmp_path):
    session = f"cockpit-e2e-{uuid.uuid4().hex[:6]}"
    env = (f"XDG_STATE_HOME={tmp_path} COCKPIT_DRILL_SPEED=10 COCKPIT_WATCH__WINDOW_S=5 "
           f"COCKPIT_WATCH__STABILIZATION_S=2 TERM=xterm-256color")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    f"env {env} cockpit --drill --scenario bad-image; sleep 5"], check=True)
    try:
        _wait(session, "shop/checkout", 20)
        _wait(session, "ROLLBACK_NOW", 30)          # the verdict on the bad release
        subprocess.run(["tmux", "send-keys", "-t", session, "h"], check=True)
        _wait(session, "release 1.4.2", 15)         # history with change-causes
        _wait(session, "+  - image: registry.example/shop/checkout:1.4.2", 15)  # the diff pane
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        _wait(session, "Confirm rollback", 10)
        screen = _cap(session)
        assert "from revision 3" in screen and "to revision 2" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "y"], check=True)
        _wait(session, "successfully rolled out", 40)
        subprocess.run(["tmux", "send-keys", "-t", session, "c"], check=True)
        screen = _wait(session, "phase monitor", 60)  # every auto check proven (health 3x 10 s apart)
        assert screen.count("✓") >= 7
        assert "/version = 1.4.2" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "R"], check=True)  # manual checks are open: asked first
        screen = _wait(session, "checks open?", 10)
        assert "Smoke tests" in screen and "resolve anyway" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "n"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "h"], check=True)  # the revision rolled back from is marked
        _wait(session, "rolled back from at", 15)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)  # the drill's incident is open: asked
        _wait(session, "Quit the drill?", 10)
        subprocess.run(["tmux", "send-keys", "-t", session, "y"], check=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
