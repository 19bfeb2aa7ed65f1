"""Step kind ``git.tag``: tag the bad release (``v1.2.3-broken``) in a repository.

.. code-block:: yaml

    - kind: git.tag
      params: {repo: /srv/checkout, tag: v1.2.3-broken, ref: v1.2.3,
               message: "Rolled back due to high error rate", push: false}

Runs ``git`` as a subprocess with an argv list (no shell), a timeout and
``GIT_TERMINAL_PROMPT=0``. The tag is annotated (``git tag -a``). The name is checked with
``git check-ref-format`` first. Idempotent: if the tag already points at the same commit the
step succeeds (``already: true``); pointing elsewhere is a ConflictError (never moved
silently). ``push: true`` pushes just that tag to ``remote``. Readonly refuses before git
runs; resume reconciles by looking for the tag.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from pydantic import Field

from cockpit.errors import CockpitError, ConfigError, ConflictError, NotFoundError, ReadonlyError
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams, step_kind
from cockpit.text import redact_url, sanitize


class GitTagParams(StepParams):
    repo: Path
    tag: str = Field(min_length=1, max_length=200)
    ref: str = "HEAD"
    message: str = "Rolled back by Rollback Cockpit"
    push: bool = False
    remote: str = "origin"
    timeout: Duration = 30.0


def git(repo: Path, *args: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``git -C repo args...``; CockpitError with git's first stderr line on failure."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    argv = ["git", "-C", str(repo), *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except FileNotFoundError:
        raise ConfigError("git is not installed (needed by the git.tag step)") from None
    except subprocess.TimeoutExpired:
        raise CockpitError(f"git {args[0]} in {repo} did not finish within {timeout:g}s", title="git timed out") from None
    if check and proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
        raise CockpitError(f"git {args[0]} in {repo}: {sanitize(redact_url(first), max_len=300)}", title="git failed")
    return proc


def _commit(repo: Path, ref: str, timeout: float) -> str | None:
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", timeout=timeout, check=False)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


@step_kind
class GitTagStep(Step):
    kind = "git.tag"
    mutating = True
    Params = GitTagParams

    def describe(self, params: GitTagParams) -> str:
        return f"git tag {params.tag} at {params.ref} in {params.repo}" + (" and push" if params.push else "")

    def _check(self, params: GitTagParams) -> str:
        if not params.repo.is_dir():
            raise NotFoundError(f"git repository {params.repo} does not exist")
        if params.tag.startswith("-") or git(params.repo, "check-ref-format", f"refs/tags/{params.tag}",
                                              timeout=params.timeout, check=False).returncode != 0:
            raise ConfigError(f"git.tag: {params.tag!r} is not a valid tag name")
        target = _commit(params.repo, params.ref, params.timeout)
        if target is None:
            raise NotFoundError(f"git.tag: {params.ref!r} is not a commit in {params.repo}")
        return target

    def run(self, ctx: StepContext, params: GitTagParams) -> dict[str, Any]:
        if ctx.readonly:
            raise ReadonlyError(f"readonly: not tagging {params.tag} in {params.repo} (nothing was run)")
        target = self._check(params)
        existing = _commit(params.repo, f"refs/tags/{params.tag}", params.timeout)
        already = False
        if existing is not None:
            if existing != target:
                raise ConflictError(f"tag {params.tag} already exists at {existing[:12]}, not {target[:12]}",
                                    hint="choose another tag name; the cockpit never moves a tag")
            already = True
            ctx.log(f"tag {params.tag} already points at {target[:12]}")
        else:
            git(params.repo, "tag", "-a", "-m", params.message, "--", params.tag, target, timeout=params.timeout)
            ctx.log(f"tagged {target[:12]} as {params.tag}")
        if params.push:
            git(params.repo, "push", "--", params.remote, f"refs/tags/{params.tag}", timeout=params.timeout)
            ctx.log(f"pushed {params.tag} to {params.remote}")
        return {"tag": params.tag, "commit": target, "already": already, "pushed": params.push}

    def reconcile(self, ctx: StepContext, params: GitTagParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        if params.push:
            return None  # pushing again is idempotent; run the step again
        target = _commit(params.repo, params.ref, params.timeout)
        existing = _commit(params.repo, f"refs/tags/{params.tag}", params.timeout)
        if target is not None and existing == target:
            return {"tag": params.tag, "commit": target, "already": True, "pushed": False}
        return None


# ----------------------------------------------------------------------------- git.revert


class GitRevertParams(StepParams):
    repo: Path
    commit: str = Field(min_length=1, max_length=300)
    """One commit (``abc1234``, ``v1.5.0``) or a range ``A..B`` (the commits after A up to B)."""
    branch: str | None = None
    """The branch to revert on (checked out first when it is not); default: the current one."""
    mainline: int | None = Field(default=None, ge=1)
    """For a merge commit: the parent to keep (``git revert -m``)."""
    push: bool = False
    remote: str = "origin"
    timeout: Duration = 60.0


def _reverts(repo: Path, commit: str, timeout: float) -> list[str]:
    """The full ids of the commits named by the reverted commit's message (git's own wording,
    "This reverts commit X." — one per line for a range)."""
    body = git(repo, "log", "-1", "--format=%B", commit, timeout=timeout).stdout
    return [line.split()[3].rstrip(".,") for line in body.splitlines()
            if line.startswith("This reverts commit ") and len(line.split()) >= 4]


@step_kind
class GitRevertStep(Step):
    """Revert a commit (or a range, as one commit) on a branch of a local clone; push when
    asked (never forced). Refuses a dirty tree, a commit that is not on the branch, and a
    revert that conflicts (the tree is put back, nothing committed). The outcome carries the
    new commit id; resume finds it by its message ("This reverts commit X.")."""

    kind = "git.revert"
    mutating = True
    Params = GitRevertParams

    def describe(self, params: GitRevertParams) -> str:
        return (f"git revert {params.commit} on {params.branch or 'the current branch'} in {params.repo}"
                + (" and push" if params.push else ""))

    def _current_branch(self, params: GitRevertParams) -> str:
        proc = git(params.repo, "symbolic-ref", "--quiet", "--short", "HEAD", timeout=params.timeout, check=False)
        return proc.stdout.strip()

    def _commits(self, params: GitRevertParams, branch: str) -> list[str]:
        ref = params.commit
        if ref.startswith("-"):
            raise ConfigError(f"git.revert: {ref!r} is not a commit or range")
        if ".." in ref:
            a, _, b = ref.partition("..")
            for end in (a, b or "HEAD"):
                if _commit(params.repo, end, params.timeout) is None:
                    raise NotFoundError(f"git.revert: {end!r} is not a commit in {params.repo}")
            shas = git(params.repo, "rev-list", f"{a}..{b or branch}", "--", timeout=params.timeout).stdout.split()
            if not shas:
                raise NotFoundError(f"git.revert: the range {ref!r} has no commits")
        else:
            sha = _commit(params.repo, ref, params.timeout)
            if sha is None:
                raise NotFoundError(f"git.revert: {ref!r} is not a commit in {params.repo}")
            shas = [sha]
        for sha in shas:
            if git(params.repo, "merge-base", "--is-ancestor", sha, f"refs/heads/{branch}",
                   timeout=params.timeout, check=False).returncode != 0:
                raise NotFoundError(f"git.revert: {sha[:12]} is not on branch {branch}")
        return shas  # newest first, the order git reverts them in

    def _check_clean(self, params: GitRevertParams) -> None:
        dirty = git(params.repo, "status", "--porcelain", "--untracked-files=no", timeout=params.timeout).stdout
        if dirty.strip():
            first = dirty.splitlines()[0].strip()
            n = len(dirty.splitlines())
            raise ConflictError(f"git.revert: the working tree of {params.repo} has uncommitted changes "
                                f"({sanitize(first, max_len=200)}{f' and {n - 1} more' if n > 1 else ''})",
                                hint="commit or stash them first; the cockpit never reverts over local changes")

    def prepare(self, ctx: StepContext, params: GitRevertParams) -> dict[str, Any]:
        if not params.repo.is_dir() or git(params.repo, "rev-parse", "--is-inside-work-tree",
                                           timeout=params.timeout, check=False).returncode != 0:
            raise NotFoundError(f"git repository {params.repo} does not exist")
        branch = params.branch or self._current_branch(params)
        if not branch:
            raise ConfigError(f"git.revert: {params.repo} is on a detached HEAD; name the branch (branch: main)")
        if _commit(params.repo, f"refs/heads/{branch}", params.timeout) is None:
            raise NotFoundError(f"git.revert: no branch {branch!r} in {params.repo}")
        shas = self._commits(params, branch)
        head = _commit(params.repo, f"refs/heads/{branch}", params.timeout)
        return {"branch": branch, "reverts": shas, "head": head}

    def run(self, ctx: StepContext, params: GitRevertParams) -> dict[str, Any]:
        if ctx.readonly:
            raise ReadonlyError(f"readonly: not reverting {params.commit} in {params.repo} (nothing was run)")
        prep = ctx.prepared or self.prepare(ctx, params)
        branch, shas = prep["branch"], list(prep["reverts"])
        self._check_clean(params)
        if self._current_branch(params) != branch:
            git(params.repo, "checkout", "--quiet", branch, "--", timeout=params.timeout)
            ctx.log(f"checked out {branch}")
        already = self._done(params, branch, prep)
        if already is not None:
            ctx.log(f"{branch} already has the revert: {already[:12]}")
            new = already
        else:
            new = self._revert(ctx, params, shas)
        if params.push:
            git(params.repo, "push", "--", params.remote, f"refs/heads/{branch}:refs/heads/{branch}",
                timeout=params.timeout)
            ctx.log(f"pushed {branch} to {params.remote}")
        return {"commit": new, "branch": branch, "reverts": shas, "already": already is not None, "pushed": params.push}

    def _revert(self, ctx: StepContext, params: GitRevertParams, shas: list[str]) -> str:
        mainline = ["-m", str(params.mainline)] if params.mainline else []
        single = len(shas) == 1
        args = ["revert", "--no-edit", *mainline, *shas] if single else ["revert", "--no-commit", *mainline, *shas]
        proc = git(params.repo, *args, timeout=params.timeout, check=False)
        if proc.returncode != 0:
            conflicted = git(params.repo, "diff", "--name-only", "--diff-filter=U", timeout=params.timeout,
                             check=False).stdout.split()
            git(params.repo, "revert", "--abort", timeout=params.timeout, check=False)
            git(params.repo, "reset", "--quiet", "--merge", timeout=params.timeout, check=False)
            if conflicted:
                raise ConflictError(f"git.revert: reverting {params.commit} conflicts in "
                                    f"{', '.join(sanitize(f) for f in conflicted[:5])}; nothing was committed",
                                    hint="resolve it by hand, or revert a different commit")
            first = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
            raise CockpitError(f"git revert in {params.repo}: {sanitize(first, max_len=300)}; nothing was committed",
                               title="git failed")
        if not single:
            subjects = "\n".join(f"This reverts commit {s}." for s in shas)
            git(params.repo, "commit", "--quiet", "-m", f"Revert {params.commit}", "-m", subjects,
                timeout=params.timeout)
        new = _commit(params.repo, "HEAD", params.timeout) or ""
        ctx.log(f"reverted {', '.join(s[:12] for s in shas)} as {new[:12]}")
        return new

    def _done(self, params: GitRevertParams, branch: str, prep: dict[str, Any]) -> str | None:
        """The commit on ``branch`` after the prepared head that reverts exactly these commits."""
        head = _commit(params.repo, f"refs/heads/{branch}", params.timeout)
        if head is None or head == prep.get("head"):
            return None
        for sha in git(params.repo, "rev-list", f"{prep['head']}..{head}", timeout=params.timeout,
                       check=False).stdout.split():
            if sorted(_reverts(params.repo, sha, params.timeout)) == sorted(prep["reverts"]):
                return sha
        return None

    def reconcile(self, ctx: StepContext, params: GitRevertParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        if params.push or not intent.get("head"):
            return None  # run again: it finds the revert already made, and pushing again is idempotent
        done = self._done(params, intent["branch"], intent)
        if done is None:
            return None
        return {"commit": done, "branch": intent["branch"], "reverts": intent["reverts"], "already": True,
                "pushed": False}
