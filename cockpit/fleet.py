"""Fleet rollback: one plan over many targets — across namespaces and kubeconfig contexts —
confirmed once, run in parallel through the one rollback use case, journaled in one incident.

The flow (``cockpit rollback -l SELECTOR [-A | -n NS] [--context C]... [NAME...]``)::

    source  = a FleetSource (backends/kubernetes/clusters.py: one backend per context)
    plan, locks = prepare_plan(source, scope, acquire=..., lock_wait=...)   # discover → lock → plan
    ... show plan.entries, ask once ...
    journal.write(plan.event(...))
    result = FleetRun(plan, journal, source, RunOptions(parallel=4), locks=locks).run()

- **The plan.** Every target the scope matches, each with its from → to revision and
  images (:class:`PlanEntry`, action ``rollback``); targets that need nothing are ``skip``
  with why (the template already runs, no earlier revision, someone already rolled it back);
  targets — or whole contexts — that could not be read are ``fail``. A selector that matches
  nothing anywhere is :class:`~cockpit.errors.NotFoundError` naming what was searched.
- **One operator per target, in a stable order.** The lock of every target (its Lease) is
  taken before the plan is resolved, in the order (cluster, namespace, name), waiting up
  to ``lock_wait`` seconds for one held by someone else. Two fleets over overlapping
  targets therefore never hold one each of a pair while waiting for the other: the one
  that gets the first common target gets them all, the other waits (or gives up after
  ``lock_wait`` and releases what it took). A target's lock is released when its rollback
  ends.
- **The one rollback use case.** Each target is rolled back by
  :class:`cockpit.rollback.RollbackRun` — reconcile with the journal, then the
  ``kubernetes.rollback`` step through the executor (evidence, revision chosen, fsynced
  intent, PATCH, outcome) — over a :class:`MemberJournal`, its part of the fleet's journal.
  ``--parallel N`` bounds how many targets are being rolled back at once; once a target's
  PATCH is in, its slot goes to the next target and its rollout is followed alongside
  (reads), as Kubernetes runs the rollouts anyway. The first failure (a refusal, an
  unreachable cluster, a rollout that fails) stops new targets from starting, unless
  ``keep_going``; targets already started finish.
- **One journal.** The fleet's records (``fleet_planned``, ``fleet_target``,
  ``fleet_finished``) and every target's own records, each stamped with ``member``
  (:data:`cockpit.events.MEMBER`), go to one file. :func:`fold` splits it: the plan, where
  each target stands, and each target's :class:`~cockpit.state.IncidentState`.
- **Resume.** Run again with the same journal: the recorded plan is continued. A target
  whose rollback took effect is never sent again (its fold says so, or the step reconciles
  an interrupted intent against the cluster); targets — or contexts — that failed to plan
  are planned again.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from cockpit import events as ev
from cockpit.errors import CockpitError, LockedError, NotFoundError, RolloutFailed, UnreachableError
from cockpit.journal import error_data, safe_name
from cockpit.model import Target
from cockpit.state import IncidentState

MEMBER = ev.MEMBER
DEFAULT_PARALLEL = 4
ROLLBACK, SKIP, FAIL = "rollback", "skip", "fail"
DONE = ("ok", "skipped")
"""Statuses of a target that a resume leaves alone."""


# --------------------------------------------------------------------------- what is planned


@dataclass(frozen=True, order=True)
class Member:
    """One target of a fleet: a deployment in a namespace of a kubeconfig context (ordered by
    them: the plan's order)."""

    context: str
    namespace: str
    name: str

    @property
    def target(self) -> Target:
        return Target(self.name, self.namespace)

    @property
    def key(self) -> str:
        return f"{self.context}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class Scope:
    """What the operator asked for: ``-l SELECTOR``, names, ``-n NS`` or ``-A``, contexts."""

    selector: str = ""
    names: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    """Namespaces asked for with ``-n``; empty: each context's own namespace (or all, with ``-A``)."""
    all_namespaces: bool = False
    contexts: tuple[str, ...] = ()

    def what(self) -> str:
        parts = []
        if self.selector:
            parts.append(f"-l {self.selector}")
        if self.names:
            parts.append(", ".join(self.names))
        return " named ".join(parts) if parts else "every deployment"

    def where(self) -> str:
        if self.all_namespaces:
            space = "all namespaces"
        elif self.namespaces:
            space = f"namespace {', '.join(self.namespaces)}"
        else:
            space = "each context's namespace"
        return f"{space} of context{'s' if len(self.contexts) != 1 else ''} {', '.join(self.contexts) or '?'}"

    def describe(self) -> str:
        return f"{self.what()} in {self.where()}"


@dataclass(frozen=True)
class PlanEntry:
    """One line of the plan. ``name`` is empty for a context that could not be listed."""

    context: str
    namespace: str = ""
    name: str = ""
    action: str = ROLLBACK
    why: str = ""
    from_revision: int | None = None
    from_images: tuple[str, ...] = ()
    to_revision: int | None = None
    images: tuple[str, ...] = ()
    error_title: str = ""
    exit_code: int | None = None

    @property
    def member(self) -> Member | None:
        return Member(self.context, self.namespace, self.name) if self.name else None

    @property
    def key(self) -> str:
        return f"{self.context}/{self.namespace}/{self.name}" if self.name else self.context

    def sort_key(self) -> tuple[str, str, str]:
        return (self.context, self.namespace, self.name)

    def error(self) -> CockpitError:
        """A ``fail`` entry as the error it was (title and exit code kept)."""
        err = CockpitError(f"{self.key}: {self.why}", title=self.error_title or "Error")
        if self.exit_code is not None:
            err.exit_code = self.exit_code
        return err

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.key, **{f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    @classmethod
    def from_dict(cls, data: Any) -> PlanEntry | None:
        """Leniently, from a journaled plan (None when it is not one)."""
        if not isinstance(data, dict) or not isinstance(data.get("context"), str):
            return None
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            v = data.get(f.name)
            if f.name in ("from_images", "images"):
                kw[f.name] = tuple(str(i) for i in v) if isinstance(v, list) else ()
            elif f.name in ("from_revision", "to_revision", "exit_code"):
                kw[f.name] = v if isinstance(v, int) and not isinstance(v, bool) else None
            elif isinstance(v, str):
                kw[f.name] = v
        return cls(**kw)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def failed_entry(context: str, exc: CockpitError, member: Member | None = None) -> PlanEntry:
    return PlanEntry(context, member.namespace if member else "", member.name if member else "", FAIL,
                     why=exc.message, error_title=exc.title, exit_code=exc.exit_code)


@dataclass(frozen=True)
class FleetPlan:
    scope: Scope
    entries: tuple[PlanEntry, ...]
    to_revision: int = 0
    force: bool = False

    def of(self, action: str) -> list[PlanEntry]:
        return [e for e in self.entries if e.action == action]

    @property
    def rollbacks(self) -> list[PlanEntry]:
        return self.of(ROLLBACK)

    @property
    def skipped(self) -> list[PlanEntry]:
        return self.of(SKIP)

    @property
    def failed(self) -> list[PlanEntry]:
        return self.of(FAIL)

    def event(self, *, parallel: int, keep_going: bool, resumed: bool = False) -> ev.FleetPlanned:
        s = self.scope
        return ev.FleetPlanned(targets=tuple(e.to_dict() for e in self.entries), selector=s.selector, names=s.names,
                               namespaces=s.namespaces, all_namespaces=s.all_namespaces, contexts=s.contexts,
                               parallel=parallel, keep_going=keep_going, to_revision=self.to_revision,
                               force=self.force, resumed=resumed)

    @classmethod
    def from_event(cls, e: ev.FleetPlanned) -> FleetPlan:
        scope = Scope(e.selector, tuple(e.names), tuple(e.namespaces), e.all_namespaces, tuple(e.contexts))
        entries = tuple(p for p in (PlanEntry.from_dict(dict(t)) for t in e.targets) if p is not None)
        return cls(scope, entries, e.to_revision, e.force)


class FleetSource(Protocol):
    """The platform side of a fleet (``backends/kubernetes/clusters.py``: one backend per context)."""

    def discover(self, scope: Scope) -> Discovery:
        """The targets ``scope`` matches; a context that could not be listed is a ``fail`` entry."""

    def plan(self, member: Member, to_revision: int, force: bool) -> PlanEntry:
        """Resolve one target's rollback (reads only): ``rollback`` with from → to, ``skip`` with why.
        Raises CockpitError when it cannot be planned."""

    def backend(self, context: str) -> Any:
        """The rollout backend of ``context`` (what ``kubernetes.rollback`` runs against)."""

    def locker(self, context: str) -> Any:
        """The :class:`cockpit.ports.TargetLocker` of ``context`` (its Leases)."""

    def cluster(self, context: str) -> str:
        """The cluster behind ``context``, named the same from any kubeconfig (its server's URL)."""


@dataclass
class Discovery:
    members: list[Member] = field(default_factory=list)
    failures: list[PlanEntry] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)
    """Where it looked, for "nothing matches" (``namespace shop of context east``)."""


# --------------------------------------------------------------------------- locks


Acquire = Callable[[Member], Any]


def lock_in_order(members: Iterable[Member], acquire: Acquire, *, wait: float = 0.0, poll: float = 0.2,
                  say: Callable[[str], None] = lambda line: None,
                  cluster: Callable[[str], str] = lambda context: context) -> dict[str, Any]:
    """Take every member's lock in the order (cluster, namespace, name) — ``cluster(context)``
    names the cluster the same way from every kubeconfig (its server's URL), so two operators
    whose kubeconfigs call it differently still agree on the order.

    A lock held by someone else is retried until ``wait`` seconds have passed since the first
    one was asked for; then its :class:`~cockpit.errors.LockedError` is raised, and the locks
    taken so far are released (last first). Because every fleet takes its locks in the same
    order and never holds a later one while waiting for an earlier one, two fleets over
    overlapping targets cannot wait on each other."""
    taken: dict[str, Any] = {}
    deadline = time.monotonic() + max(0.0, wait)
    try:
        for m in sorted(set(members), key=lambda m: (cluster(m.context), m.namespace, m.name, m.context)):
            told = False
            while True:
                try:
                    taken[m.key] = acquire(m)
                    break
                except LockedError as exc:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    if not told:
                        say(f"{m}: {exc.message}; waiting up to {left:.0f}s for it")
                        told = True
                    time.sleep(min(poll, left))
    except BaseException:
        release_all(taken)
        raise
    return taken


def release_all(locks: dict[str, Any]) -> None:
    for key in reversed(list(locks)):
        lock = locks.pop(key)
        try:
            lock.release()
        except CockpitError:
            pass


# --------------------------------------------------------------------------- planning


def discover(source: FleetSource, scope: Scope) -> Discovery:
    """What ``scope`` matches. Nothing anywhere (and no context failed): NotFoundError (exit 3)
    naming what was searched. Every context failed: its error is raised (nothing to plan)."""
    found = source.discover(scope)
    if not found.members and not found.failures:
        raise NotFoundError(f"no deployment matches {scope.what()} in {'; '.join(found.searched) or scope.where()}",
                            hint="check the selector with `kubectl get deploy -A -l SELECTOR`; nothing was sent")
    if found.failures and not found.members and len(found.failures) == len(scope.contexts):
        raise found.failures[0].error()
    return found


def plan_members(source: FleetSource, members: list[Member], *, to_revision: int = 0, force: bool = False,
                 workers: int = 8) -> list[PlanEntry]:
    """Each member planned (reads, ``workers`` at a time); one that cannot be is a ``fail`` entry."""

    def one(m: Member) -> PlanEntry:
        try:
            return source.plan(m, to_revision, force)
        except CockpitError as exc:
            return failed_entry(m.context, exc, m)

    if len(members) <= 1:
        return [one(m) for m in members]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(members))), thread_name_prefix="fleet-plan") as pool:
        return list(pool.map(one, members))


