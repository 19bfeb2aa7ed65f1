"""Issue 12, "Tests and hygiene": a command that fails before doing anything leaves no journal,
and a journal that is not an incident is never offered to "resume" as ``? — phase ?``.

The CLI runs as an operator would (``python -m cockpit``, its own XDG_STATE_HOME); the Docker
daemon it is pointed at does not exist (nothing listens on the socket), which is exactly the
failure the issue reports.
"""
from __future__ import annotations

import subprocess
import sys

from cockpit.journal import Journal, find_open_incidents
from tests.e2e.test_exit_codes import env  # noqa: F401 — the fixture: a private state dir


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, timeout=120, env=env)


def test_a_failed_docker_rollback_leaves_no_journal(tmp_path, env):  # noqa: F811
    state = tmp_path / "state"
    p = run("docker", "rollback", "web", "--to-tag", "1.4.2", "--yes", "--docker-host", f"unix://{tmp_path}/no.sock",
            env=env)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.strip(), "the failure is said"
    left = sorted(state.rglob("*.jsonl")) if state.exists() else []
    assert left == [], f"a failed command left journals behind: {left}"
    assert find_open_incidents(state / "cockpit") == []


def test_only_opened_incidents_are_open_incidents(tmp_path):
    folder = tmp_path / "incidents"
    folder.mkdir()
    (folder / "20261202T000000Z-empty.jsonl").write_bytes(b"")  # e.g. an older cockpit's leftover
    with Journal.open(folder / "20261202T000001Z-store.jsonl") as j:  # a store command's own records
        j.append("log", message="backup started")
    with Journal.open(folder / "20261202T000002Z-shop-checkout.jsonl") as j:
        j.append("incident_opened", target="shop/checkout", kind="deployment", reason="test")
    with Journal.open(folder / "20261202T000003Z-shop-cart.jsonl") as j:
        j.append("incident_opened", target="shop/cart", kind="deployment", reason="test")
        j.append("incident_resolved", summary="done")
    assert [p.name for p in find_open_incidents(tmp_path)] == ["20261202T000002Z-shop-checkout.jsonl"]


def test_a_journal_opened_and_closed_without_a_record_is_removed_but_an_existing_one_is_kept(tmp_path):
    new = tmp_path / "new.jsonl"
    Journal.open(new).close()
    assert not new.exists()
    kept = tmp_path / "kept.jsonl"
    kept.write_bytes(b"")  # not this process's: never removed
    Journal.open(kept).close()
    assert kept.exists()
