"""``git.revert`` against real git repositories: one commit, a range as one commit, pushed
to a bare remote; a dirty tree, a commit not on the branch and a conflict refused with the tree
left clean; resume finds the revert already made and makes no second one."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import backends.git  # noqa: F401  registers git.revert
from cockpit.errors import ConflictError, NotFoundError, ReadonlyError
from cockpit.executor import Executor
from cockpit.journal import Journal
from cockpit.runbook import parse_runbook
from cockpit.steps import StepContext, get_step


def sh(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    r = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", "-b", "main", str(r)], check=True)
    sh(r, "config", "user.email", "oncall@example.com")
    sh(r, "config", "user.name", "On Call")
    for i, (name, text) in enumerate([("app.txt", "v1\n"), ("app.txt", "v2 bad\n"), ("other.txt", "x\n")]):
        (r / name).write_text(text)
        sh(r, "add", name)
        sh(r, "commit", "-q", "-m", f"change {i}")
    sh(r, "remote", "add", "origin", str(remote))
    sh(r, "push", "-q", "origin", "main")
    return r


def run_step(repo, journal, **params):
    import json

    p = {"repo": str(repo), **params}
    rb = parse_runbook(f"name: r\ntarget: {{name: x}}\nsteps:\n  - kind: git.revert\n    params: {json.dumps(p)}\n")
    return Executor(rb, journal, StepContext(backends={}, log=lambda s: None)), rb


def test_revert_one_commit_and_push(repo, tmp_path):
    bad = sh(repo, "rev-parse", "HEAD~1")
    journal = Journal.open(tmp_path / "j.jsonl")
    ex, _ = run_step(repo, journal, commit=bad, branch="main", push=True)
    res = ex.run()
    assert res.ok, res.error
    new = res.steps[0].data["commit"]
    assert sh(repo, "rev-parse", "HEAD") == new and (repo / "app.txt").read_text() == "v1\n"
    assert f"This reverts commit {bad}." in sh(repo, "log", "-1", "--format=%B")
    assert sh(repo, "rev-parse", "origin/main") == new == sh(tmp_path / "remote.git", "rev-parse", "main")
    out = next(r for r in journal.read() if r["type"] == "outcome")
    assert out["result"]["commit"] == new


def test_revert_a_range_as_one_commit(repo, tmp_path):
    first = sh(repo, "rev-list", "--max-parents=0", "HEAD")
    ex, _ = run_step(repo, Journal.open(tmp_path / "j.jsonl"), commit=f"{first}..HEAD")
    res = ex.run()
    assert res.ok, res.error
    assert (repo / "app.txt").read_text() == "v1\n" and not (repo / "other.txt").exists()
    assert len(res.steps[0].data["reverts"]) == 2
    assert sh(repo, "rev-list", "--count", "HEAD") == "4"  # one new commit


def test_refusals_leave_the_tree_as_it_was(repo, tmp_path):
    head = sh(repo, "rev-parse", "HEAD")
    (repo / "app.txt").write_text("local edit\n")
    ex, _ = run_step(repo, Journal.open(tmp_path / "j1.jsonl"), commit="HEAD~1")
    res = ex.run()
    assert isinstance(res.error, ConflictError) and "uncommitted changes (M app.txt)" in res.error.message
    sh(repo, "checkout", "--", "app.txt")
    ex, _ = run_step(repo, Journal.open(tmp_path / "j2.jsonl"), commit="nope")
    assert isinstance(ex.run().error, NotFoundError)
    sh(repo, "checkout", "-q", "-b", "side", "HEAD~2")
    (repo / "side.txt").write_text("s\n")
    sh(repo, "add", "side.txt")
    sh(repo, "commit", "-q", "-m", "side")
    ex, _ = run_step(repo, Journal.open(tmp_path / "j3.jsonl"), commit="side", branch="main")
    res = ex.run()
    assert isinstance(res.error, NotFoundError) and "is not on branch main" in res.error.message
    sh(repo, "checkout", "-q", "main")
    (repo / "app.txt").write_text("v3 conflicting\n")
    sh(repo, "commit", "-q", "-am", "change 3")
    head = sh(repo, "rev-parse", "HEAD")
    ex, _ = run_step(repo, Journal.open(tmp_path / "j4.jsonl"), commit="HEAD~2")
    res = ex.run()
    assert isinstance(res.error, ConflictError) and "conflicts in app.txt; nothing was committed" in res.error.message
    assert sh(repo, "rev-parse", "HEAD") == head and sh(repo, "status", "--porcelain") == ""
    ex, _ = run_step(repo, Journal.open(tmp_path / "j5.jsonl"), commit="HEAD~1")
    ex.ctx.readonly = True
    assert isinstance(ex.run().error, ReadonlyError)
    assert sh(repo, "rev-parse", "HEAD") == head


class Crash(BaseException):
    """Stands in for the process dying after git committed, before the outcome (the test double)."""


def test_resume_after_a_crash_makes_no_second_revert(repo, tmp_path, monkeypatch):
    cls = get_step("git.revert")
    real = cls._revert

    def dies(self, *a):
        real(self, *a)
        raise Crash()

    monkeypatch.setattr(cls, "_revert", dies)
    journal = Journal.open(tmp_path / "j.jsonl")
    ex, rb = run_step(repo, journal, commit="HEAD~1")
    with pytest.raises(Crash):
        ex.run()
    monkeypatch.undo()
    count = sh(repo, "rev-list", "--count", "HEAD")
    res = Executor(rb, journal, StepContext(backends={}, log=lambda s: None)).resume()
    assert res.ok and res.steps[0].resumed and res.steps[0].data["already"]
    assert sh(repo, "rev-list", "--count", "HEAD") == count