def prepare_plan(source: FleetSource, scope: Scope, *, to_revision: int = 0, force: bool = False,
                 acquire: Acquire | None = None, lock_wait: float = 0.0, previous: FleetState | None = None,
                 say: Callable[[str], None] = lambda line: None) -> tuple[FleetPlan, dict[str, Any]]:
    """Discover, lock (in order), plan: the plan to show and the locks of the targets it will
    roll back (the others' are released). ``acquire`` None: no locks (a readonly preview).

    With ``previous`` (a resume) the recorded plan is kept — what the operator confirmed —
    and only its ``fail`` entries are planned again (a context that did not answer is listed
    again)."""
    keep: list[PlanEntry] = []
    failures: list[PlanEntry] = []
    members: list[Member] = []
    if previous is None or previous.plan is None:
        found = discover(source, scope)
        members, failures = found.members, found.failures
    else:
        scope = previous.plan.scope
        to_revision, force = previous.plan.to_revision, previous.plan.force
        for e in previous.plan.entries:
            if e.action != FAIL:
                keep.append(e)
            elif e.member is not None:
                members.append(e.member)
            else:
                again = source.discover(dataclasses.replace(scope, contexts=(e.context,)))
                members += again.members
                failures += again.failures
    running = [e.member for e in keep if e.action == ROLLBACK and e.member is not None
               and (previous is None or previous.status(e.key) not in DONE)]
    locks = (lock_in_order([*members, *running], acquire, wait=lock_wait, say=say, cluster=source.cluster)
             if acquire is not None else {})
    try:
        planned = plan_members(source, members, to_revision=to_revision, force=force)
        entries = tuple(sorted([*keep, *planned, *failures], key=PlanEntry.sort_key))
        plan = FleetPlan(scope, entries, to_revision, force)
        wanted = {e.key for e in plan.rollbacks if previous is None or previous.status(e.key) not in DONE}
        release_all({k: locks.pop(k) for k in list(locks) if k not in wanted})
    except BaseException:
        release_all(locks)
        raise
    return plan, locks


