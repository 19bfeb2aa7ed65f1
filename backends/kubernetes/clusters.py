"""Several clusters as one fleet: the Kubernetes side of :mod:`cockpit.fleet`.

``KubeFleet.connect(kubeconfig, ["east", "west"])`` builds one :class:`KubeBackend` per
context of one (merged) kubeconfig — every context checked before anything is sent: one that
is not there is ``ConfigError`` (exit 2) naming those that are. It implements
:class:`cockpit.fleet.FleetSource`:

- ``discover(scope)`` lists the deployments the scope matches in each context (concurrently;
  ``labelSelector`` sent to the API, so ``-l`` means what it means to kubectl); a context that
  does not answer becomes a ``fail`` entry of the plan, never a silent gap;
- ``plan(member, to_revision, force)`` resolves one target's rollback with the same reads and
  rules as ``cockpit rollback NAME`` (kubectl's revision choice, its "skipped rollback", the
  refusal of a paused deployment, and :func:`backends.kubernetes.steps.refuse_bringing_back`):
  ``rollback`` with from → to, or ``skip`` with why when the target needs nothing;
- ``backend(context)`` / ``locker(context)``: what the rollback step runs against and the
  context's Leases (:class:`backends.kubernetes.lease.LeaseLocker`).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cockpit.errors import CockpitError, ConflictError, NotFoundError
from cockpit.fleet import FAIL, ROLLBACK, SKIP, Discovery, Member, PlanEntry, Scope, failed_entry
from cockpit.locks import format_since, parse_time
from cockpit.text import sanitize

import backends.kubernetes.steps  # noqa: F401 — registers kubernetes.rollback, which every target runs
from backends.kubernetes import revisions as rv
from backends.kubernetes.backend import KubeBackend, RollbackPlan
from backends.kubernetes.kubeconfig import context_names, load_many
from backends.kubernetes.transport import make_transport


SHARED_EVENTS_S = 2.0
"""Targets of one namespace share its event list for their evidence if read less than this
long ago (see :attr:`KubeBackend.shared_events_s`): the events of the seconds between are
the fleet's own rollbacks, and fifty reads of one namespace's events cost more than the
rollbacks."""


class KubeFleet:
    """One backend per kubeconfig context (see the module docstring)."""

    def __init__(self, backends: dict[str, KubeBackend]) -> None:
        self.backends = backends
        self._lockers: dict[str, Any] = {}

    @classmethod
    def connect(cls, kubeconfig: str | None, contexts: list[str] | None = None, *, readonly: bool = False,
                timeout: float | None = None) -> KubeFleet:
        """Backends for ``contexts`` (default: the current context)."""
        if not contexts:
            _, current = context_names(kubeconfig)
            contexts = [current] if current else []
        conns = load_many(kubeconfig, list(contexts))
        return cls({c.context: KubeBackend(make_transport(c, readonly=readonly, timeout=timeout), namespace=c.namespace,
                                           context=c.context, shared_events_s=SHARED_EVENTS_S) for c in conns})

    @property
    def contexts(self) -> tuple[str, ...]:
        return tuple(self.backends)

    def backend(self, context: str) -> KubeBackend:
        return self.backends[context]

    def locker(self, context: str) -> Any:
        from backends.kubernetes.lease import LeaseLocker

        if context not in self._lockers:
            self._lockers[context] = LeaseLocker(self.backends[context])
        return self._lockers[context]

    def cluster(self, context: str) -> str:
        """The API server's URL: the lock order, whatever a kubeconfig calls the context."""
        return self.backends[context].t.server

    def close(self) -> None:
        for kube in self.backends.values():
            kube.close()

    # -- discovery ------------------------------------------------------------------------
    def _spaces(self, kube: KubeBackend, scope: Scope) -> list[str | None]:
        if scope.all_namespaces:
            return [None]
        return list(scope.namespaces) or [kube.namespace]

    def _where(self, context: str, scope: Scope) -> str:
        spaces = self._spaces(self.backends[context], scope)
        where = "all namespaces" if spaces == [None] else f"namespace {', '.join(str(s) for s in spaces)}"
        return f"{where} of context {context}"

    def discover(self, scope: Scope) -> Discovery:
        contexts = [c for c in (scope.contexts or self.contexts) if c in self.backends]

        def one(context: str) -> list[Member] | CockpitError:
            kube = self.backends[context]
            found: list[Member] = []
            try:
                for ns in self._spaces(kube, scope):
                    for d in kube.list_deployments(ns, scope.selector or None):
                        if not scope.names or d.name in scope.names:
                            found.append(Member(context, d.namespace, d.name))
            except CockpitError as exc:
                return exc
            return found

        with ThreadPoolExecutor(max_workers=max(1, len(contexts)), thread_name_prefix="fleet-list") as pool:
            answers = list(pool.map(one, contexts))
        out = Discovery(searched=[self._where(c, scope) for c in contexts])
        for context, got in zip(contexts, answers):
            if isinstance(got, CockpitError):
                out.failures.append(failed_entry(context, got))
            else:
                out.members += got
        out.members.sort()
        if scope.names and not out.failures:
            seen = {m.name for m in out.members}
            missing = [n for n in scope.names if n not in seen]
            if missing:
                what = f" matching -l {scope.selector}" if scope.selector else ""
                raise NotFoundError(
                    f"no deployment {', '.join(missing)}{what} in {'; '.join(out.searched)}",
                    hint="list them with `kubectl get deploy -A`; nothing was sent")
        return out

    # -- planning -------------------------------------------------------------------------
    def plan(self, member: Member, to_revision: int = 0, force: bool = False) -> PlanEntry:
        kube = self.backends[member.context]
        target = member.target
        d = kube.get_deployment(target)
        rss = kube.replicasets(d)
        history = rv.history(d, rss)
        live = next((r for r in history if r.live), None)
        base = PlanEntry(member.context, member.namespace, member.name, ROLLBACK,
                         from_revision=live.number if live else None,
                         from_images=tuple(live.images) if live else rv.images_of(d["spec"].get("template") or {}))
        try:
            rs = rv.replicaset_for_revision(d, rss, to_revision)
        except NotFoundError as exc:
            if to_revision:
                raise
            return _with(base, SKIP, "no earlier revision to roll back to" if len(history) < 2 else exc.message)
        plan = RollbackPlan(deployment=d, replicaset=rs, history=history, to_revision=rv.revision_of(rs) or 0,
                            images=rv.images_of(rs["spec"]["template"]))
        base = _with(base, ROLLBACK, "", to_revision=plan.to_revision, images=tuple(plan.images))
        if plan.skipped:
            return _with(base, SKIP, f"revision {plan.to_revision}'s template already runs")
        if (d.get("spec") or {}).get("paused"):
            raise ConflictError(f"deployment {member.name} is paused; a paused deployment cannot be rolled back",
                                title="Paused", hint="resume it first, then run the fleet again with the same --journal")
        if not to_revision and not force:
            from backends.kubernetes.steps import refuse_bringing_back

            try:
                refuse_bringing_back(target, plan)
            except ConflictError:
                note = plan.last_rollback or {}
                at = parse_time(note.get("at"))
                return _with(base, SKIP, f"already rolled back by {sanitize(str(note.get('by', '?')), max_len=100)} at "
                             f"{format_since(at) if at else '?'} (revision {note.get('from_revision', '?')} → "
                             f"{note.get('to_revision', '?')}); --force rolls it back again")
        return base


def _with(entry: PlanEntry, action: str, why: str, **kw: Any) -> PlanEntry:
    from dataclasses import replace

    return replace(entry, action=action, why=why, **kw)


__all__ = ["KubeFleet", "FAIL", "ROLLBACK", "SKIP"]
