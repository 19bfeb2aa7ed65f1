"""Test hygiene: the suite never writes into the real state directory, and a server fixture
fails (not skips) under CI when its binary is missing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.journal import default_journal_path, state_dir
from tests import conftest
from tests.fixtures.procs import missing


def test_the_suite_has_its_own_state_directory() -> None:
    home = Path(os.environ["XDG_STATE_HOME"])
    assert home == Path(conftest.SESSION_STATE_HOME) and home.is_dir()
    assert Path(conftest.REAL_STATE_HOME).resolve() != home.resolve()
    assert state_dir() == home / "cockpit"
    assert default_journal_path("shop/checkout").is_relative_to(home)


def test_a_test_that_sets_its_own_still_gets_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "cockpit"


def test_cockpit_report_without_a_journal_reads_the_suites_state() -> None:
    incidents = Path(conftest.SESSION_STATE_HOME) / "cockpit" / "incidents"
    incidents.mkdir(parents=True, exist_ok=True)
    newest = incidents / "99991231T235959Z-hygiene.jsonl"  # sorts after any other test's journal
    newest.write_text(json.dumps({"seq": 1, "ts": "2024-01-01T00:00:00.000Z", "actor": "t@h", "type": "incident_opened",
                                  "target": "hygiene/probe", "reason": "x"}) + "\n")
    try:
        p = subprocess.run([sys.executable, "-m", "cockpit", "report", "--format", "json"], capture_output=True,
                           text=True, timeout=60)
    finally:
        newest.unlink()
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["target"] == "hygiene/probe"


@pytest.mark.parametrize("ci", ["1", "true"])
def test_a_missing_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="redis-server not found.*CI is set"):
        missing("redis-server not found")


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_a_missing_server_skips_elsewhere(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        missing("redis-server not found")