# --------------------------------------------------------------------------- the journal


class MemberJournal:
    """One target's part of a fleet's journal: what :class:`~cockpit.rollback.RollbackRun`,
    the executor and the steps use as "the journal". Every record it writes carries
    ``member``; :meth:`read` returns this member's records only (kept in memory: this process
    holds the target's lock, so nobody else writes them)."""

    def __init__(self, journal: Any, key: str, records: Iterable[dict] = ()) -> None:
        self.journal = journal
        self.key = key
        self._records = list(records)
        self._mutex = threading.Lock()

    @property
    def path(self) -> Path:
        return self.journal.path

    @property
    def actor(self) -> str:
        return self.journal.actor

    @property
    def readonly(self) -> bool:
        return self.journal.readonly

    def read(self) -> list[dict]:
        with self._mutex:
            return list(self._records)

    def write(self, event: ev.Event) -> dict:
        stamped = dataclasses.replace(event, extra=MappingProxyType({**event.extra, MEMBER: self.key}))
        record = self.journal.write(stamped)
        with self._mutex:
            self._records.append(record)
        return record

    def append(self, type: str, /, **data: Any) -> dict:
        return self.write(ev.build(type, data))

    def intent(self, action: str, **data: Any) -> str:
        intent_id = uuid.uuid4().hex[:16]
        self.write(ev.build("intent", {"id": intent_id, "action": action, **data}))
        return intent_id

    def outcome(self, intent_id: str, ok: bool, **data: Any) -> dict:
        return self.write(ev.build("outcome", {"id": intent_id, "ok": bool(ok), **data}))

    @contextmanager
    def action(self, action: str, **data: Any) -> Iterator[Any]:
        from cockpit.journal import Action

        act = Action(self.intent(action, **data))
        try:
            yield act
        except Exception as exc:
            self.outcome(act.id, False, **error_data(exc))
            raise
        self.outcome(act.id, True, result=act.result)


