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
