"""Issue 12, rails: a crashed drill can be resumed. The INSTALLED ``cockpit --drill`` in tmux is
killed (SIGKILL) during its rollback; the next ``cockpit --drill`` offers to resume the open
drill incident against the same world (which outlived the crash), the rollback is not sent
twice, quitting the drill closes its incident and stops its world, and the drill after that
starts clean (a drill incident left behind never blocks a later drill)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from cockpit.journal import read_journal
from tests.e2e.test_tui_drill import _cap, _wait

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tui")]


def _keys(session: str, *keys: str) -> None:
    for k in keys:
        subprocess.run(["tmux", "send-keys", "-t", session, k], check=True)
        time.sleep(0.3)


def _start(state: Path) -> str:
    session = f"cockpit-resume-{uuid.uuid4().hex[:6]}"
    env = f"XDG_STATE_HOME={state} COCKPIT_DRILL_SPEED=1 COCKPIT_WATCH__WINDOW_S=5 TERM=xterm-256color"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    f"env {env} cockpit --drill --scenario bad-image; sleep 30"], check=True)
    return session


def _cockpit_pid(session: str) -> int:
    shell = subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True).stdout
    out = subprocess.run(["pgrep", "-P", shell.strip()], capture_output=True, text=True).stdout.split()
    return int(out[0])


def _worlds(state: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (state / "cockpit" / "drills" / "worlds").glob("*/world.json")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return Path(f"/proc/{pid}").exists() and b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower()


@pytest.mark.skipif(not shutil.which("tmux") or not shutil.which("cockpit"), reason="needs tmux and the installed cockpit")
def test_a_crashed_drill_is_resumed_against_its_world_and_never_blocks_the_next(tmp_path):
    state = tmp_path / "state"
    first = _start(state)
    sessions = [first]
    try:
        _wait(first, "ROLLBACK_NOW", 40)
        _keys(first, "h")
        _wait(first, "release 1.4.2", 15)
        _keys(first, "Enter")
        _wait(first, "Confirm rollback", 10)
        _keys(first, "y")
        _wait(first, "rolled back", 30)
        os.kill(_cockpit_pid(first), signal.SIGKILL)  # the crash, mid-incident
        [world] = _worlds(state)
        journal = Path(world["journal"])
        assert _alive(world["pid"]), "the drill's world outlives the crashed cockpit"
        time.sleep(7)  # the world is an orphan once nobody has kept it alive for a few seconds

        second = _start(state)
        sessions.append(second)
        screen = _wait(second, "A drill was interrupted", 30)
        assert "shop/checkout" in screen and "its world still running" in screen
        _keys(second, "y")
        _wait(second, "resumed shop/checkout", 30)
        _wait(second, "successfully rolled out", 60)
        records = read_journal(journal)
        chosen = [r for r in records if r["type"] == "revision_chosen"]
        patched = [r for r in records if r["type"] == "outcome" and r.get("ok") and "rollback" in str(r.get("action", ""))]
        assert len(chosen) == 1 and len(patched) <= 1, "resumed, not rolled back twice"
        assert [w["pid"] for w in _worlds(state)] == [world["pid"]], "the same world, no second one"

        _keys(second, "q")
        _wait(second, "Quit the drill?", 10)
        _keys(second, "y")
        end = time.monotonic() + 20
        while _alive(world["pid"]) and time.monotonic() < end:
            time.sleep(0.2)
        assert not _alive(world["pid"]), "quitting the drill stops its world"
        assert read_journal(journal)[-1]["type"] == "incident_closed"

        third = _start(state)  # the drill left behind blocks nothing: no question, a fresh world
        sessions.append(third)
        _wait(third, "ROLLBACK_NOW", 40)
        assert "A drill was interrupted" not in _cap(third)
    finally:
        for s in sessions:
            subprocess.run(["tmux", "kill-session", "-t", s], capture_output=True)
        for w in _worlds(state) if (state / "cockpit").exists() else []:
            try:
                os.kill(w["pid"], signal.SIGTERM)
            except OSError:
                pass