@dataclass
class FleetState:
    """The fold of a fleet's journal: the plan, where each target stands, each target's incident."""

    plan: FleetPlan | None = None
    parallel: int = DEFAULT_PARALLEL
    keep_going: bool = False
    last: dict[str, ev.FleetTarget] = field(default_factory=dict)
    """Each target's last ``fleet_target`` record."""
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    records: dict[str, list[dict]] = field(default_factory=dict)
    """Each target's own records (stamped ``member``)."""
    finished: ev.FleetFinished | None = None

    def status(self, key: str) -> str:
        """``planned``, ``started``, ``ok``, ``skipped``, ``failed``, ``not_started``."""
        last = self.last.get(key)
        return last.status if last is not None else "planned"

    def incident(self, key: str) -> IncidentState:
        return self.incidents.get(key) or IncidentState()

    def apply(self, record: dict) -> FleetState:
        if not isinstance(record, dict):
            return self
        kind = record.get("type")
        if isinstance(kind, str) and kind.startswith("fleet_"):
            event = ev.parse(record)
            if event is None and kind == "fleet_planned" and isinstance(record.get("targets"), list):
                # one odd entry must not lose the plan: keep the entries that are objects
                event = ev.parse({**record, "targets": [t for t in record["targets"] if isinstance(t, dict)]})
            if isinstance(event, ev.FleetPlanned):
                self.plan = FleetPlan.from_event(event)
                self.parallel, self.keep_going = event.parallel, event.keep_going
                self.finished = None
            elif isinstance(event, ev.FleetTarget):
                self.last[event.member] = event
            elif isinstance(event, ev.FleetFinished):
                self.finished = event
            return self
        key = record.get(MEMBER)
        if isinstance(key, str):
            self.records.setdefault(key, []).append(record)
            self.incidents.setdefault(key, IncidentState()).apply(record)
        return self

    def apply_all(self, records: Iterable[dict]) -> FleetState:
        for r in records:
            self.apply(r)
        return self


