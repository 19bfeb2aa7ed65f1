"""``cockpit drill scores`` run as a team lead would (``python -m cockpit``, this checkout), over
drill journals written with the real Journal into a private ``XDG_STATE_HOME``: one line per
drill, oldest first, with its times and score; ``-o json``; a journal that cannot be read is
one line on stderr (never a traceback) and the exit code says so; hostile text stays inert."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.drill_score import load_goal, score
from cockpit.journal import Journal, read_journal

T0 = datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)
GOOD = "registry.example/shop/checkout:1.4.2"


def cockpit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, timeout=60,
                          env=env)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}


def write_drill(path: Path, start: datetime, *, image: str = GOOD, verify_after: float | None = 160.0,
                scored: bool = True, keys: int = 3, target: str = "shop/checkout") -> None:
    """A drill journal as the cockpit writes one (frozen clock), with its card when ``scored``."""
    offsets = iter([40, 40, 45, 45, 46, 47, 50, 80] + ([verify_after] if verify_after else []) + [200, 200, 200])

    def clock() -> str:
        return (start + timedelta(seconds=next(offsets))).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    with Journal.open(path, clock=clock) as j:
        j.write(ev.IncidentOpened(target=target, reason="drill", who="ann", drill=True, source="tui"))
        j.write(ev.Phase("declare"))
        j.write(ev.Phase("execute"))
        j.write(ev.RevisionChosen(revision=2, target=target, images=(image,), from_revision=3))
        j.write(ev.Intent(id="a1", action="kubernetes.rollback", step=0))
        j.write(ev.Outcome(id="a1", ok=True, step=0, result={"to_revision": 4, "images": [image]}))
        j.write(ev.Notification(channel="outbox", ok=True, purpose="started", item="started", title="ROLLBACK"))
        j.write(ev.Phase("verify"))
        if verify_after:
            j.write(ev.Phase("monitor"))
        j.write(ev.Phase("resolved"))
        j.write(ev.IncidentResolved(summary="resolved"))
        if scored:
            card = score(read_journal(path), load_goal("bad-image"), scenario="bad-image", started_at=start,
                         keystrokes=keys)
            j.write(card.to_event())


def drills_dir(env: dict[str, str]) -> Path:
    d = Path(env["XDG_STATE_HOME"]) / "cockpit" / "drills" / "incidents"
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_no_drill_yet(env):
    r = cockpit("drill", "scores", env=env)
    assert r.returncode == 0 and r.stderr == "" and "no drills found" in r.stdout
    j = cockpit("drill", "scores", "-o", "json", env=env)
    assert j.returncode == 0 and json.loads(j.stdout) == {"drills": [], "unreadable": [], "not_drills": []}


def test_one_line_per_drill_oldest_first_with_times_and_score(env):
    d = drills_dir(env)
    write_drill(d / "20240502T063000Z-shop_checkout.jsonl", T0 + timedelta(days=1))  # the better, later one
    write_drill(d / "20240501T063000Z-shop_checkout.jsonl", T0, image="registry.example/shop/checkout:1.4.1",
                verify_after=None, keys=12)
    write_drill(d / "20240503T063000Z-shop_checkout.jsonl", T0 + timedelta(days=2), scored=False)
    # not a drill: an ordinary incident in the operator's incidents is not listed
    (Path(env["XDG_STATE_HOME"]) / "cockpit" / "incidents").mkdir(parents=True)
    with Journal.open(Path(env["XDG_STATE_HOME"]) / "cockpit" / "incidents" / "real.jsonl") as j:
        j.write(ev.IncidentOpened(target="shop/checkout", reason="real"))
    r = cockpit("drill", "scores", env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["DATE", "SCENARIO", "TARGET", "STATUS"] and "SCORE" in lines[0]
    rows = lines[1:4]
    assert [row.split()[0] for row in rows] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    first, second, third = rows
    assert "bad-image" in first and "WRONG" in first and " 12 " in first and "scored" in first
    assert "2m 40s" in second and "40s" in second and " 3 " in second and "goal" in second and "85/100" in second
    assert "resolved" in third and "75/90" in third  # no card: scored now, keys unknown
    assert lines[-1].startswith("3 drills; latest 75/90") and "best 85/100 (2024-05-02" in lines[-1]

    j = cockpit("drill", "scores", "--output", "json", env=env)
    data = json.loads(j.stdout)
    assert j.returncode == 0 and [x["date"] for x in data["drills"]] == [
        "2024-05-01T06:30:40.000Z", "2024-05-02T06:30:40.000Z", "2024-05-03T06:30:40.000Z"]
    best = data["drills"][1]
    assert best["scenario"] == "bad-image" and best["status"] == "scored" and best["keystrokes"] == 3
    assert best["phases"] == {"declare": 40.0, "identify": 5.0, "execute": 35.0, "verify": 80.0}
    assert best["total_s"] == 160.0 and best["revision_ok"] is True and (best["score"], best["max_score"]) == (85, 100)
    assert best["checks"] == "0/15 (15 skipped)" and best["comms"] == "1/1"
    assert data["drills"][0]["revision_ok"] is False and data["drills"][0]["phases"]["verify"] is None


def test_unreadable_journals_are_one_line_each_and_the_others_are_listed(env, tmp_path):
    d = drills_dir(env)
    write_drill(d / "20240501T063000Z-shop_checkout.jsonl", T0)
    (d / "dir.jsonl").mkdir()
    os.mkfifo(d / "pipe.jsonl")
    (d / "torn.jsonl").write_bytes(b'{"seq": 1, "ts": "2024-05-01T06:30:00Z", "type": "incident_op')
    r = cockpit("drill", "scores", env=env)
    assert r.returncode == 8 and "Traceback" not in r.stderr
    errs = r.stderr.splitlines()
    assert len(errs) == 2 and all(e.startswith("cockpit: warning: ") for e in errs)
    assert "dir.jsonl" in errs[0] and "directory" in errs[0] and "pipe.jsonl" in errs[1]
    assert "85/100" in r.stdout  # the readable drill is still listed
    j = cockpit("drill", "scores", "-o", "json", env=env)
    data = json.loads(j.stdout)
    assert j.returncode == 8 and len(data["drills"]) == 1 and len(data["unreadable"]) == 2
    # JOURNALs named on the command line: a missing one is one line; a non-drill journal too (exit 1)
    other = tmp_path / "incident.jsonl"
    with Journal.open(other) as jj:
        jj.write(ev.IncidentOpened(target="shop/checkout", reason="real"))
    r = cockpit("drill", "scores", str(tmp_path / "missing.jsonl"), env=env)
    assert r.returncode == 8 and len(r.stderr.splitlines()) == 1 and "does not exist" in r.stderr
    r = cockpit("drill", "scores", str(other), str(d / "20240501T063000Z-shop_checkout.jsonl"), env=env)
    assert r.returncode == 1 and "not a drill's journal" in r.stderr and "85/100" in r.stdout


def test_hostile_text_in_a_journal_stays_inert(env):
    d = drills_dir(env)
    evil = "\x1b]52;c;cGF5bG9hZA==\x07shop/\u202echeckout\x9b31m"
    write_drill(d / "20240501T063000Z-evil.jsonl", T0, target=evil, scored=False)
    r = cockpit("drill", "scores", env=env)
    assert r.returncode == 0
    for bad in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert bad not in r.stdout and bad not in r.stderr


def test_help_documents_the_command_and_its_exit_codes(env):
    r = cockpit("drill", "scores", "--help", env=env)
    assert r.returncode == 0 and "exit codes:" in r.stdout and "8  a journal could not be read" in r.stdout
    assert "drill" in cockpit("--help", env=env).stdout
    bad = cockpit("drill", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("cockpit: Bad usage:") and len(bad.stderr.splitlines()) == 1
