"""A deployment that belongs to a Helm release, in the full-screen cockpit (Textual-free).

The history screen asks :meth:`HelmController.check` whether the target deployment belongs to
a release (Helm's ownership metadata: ``app.kubernetes.io/managed-by: Helm`` and
``meta.helm.sh/release-name``, read by ``release_of`` in a thread); when it does, the screen
names the release and offers its revisions. :meth:`load` reads the release's history (Helm's
records, in a thread); :meth:`roll_back` runs the ``helm.rollback`` step — Helm's own code —
as a one-step runbook through the executor, in the target's incident (opened now: the operator
acted), journaled like the Kubernetes rollback: runbook recorded, phase execute, revision
chosen, fsynced intent, outcome, phase verify. An interrupted Helm rollback in the journal is
resumed (reconciled with the release's records) instead of being sent twice.

What it reads of the cluster comes in as two callables from the composition root
(``compose.wire_controllers``), since the core imports no backend:

- ``release_of(target) -> (release, namespace) | None`` — *thread*;
- ``history(release, namespace) -> list`` of revisions oldest first (``revision``, ``status``,
  ``chart``, ``app_version``, ``description``, ``updated``, ``images``) — *thread*;
- ``diff(release, namespace, revision) -> ReleaseDiff`` (``values``/``manifest``: unified diff
  lines from the deployed revision to ``revision``, sanitised; ``against``: the deployed
  revision) — *thread*; the picker asks for it (:meth:`HelmView.want_diff`) when the cursor
  lands on a revision, once per (release, revision) until the history is read again;
- ``access() -> {"kubeconfig": …, "context": …}``: what Helm's code connects with (the
  session's kubeconfig — the drill's too — and context), recorded in the runbook's params.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from cockpit.errors import CockpitError, ReadonlyError
from cockpit.model import Target

STEP_KIND = "helm.rollback"


@dataclass
class HelmView:
    """What the screens show of Helm (``data.helm``)."""

    releases: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    """``str(target)`` → its release ``(name, namespace)``, or None when it belongs to none."""
    errors: dict[str, str] = field(default_factory=dict)
    """``str(target)`` → why its ownership could not be read."""
    history_for: tuple[str, str] | None = None
    history: list[Any] = field(default_factory=list)
    loading: tuple[str, str] | None = None
    history_error: str = ""
    diffs: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    """``(release, namespace, revision)`` → its diff against the deployed revision."""
    diff_errors: dict[tuple[str, str, int], str] = field(default_factory=dict)
    request_diff: Callable[[tuple[str, str], int], None] | None = field(default=None, repr=False)
    """Set by the controller: ask for a revision's diff (in a thread); None when not wired."""

    def want_diff(self, release: tuple[str, str], revision: int) -> bool:
        """Ask for ``revision``'s diff against the deployed one; False when nothing can read it."""
        if self.request_diff is None:
            return False
        self.request_diff(release, revision)
        return True

    def release(self, target: Target | None) -> tuple[str, str] | None:
        return self.releases.get(str(target)) if target is not None else None

    def revisions(self, release: tuple[str, str] | None) -> list[Any]:
        """The loaded revisions of ``release``, newest first."""
        return list(reversed(self.history)) if release is not None and self.history_for == release else []


def runbook_yaml(target: Target, release: str, namespace: str, to_revision: int,
                 access: dict[str, str | None] | None = None) -> str:
    """The one-step runbook of a Helm rollback from the cockpit (recorded, resumed from the
    journal); ``access``: the ``kubeconfig``/``context`` Helm's code connects with."""
    to = f"revision {to_revision}" if to_revision else "the previous revision"
    params: dict[str, Any] = {"release": release, "namespace": namespace, "to_revision": to_revision}
    params.update({k: str(v) for k, v in (access or {}).items() if k in ("kubeconfig", "context") and v})
    return yaml.safe_dump({
        "name": f"helm rollback {release} to {to}",
        "target": {"kind": "deployment", "namespace": target.namespace, "name": target.name},
        "steps": [{"kind": STEP_KIND, "name": f"Roll back release {release} to {to}", "budget": "5m",
                   "params": params}],
    }, sort_keys=False)