def fold(records: Iterable[dict]) -> FleetState:
    """The fleet's state after ``records`` (a pure function of them)."""
    return FleetState().apply_all(records)


def is_fleet(records: Iterable[dict]) -> bool:
    """Whether these records are a fleet rollback's journal (fold them with :func:`fold`)."""
    return any(r.get("type") == "fleet_planned" for r in records)


def is_fleet_journal(path: str | Path) -> bool:
    """Whether the journal at ``path`` is a fleet rollback's: its first record is the plan
    (read cheaply: the first line only). Such a journal holds several targets' incidents:
    never resume it as one target's (:func:`cockpit.state.replay` of it mixes them)."""
    import json

    try:
        with open(path, "rb") as fh:
            first = json.loads(fh.readline() or b"{}")
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and first.get("type") == "fleet_planned"


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class RunOptions:
    parallel: int = DEFAULT_PARALLEL
    keep_going: bool = False
    wait: bool = True
    timeout: float = 600.0
    evidence: bool = True
    reason: str = "fleet rollback"


@dataclass
class MemberResult:
    entry: PlanEntry
    status: str
    """``ok``, ``skipped``, ``failed``, ``not_started``; ``done`` when an earlier run finished it."""
    already: bool = False
    from_revision: int | None = None
    to_revision: int | None = None
    images: tuple[str, ...] = ()
    error: CockpitError | None = None
    ended: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.entry.key, "context": self.entry.context, "namespace": self.entry.namespace,
                "name": self.entry.name, "status": self.status, "already": self.already,
                "from_revision": self.from_revision, "to_revision": self.to_revision, "images": list(self.images),
                "error": None if self.error is None else {"title": self.error.title, "message": str(self.error),
                                                          "exit_code": self.error.exit_code}}


