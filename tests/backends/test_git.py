"""git.tag on a real temporary repository."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backends.git import GitTagStep, git
from cockpit.errors import ConfigError, ConflictError, NotFoundError, ReadonlyError
from cockpit.steps import StepContext


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@example.org"], ["config", "user.name", "T"]):
        git(r, *args)
    for n in (1, 2):
        (r / "f").write_text(str(n))
        git(r, "add", "f")
        git(r, "commit", "-q", "-m", f"c{n}")
    git(r, "tag", "v1.2.3")
    return r


def head(repo: Path, ref: str = "HEAD") -> str:
    return git(repo, "rev-parse", f"{ref}^{{commit}}").stdout.strip()


def ctx(readonly: bool = False) -> StepContext:
    return StepContext(backends={}, log=lambda s: None, readonly=readonly)


def test_tags_the_bad_release_annotated(repo: Path) -> None:
    step = GitTagStep()
    params = GitTagStep.Params(repo=repo, tag="v1.2.3-broken", ref="HEAD~1", message="Rolled back: 5xx")
    out = step.run(ctx(), params)
    assert out == {"tag": "v1.2.3-broken", "commit": head(repo, "HEAD~1"), "already": False, "pushed": False}
    assert git(repo, "cat-file", "-t", "v1.2.3-broken").stdout.strip() == "tag"
    assert "Rolled back: 5xx" in git(repo, "tag", "-n1", "v1.2.3-broken").stdout
    # idempotent at the same commit; reconcile sees it
    assert step.run(ctx(), params)["already"] is True
    assert step.reconcile(ctx(), params, {})["commit"] == head(repo, "HEAD~1")


def test_never_moves_an_existing_tag(repo: Path) -> None:
    GitTagStep().run(ctx(), GitTagStep.Params(repo=repo, tag="bad", ref="HEAD"))
    with pytest.raises(ConflictError):
        GitTagStep().run(ctx(), GitTagStep.Params(repo=repo, tag="bad", ref="HEAD~1"))
    assert head(repo, "bad") == head(repo)


def test_refusals(repo: Path, tmp_path: Path) -> None:
    step = GitTagStep()
    with pytest.raises(ReadonlyError):
        step.run(ctx(readonly=True), GitTagStep.Params(repo=repo, tag="x"))
    for bad in ("--force", "a..b", "has space"):
        with pytest.raises(ConfigError):
            step.run(ctx(), GitTagStep.Params(repo=repo, tag=bad))
    with pytest.raises(NotFoundError):
        step.run(ctx(), GitTagStep.Params(repo=repo, tag="y", ref="nosuchref"))
    with pytest.raises(NotFoundError):
        step.run(ctx(), GitTagStep.Params(repo=tmp_path / "nope", tag="y"))
    assert git(repo, "tag").stdout.split() == ["v1.2.3"]
    assert step.reconcile(ctx(), GitTagStep.Params(repo=repo, tag="zz"), {}) is None


def test_push_to_a_remote(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    GitTagStep().run(ctx(), GitTagStep.Params(repo=repo, tag="v1.2.3-broken", ref="v1.2.3", push=True))
    assert git(remote, "tag").stdout.split() == ["v1.2.3-broken"]