class HelmController:
    def __init__(self, host: Any, data: Any, incident: Any, *,
                 release_of: Callable[[Target], tuple[str, str] | None],
                 history: Callable[[str, str], list[Any]],
                 diff: Callable[[str, str, int], Any] | None = None,
                 access: Callable[[], dict[str, str | None]] = dict,
                 prepare: Callable[[], Any] = lambda: None, readonly: bool = False) -> None:
        self.host, self.data, self.incident, self.access = host, data, incident, access
        self.release_of, self.history, self.prepare, self.readonly = release_of, history, prepare, readonly
        self.diff = diff
        self.view = HelmView(request_diff=self.want_diff if diff is not None else None)
        data.helm = self.view
        self._checking: set[str] = set()
        self._diffing: tuple[str, str, int] | None = None
        self._generation = 0  # bumped by each history read: a diff read before it is dropped

    # ---- reads

    def check(self, target: Target | None) -> None:
        """Find out (once per target, in a thread) whether ``target`` belongs to a Helm release."""
        if target is None:
            return
        key = str(target)
        if key in self.view.releases or key in self._checking:
            return
        self._checking.add(key)

        def deliver(found: tuple[str, str] | None) -> None:
            self._checking.discard(key)
            self.view.releases[key] = found
            self.view.errors.pop(key, None)
            self.host.mark("history")

        def failed(exc: BaseException) -> None:  # browsing: a line on the screen, no modal
            self._checking.discard(key)
            self.view.releases[key] = None
            self.view.errors[key] = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.host.mark("history")

        self.host.fetch("helm-release", lambda: self.release_of(target), deliver, failed)

    def load(self, target: Target | None) -> tuple[str, str] | None:
        """Read the history of ``target``'s release (in a thread); the release, or None when
        the target belongs to none (said in a toast)."""
        release = self.view.release(target)
        if release is None:
            self.host.notify(f"{target} does not belong to a Helm release" if target else "pick a target first",
                             severity="warning")
            return None
        self.view.loading, self.view.history_error = release, ""

        def deliver(history: list[Any]) -> None:
            if self.view.loading == release:
                self.view.loading = None
            self._history(release, history)
            self.host.mark("helm")

        def failed(exc: BaseException) -> None:
            if self.view.loading == release:
                self.view.loading = None
            self.view.history_error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.host.mark("helm")

        self.host.fetch("helm-history", lambda: self.history(*release), deliver, failed)
        return release

    # ---- the rollback

    def roll_back(self, target: Target, release: str, namespace: str, revision: int) -> None:
        """The operator confirmed: roll ``release`` back to ``revision`` with Helm (in a thread)."""
        if self.readonly or self.data.readonly:
            raise ReadonlyError(f"readonly: not rolling back release {release} (observers change nothing)")
        self.data.progress = None
        self.host.run_in_thread(lambda: self.run(target, release, namespace, revision))

    def run(self, target: Target, release: str, namespace: str, revision: int) -> Any:
        """*Thread.* Open the incident for ``target`` and run the ``helm.rollback`` runbook
        through the executor (or resume an interrupted one); then read the release again."""
        from cockpit import events as ev
        from cockpit.executor import Executor
        from cockpit.rollback import interrupted
        from cockpit.runbook import parse_runbook
        from cockpit.state import replay
        from cockpit.steps import StepContext

        self.prepare()
        session = self.incident.session
        if session is None or session.readonly:
            raise ReadonlyError("readonly: observers change nothing and open no incident")
        journal = self.incident.open(target, f"helm rollback of release {release} to revision {revision}")
        state = replay(journal.read())
        resume = interrupted(state) and STEP_KIND in (state.runbook_yaml or "")
        if resume:
            text = state.runbook_yaml or ""
        elif interrupted(state):
            raise CockpitError("an interrupted run is in this incident's journal; resume it first",
                               title="Run in progress", hint="restart the cockpit to be offered the resume")
        else:
            text = runbook_yaml(target, release, namespace, revision, self.access())
            journal.write(ev.RunbookRecorded(yaml=text, revision=revision))
            if state.phase != "execute":
                journal.write(ev.Phase("execute"))
        session.cancel.clear()
        ctx = StepContext(backends={"kubernetes": session.backend, **getattr(session, "backends", {})},
                          log=lambda _line: None, cancel=session.cancel, readonly=session.readonly,
                          namespace=namespace, target=target)
        executor = Executor(parse_runbook(text, source="<helm rollback>"), journal, ctx, log_rate=50.0)
        result = executor.resume() if resume else executor.run()
        if result.ok and replay(journal.read()).phase == "execute":
            journal.write(ev.Phase("verify"))
        self.host.call_from_thread(self._reload, (release, namespace))
        return result

    def _reload(self, release: tuple[str, str]) -> None:
        self.view.loading = release
        self.host.fetch("helm-history", lambda: self.history(*release), self._reloaded(release),
                        lambda exc: self.host.mark("helm"))

    def _reloaded(self, release: tuple[str, str]) -> Callable[[list[Any]], None]:
        def deliver(history: list[Any]) -> None:
            self.view.loading = None
            self._history(release, history)
            self.host.mark("helm", "history")
        return deliver

    def _history(self, release: tuple[str, str], history: list[Any]) -> None:
        """A fresh history: the diffs were against the deployed revision of the old one."""
        self.view.history_for, self.view.history = release, list(history)
        self.view.diffs.clear()
        self.view.diff_errors.clear()
        self._diffing = None
        self._generation += 1

    def want_diff(self, release: tuple[str, str], revision: int) -> None:
        """Read ``revision``'s values and manifest diff against the deployed revision (in a
        thread, one at a time: the cursor moving on supersedes the diff still being read)."""
        key = (release[0], release[1], int(revision))
        if self.diff is None or key in self.view.diffs or key in self.view.diff_errors or self._diffing == key:
            return
        self._diffing, generation, diff = key, self._generation, self.diff

        def deliver(d: Any) -> None:
            if self._diffing == key:
                self._diffing = None
            if generation != self._generation:
                return
            self.view.diffs[key] = d
            self.host.mark("helm")

        def failed(exc: BaseException) -> None:  # browsing: a line in the pane, no modal
            if self._diffing == key:
                self._diffing = None
            if generation != self._generation:
                return
            self.view.diff_errors[key] = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.host.mark("helm")

        self.host.fetch("helm-diff", lambda: diff(*key), deliver, failed)