@dataclass
class FleetResult:
    results: list[MemberResult]

    @property
    def ok(self) -> bool:
        return all(r.status in ("ok", "skipped", "done") for r in self.results)

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.results if r.status in statuses)

    @property
    def first_failure(self) -> MemberResult | None:
        """The target whose failure came first (by when it ended)."""
        failed = sorted((r for r in self.results if r.error is not None), key=lambda r: r.ended)
        return failed[0] if failed else None


class FleetRun:
    """Runs a confirmed plan (see the module docstring). ``state``: the fold of the journal
    before this run (a resume), so targets that took effect are not run again."""

    def __init__(self, plan: FleetPlan, journal: Any, source: FleetSource, options: RunOptions = RunOptions(), *,
                 locks: dict[str, Any] | None = None, state: FleetState | None = None,
                 log: Callable[[str], None] = lambda line: None, cancel: threading.Event | None = None) -> None:
        self.plan, self.journal, self.source, self.options = plan, journal, source, options
        self.locks = locks if locks is not None else {}
        self.state = state if state is not None else fold(journal.read())
        self.log = log
        self.cancel = cancel or threading.Event()
        self.stop = threading.Event()
        self._fatal: BaseException | None = None
        self._results: dict[str, MemberResult] = {}
        self._mutex = threading.Lock()

    def run(self) -> FleetResult:
        todo: list[PlanEntry] = []
        for e in self.plan.entries:
            if e.action == SKIP:
                self._note(e, MemberResult(e, "skipped"), write=self.state.status(e.key) != "skipped")
            elif e.action == FAIL:
                self._note(e, MemberResult(e, "failed", error=e.error(), ended=time.monotonic()), write=True)
                if not self.options.keep_going:
                    self.stop.set()
            elif self.state.status(e.key) == "ok":
                last = self.state.last[e.key]
                self._note(e, MemberResult(e, "done", last.already, last.from_revision, last.to_revision,
                                           tuple(last.images)), write=False)
            else:
                todo.append(e)
        slots = threading.Semaphore(max(1, self.options.parallel))
        threads: list[threading.Thread] = []
        try:
            for e in todo:
                slots.acquire()
                if self._fatal is not None:
                    slots.release()
                    break
                if self.stop.is_set():
                    slots.release()
                    self._note(e, MemberResult(e, "not_started"), write=True)
                    continue
                t = threading.Thread(target=self._member, args=(e, slots), name=f"fleet {e.key}", daemon=True)
                t.start()
                threads.append(t)
            for t in threads:
                t.join()
        except BaseException:  # ctrl-c: what was sent stays sent; the rollouts are no longer followed
            self.stop.set()
            self.cancel.set()
            for t in threads:
                t.join()
            raise
        finally:
            release_all(self.locks)
        if self._fatal is not None:
            raise self._fatal
        result = FleetResult([self._results[e.key] for e in self.plan.entries if e.key in self._results])
        self.journal.write(ev.FleetFinished(ok=result.ok, rolled_back=result.count("ok", "done"),
                                            skipped=result.count("skipped"), failed=result.count("failed"),
                                            not_started=result.count("not_started")))
        return result

    # ---- one target

    def _note(self, e: PlanEntry, r: MemberResult, *, write: bool) -> None:
        with self._mutex:
            self._results[e.key] = r
        if write and self._fatal is None:
            err = r.error
            self.journal.write(ev.FleetTarget(
                member=e.key, status=r.status, already=r.already, from_revision=r.from_revision,
                to_revision=r.to_revision, images=tuple(r.images),
                error_title=err.title if err else "", error_message=err.message if err else "",
                exit_code=err.exit_code if err else None))

    def _member(self, e: PlanEntry, slots: threading.Semaphore) -> None:
        from cockpit.rollback import RollbackRequest, RollbackRun  # (runbooks, pydantic: not for a mere fold)
        from cockpit.steps import StepContext

        member = e.member
        assert member is not None
        released = False
        try:
            self.journal.write(ev.FleetTarget(member=e.key, status="started"))
            mj = MemberJournal(self.journal, e.key, self.state.records.get(e.key, ()))
            backend = self.source.backend(member.context)
            evidence = Path(str(self.journal.path) + ".evidence") / safe_name(e.key)
            ctx = StepContext(backends={"kubernetes": backend}, log=lambda line: self.log(f"{e.key}: {line}"),
                              cancel=self.cancel, readonly=False, namespace=member.namespace, target=member.target,
                              evidence_dir=evidence)
            req = RollbackRequest(member.target, to_revision=self.plan.to_revision, force=self.plan.force,
                                  evidence=self.options.evidence, wait=False, timeout=self.options.timeout,
                                  reason=self.options.reason, source="cli")
            lock = self.locks.get(e.key)
            if lock is not None:
                lock.ensure_held()
            result = RollbackRun(req, mj, ctx).run()
            if not result.ok:  # (its slot is freed only once the stop is set: no new start slips in)
                raise result.error or RolloutFailed(f"the rollback of {member} did not finish ({result.status})")
            slots.release()
            released = True
            if result.status == "already" and result.done is not None:
                done = result.done
                out = MemberResult(e, "ok", True, done.from_revision, done.to_revision, tuple(done.images))
            else:
                steps = result.execution.steps if result.execution else []
                data = steps[-1].data if steps else {}
                status = "skipped" if data.get("result") == "skipped" else "ok"
                out = MemberResult(e, status, bool(result.resumed), data.get("from_revision"),
                                   data.get("to_revision"), tuple(data.get("images") or ()))
            if out.status == "ok" and self.options.wait:
                self._follow(backend, member, mj)
            out.ended = time.monotonic()
            self._note(e, out, write=True)
        except CockpitError as exc:
            self._failed(e, exc)
        except Exception as exc:  # noqa: BLE001 — a bug fails this target, never the others silently
            self._failed(e, CockpitError(f"{type(exc).__name__}: {exc}", title="Step crashed"))
        except BaseException as exc:  # the process is going away (a crash): write nothing more
            self._fatal = exc
            self.stop.set()
        finally:
            if not released:
                slots.release()
            lock = self.locks.pop(e.key, None)
            if lock is not None:
                try:
                    lock.release()
                except CockpitError:
                    pass

    def _failed(self, e: PlanEntry, exc: CockpitError) -> None:
        self.log(f"{e.key}: FAILED: {exc.title}: {exc}")
        self._note(e, MemberResult(e, "failed", error=exc, ended=time.monotonic()), write=True)
        if not self.options.keep_going:
            self.stop.set()

    def _follow(self, backend: Any, member: Member, mj: MemberJournal) -> None:
        """Follow the target's rollout to its end (reads) and journal where it ended."""
        target = member.target
        last = None
        try:
            for p in backend.watch_progress(target, cancel=self.cancel, timeout=self.options.timeout):
                if last is None or p.message != last.message:
                    self.log(f"{member}: {p.message}")
                last = p
        except UnreachableError as exc:
            raise UnreachableError(f"the rollback of {member} took effect, but its rollout could not be followed: "
                                   f"{exc.message}", title="Rollout not followed",
                                   hint="nothing needs sending again; resume the fleet with the same --journal "
                                        "once the API answers") from None
        if last is not None:
            mj.write(ev.RolloutProgressed(target=str(target), updated=last.updated, ready=last.ready,
                                          available=last.available, desired=last.desired, complete=last.complete,
                                          failed=last.failed))
        if last is None or not last.complete:
            raise RolloutFailed(last.message if last else f"the rollout of {member} was not followed to its end",
                                hint="the rollback took effect; check the pods and events")
