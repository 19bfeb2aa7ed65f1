"""The fleet on the dashboard: each listed target's verdict, the operator's selection, and
the fleet rollback of the selection (:mod:`cockpit.fleet`) with each target's progress.

1. **The verdict of every target.** A poll (in a thread, every 10 s; every 2 s until each
   target was read twice) builds each listed deployment's metrics sources once —
   ``build(target)``, the composition root's ``compose.build_metrics`` — keeps one decision
   engine per target and ticks it, so the target list shows OK / MONITOR / CONSIDER /
   ROLLBACK_NOW / INCONCLUSIVE next to each name.
   Missing data is INCONCLUSIVE, never OK: a target whose sources cannot be built or read is
   INCONCLUSIVE with why (the engine's own rule for a required metric without a fresh value).
   These verdicts only inform; they never trigger anything.
2. **The selection** (``space`` on the list): targets the rollback key acts on together.
3. **The plan.** :func:`cockpit.fleet.prepare_plan` over the app's :class:`~cockpit.fleet.FleetSource`
   (``source_factory()``), its discovery being exactly the selection (:class:`Selected`);
   reads only, no lock (browsing). ``ask(plan, changed, then)`` shows it — each target from →
   to revision and images, skipped ones with why — and calls ``then(True)`` on ``y``. A
   selection with a target that cannot be planned is refused, naming it (as ``cockpit
   rollback -l`` does without ``--keep-going``): nothing is sent.
4. **The run.** On ``y``, in a thread: every target's lock is taken in the core's order
   (cluster, namespace, name) and the plan resolved again under them
   (:func:`cockpit.fleet.prepare_plan`, as ``cockpit rollback -l`` does); if it changed since it
   was shown it is asked again (nothing opened, nothing sent). Else the fleet's incident is
   opened — the operator acted: a fleet journal of its own, as the CLI writes it (its first
   record the plan, :func:`cockpit.fleet.is_fleet_journal`; each target's records stamped
   ``member``), never the session's one-target incident, whose fold would mix the targets —
   and :class:`cockpit.fleet.FleetRun` rolls each target back through the one rollback use
   case (``--parallel 4``, stopping new starts at the first failure). A fleet that finished
   closes its incident; one that did not stays open and ``cockpit rollback --journal J``
   continues it (nothing that took effect is sent again).
5. **Progress** is the journal's fold (:func:`cockpit.fleet.fold`): the records this run
   writes, as they are written (a journal listener, folded twice a second on the event
   loop), or — an observer following a fleet's journal — what the incident's follower read
   (``data.records``, :meth:`folded`). The run's latest line per target (its rollout's
   messages) is added for the targets still running.

Readonly: selecting, planning and running are refused here (:class:`ReadonlyError`), below
the UI that does not offer them; the verdict poll only reads.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cockpit import fleet as fl
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.model import Target

INCONCLUSIVE = "INCONCLUSIVE"
DEFAULT_INTERVAL_S = 10.0
WARMUP_S = 2.0
"""The verdict poll's interval until every target has been read twice (a rate needs two
scrapes): the list shows verdicts seconds after the targets, not two intervals later."""


@dataclass(frozen=True)
class TargetVerdict:
    """One target's verdict on the list (``value``: a :class:`cockpit.decision.Verdict` value)."""

    value: str
    reason: str = ""
    at: float = 0.0


@dataclass
class FleetView:
    """What the dashboard's list and the fleet screen show (``data.fleet``)."""

    verdicts: dict[str, TargetVerdict] = field(default_factory=dict)
    """``namespace/name`` → its latest verdict (absent: not read yet)."""
    selected: list[str] = field(default_factory=list)
    """``namespace/name`` of the selected targets, in the order they were selected."""
    plan: Any = None
    """The :class:`cockpit.fleet.FleetPlan` asked about or running (None: none yet)."""
    state: Any = None
    """The fold of the fleet's journal (:class:`cockpit.fleet.FleetState`): this session's run
    as it writes it, or the journal an observer follows (``plan`` None: no fleet there)."""
    busy: str = ""
    """``planning``, ``running`` or empty."""
    lines: dict[str, str] = field(default_factory=dict)
    """``member key`` → the run's latest line for it (this session's run only)."""
    context: str = ""
    journal: str = ""
    """The fleet's journal (``cockpit rollback --journal`` continues an unfinished one)."""

    def shown_plan(self) -> Any:
        """The plan to show: the journal's (what was confirmed and recorded), else the one asked about."""
        state_plan = getattr(self.state, "plan", None)
        return state_plan if state_plan is not None else self.plan


class Selected:
    """A :class:`~cockpit.fleet.FleetSource` whose discovery is exactly the operator's selection
    (``source``'s plan, backends and locks otherwise): a selection of ``shop/checkout`` and
    ``payments/api`` never becomes ``-n shop,payments`` matching ``shop/api`` too."""

    def __init__(self, source: Any, members: Iterable[fl.Member]) -> None:
        self.source = source
        self.members = sorted(set(members))

    def discover(self, scope: fl.Scope) -> fl.Discovery:
        contexts = set(scope.contexts)
        found = [m for m in self.members if not contexts or m.context in contexts]
        return fl.Discovery(members=found, searched=[f"the selection ({len(found)}) in context {c}" for c in sorted(contexts)])

    def plan(self, member: fl.Member, to_revision: int, force: bool) -> fl.PlanEntry:
        return self.source.plan(member, to_revision, force)

    def backend(self, context: str) -> Any:
        return self.source.backend(context)

    def locker(self, context: str) -> Any:
        return self.source.locker(context)

    def cluster(self, context: str) -> str:
        cluster = getattr(self.source, "cluster", None)
        return cluster(context) if cluster is not None else context


def plan_signature(plan: Any) -> list[tuple]:
    """What the operator confirmed, target by target (a plan resolved again must match it)."""
    return [(e.key, e.action, e.from_revision, e.to_revision, tuple(e.images)) for e in plan.entries]


def scope_for(context: str, members: list[fl.Member]) -> fl.Scope:
    """The scope a selection is recorded as (``fleet_planned``: names, namespaces, the context)."""
    return fl.Scope(names=tuple(dict.fromkeys(m.name for m in members)),
                    namespaces=tuple(dict.fromkeys(m.namespace for m in members)), contexts=(context,))


class _Watched:
    """One target's engine and sources, built once (a target listed again keeps them)."""

    def __init__(self, engine: Any, sources: list, note: str) -> None:
        self.engine, self.sources, self.note = engine, sources, note
        self.reads = 0

    def verdict(self, window_s: float, now: float) -> TargetVerdict:
        """*Thread.* Read the sources, tick the engine: its verdict (INCONCLUSIVE without data)."""
        self.reads += 1
        if not self.sources:
            return TargetVerdict(INCONCLUSIVE, self.note or "no metrics source", now)
        try:
            readings = [s.sample(window_s, now) for s in self.sources]
            decision = self.engine.tick(readings, now)
        except Exception as exc:  # noqa: BLE001 — a source that breaks is missing data, never OK
            return TargetVerdict(INCONCLUSIVE, f"metrics: {describe(exc)}", now)
        reason = decision.reasons[0].text if decision.reasons else ""
        return TargetVerdict(str(decision.verdict.value), reason, now)

    def close(self) -> None:
        for s in self.sources:
            close = getattr(s, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 — closing never fails the poll
                    pass


def describe(exc: BaseException) -> str:
    return f"{exc.title}: {exc.message}" if isinstance(exc, CockpitError) else f"{type(exc).__name__}: {exc}"


class FleetController:
    def __init__(self, host: Any, data: Any, session: Callable[[], Any], *, build: Callable[[Target], tuple[Any, list, str]],
                 source_factory: Callable[[], Any], ask: Callable[[Any, bool, Callable[[bool], Any]], Any],
                 show: Callable[[], Any] = lambda: None, prepare: Callable[[], Any] = lambda: None,
                 readonly: bool = False, window_s: float = 60.0, interval: float = DEFAULT_INTERVAL_S,
                 options: fl.RunOptions | None = None, lock_wait: float = 0.0, workers: int = 4) -> None:
        """``build(target) → (engine, sources, note)`` (the composition root's); ``source_factory()``
        the :class:`~cockpit.fleet.FleetSource` over the session's cluster; ``ask(plan, changed,
        then)`` shows the plan and calls ``then(yes)``; ``show()`` brings up the fleet screen;
        ``prepare()`` registers the step kinds (before a run); ``session()``: the app's
        :class:`cockpit.session.Session` (None before it connects)."""
        self.host, self.data, self.session = host, data, session
        self.build, self.source_factory, self.ask, self.show, self.prepare = build, source_factory, ask, show, prepare
        self.readonly, self.window_s, self.interval, self.workers = readonly, window_s, interval, workers
        self.options = options or fl.RunOptions(timeout=300.0)
        self.lock_wait = lock_wait
        self.view = FleetView()
        data.fleet = self.view
        self._watched: dict[str, _Watched] = {}
        self._source: Any = None
        self._records: Any = None
        self._folded = 0
        self._lines: dict[str, str] = {}
        self._lines_lock = threading.Lock()
        self._ticker: Any = None
        self._steady = False
        self._pending: list[dict] = []
        self._own = False
        """A run of this session wrote the fold (not an observed journal)."""
        self.cancel = threading.Event()
        """Set when the app closes: the run's rollouts are no longer followed (what was sent stays sent)."""
        self.result: Any = None
        """The last run's :class:`cockpit.fleet.FleetResult` (None: none finished in this session)."""

    # ================================================================== 1. every target's verdict

    def _cluster(self) -> Any:
        return getattr(self.session(), "backend", None)

    def start(self) -> None:
        """Start the verdict poll (event loop; it reads only while a cluster and targets are
        there): every :data:`WARMUP_S` until each target was read twice, then every ``interval``."""
        self._steady = False
        self._poll(min(WARMUP_S, self.interval))

    def _poll(self, every: float) -> None:
        self.host.poll("fleet", self.sample, self.deliver, every, on_error=self.failed,
                       active=lambda: self._cluster() is not None and bool(self.data.targets))

    def sample(self) -> dict[str, TargetVerdict]:
        """*Thread* (the poll): each listed target's verdict; sources built once per target."""
        targets = [Target(d.name, d.namespace) for d in list(self.data.targets)]
        wanted = {str(t) for t in targets}
        for key in [k for k in self._watched if k not in wanted]:
            self._watched.pop(key).close()
        now = time.time()

        def one(target: Target) -> tuple[str, _Watched | None, TargetVerdict]:
            key = str(target)
            watched = self._watched.get(key)
            if watched is None:
                try:
                    watched = _Watched(*self.build(target))
                except Exception as exc:  # noqa: BLE001 — tried again on the next poll
                    return key, None, TargetVerdict(INCONCLUSIVE, f"metrics: {describe(exc)}", now)
            return key, watched, watched.verdict(self.window_s, now)

        if len(targets) <= 1:
            answers = [one(t) for t in targets]
        else:
            with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(targets))),
                                    thread_name_prefix="fleet-verdict") as pool:
                answers = list(pool.map(one, targets))
        out: dict[str, TargetVerdict] = {}
        for key, watched, verdict in answers:
            if watched is not None:
                self._watched[key] = watched
            out[key] = verdict
        return out

    def deliver(self, verdicts: dict[str, TargetVerdict]) -> None:
        """The poll's verdicts on the event loop; a selected target no longer listed is deselected."""
        listed = {f"{d.namespace}/{d.name}" for d in self.data.targets}
        self.view.selected[:] = [k for k in self.view.selected if k in listed]
        if verdicts != self.view.verdicts:
            self.view.verdicts = verdicts
        self.host.mark("targets")
        if not self._steady and self._watched and all(w.reads >= 2 for w in self._watched.values()):
            self._steady = True
            self._poll(self.interval)  # (replaces the warm-up poll: one more read now, then every interval)

    def failed(self, exc: BaseException) -> None:
        """The poll itself failed (its targets are unknown): every verdict is INCONCLUSIVE."""
        now = time.time()
        self.view.verdicts = {k: TargetVerdict(INCONCLUSIVE, describe(exc), now) for k in self.view.verdicts}
        self.host.mark("targets")

    def close(self) -> None:
        """The app closes: stop following a run's rollouts, close the verdicts' sources."""
        self.cancel.set()
        for watched in self._watched.values():
            watched.close()
        self._watched.clear()

    # ================================================================== 2. the selection

    def _refuse(self, what: str) -> None:
        if self.readonly or getattr(self.data, "readonly", False):
            raise ReadonlyError(f"readonly: {what} refused (observers change nothing)")

    def toggle(self, key: str) -> bool:
        """Select or deselect the target ``namespace/name``; True when it is now selected."""
        self._refuse("selecting targets to roll back")
        sel = self.view.selected
        if key in sel:
            sel.remove(key)
        else:
            sel.append(key)
        self.host.mark("targets")
        return key in sel

    # ================================================================== 3. the plan

    def want(self) -> None:
        """The rollback key with targets selected: plan them (reads, no lock) and ask."""
        self._refuse("a fleet rollback")
        if not self.view.selected:
            raise CockpitError("no target is selected", title="Nothing selected",
                               hint="space on the target list selects the deployments to roll back")
        if self.view.busy:
            self.host.notify(f"a fleet rollback is {self.view.busy} already", severity="warning")
            return
        keys = list(self.view.selected)
        self.view.busy = "planning"
        self.host.mark("targets", "fleet")
        self.host.run_in_thread(lambda: self._plan(keys))

    def members(self, source: Any, keys: list[str]) -> tuple[str, list[fl.Member]]:
        """The selection as fleet members of the session's one context."""
        contexts = tuple(getattr(source, "contexts", ()) or ())
        context = contexts[0] if contexts else getattr(self._cluster(), "context", "") or "default"
        members = []
        for key in keys:
            t = Target.parse(key)
            members.append(fl.Member(context, t.namespace, t.name))
        return context, sorted(members)

    def _plan(self, keys: list[str]) -> None:
        """*Thread.* Resolve the selection's plan (reads only) and hand it to :meth:`planned`."""
        try:
            source = self.source_factory()
            context, members = self.members(source, keys)
            plan, _ = fl.prepare_plan(Selected(source, members), scope_for(context, members))
        except BaseException:
            self.host.call_from_thread(self._idle)
            raise
        self.host.call_from_thread(self.planned, source, plan, False)

    def planned(self, source: Any, plan: Any, changed: bool) -> None:
        """A plan is ready (event loop): refuse one that cannot run, else ask. ``changed``: it was
        resolved again under the locks and differs from the one confirmed (asked again)."""
        self._source = source
        self.view.busy = ""
        self._stop_ticker()
        self.view.plan = plan
        self.view.context = plan.scope.contexts[0] if plan.scope.contexts else ""
        self.host.mark("targets", "fleet")
        if plan.failed:
            first = plan.failed[0]
            names = ", ".join(e.key for e in plan.failed)
            raise CockpitError(f"cannot plan {names}: {first.error_title or 'Error'}: {first.why}",
                               title="Fleet rollback not planned",
                               hint="nothing was sent; deselect it (space) to roll back the others, or fix it first")
        if not plan.rollbacks:
            self.host.notify(f"nothing to roll back: {len(plan.skipped)} selected target(s) need nothing "
                             f"({'; '.join(f'{e.namespace}/{e.name}: {e.why}' for e in plan.skipped)[:300]})",
                             severity="warning", timeout=8)
            return
        self.ask(plan, changed, lambda yes: self.answered(plan, yes))

    def answered(self, plan: Any, yes: bool | None) -> None:
        if yes:
            self.run(plan)
        else:
            self.host.notify("fleet rollback cancelled: nothing was sent", timeout=4)

    def _idle(self) -> None:
        self.view.busy = ""
        self._stop_ticker()
        self.host.mark("targets", "fleet")

    # ================================================================== 4. the run

    def run(self, plan: Any) -> None:
        """The operator confirmed ``plan`` (event loop): run it in a thread, show its progress."""
        self._refuse("a fleet rollback")
        if self.view.busy:
            self.host.notify(f"a fleet rollback is {self.view.busy} already", severity="warning")
            return
        self.view.busy, self.view.plan, self.result = "running", plan, None
        with self._lines_lock:
            self._lines.clear()
        self.view.lines = {}
        self.show()
        self._start_ticker()
        self.host.mark("targets", "fleet")
        self.host.run_in_thread(lambda: self._run(plan))

    def _run(self, plan: Any) -> None:
        """*Thread.* :meth:`_execute`, then :meth:`finished` on the event loop."""
        try:
            result = self._execute(plan)
        except BaseException:
            self.host.call_from_thread(self._idle)
            raise
        if result is not None:
            self.host.call_from_thread(self.finished, result)

    def _execute(self, plan: Any) -> Any:
        """*Thread.* Lock every target in order and resolve the plan again under the locks; one
        that changed is asked again. Else open the fleet's journal, journal the plan, run it."""
        from cockpit.journal import Journal, default_actor
        from cockpit.locks import acquire_target_lock

        source = self._source
        if source is None:
            raise CockpitError("the plan was not made in this session", title="No plan")
        self.prepare()
        actor = default_actor()

        def acquire(m: fl.Member) -> Any:
            return acquire_target_lock(source.locker(m.context), m.target, actor=actor, readonly=False, warn=self._warn)

        members = [e.member for e in plan.entries if e.member is not None]
        again, locks = fl.prepare_plan(Selected(source, members), plan.scope, acquire=acquire, lock_wait=self.lock_wait)
        try:
            if plan_signature(again) != plan_signature(plan):
                fl.release_all(locks)
                self.host.call_from_thread(self.planned, source, again, True)
                return None
            journal = Journal.open(self.journal_path(again), actor=actor)
            try:
                self.host.call_from_thread(self._opened, str(journal.path))
                journal.add_listener(self._on_record)
                options = self.options
                journal.write(again.event(parallel=options.parallel, keep_going=options.keep_going))
                self.cancel.clear()
                result = fl.FleetRun(again, journal, source, options, locks=locks, log=self._log,
                                     cancel=self.cancel).run()
                if result.ok and options.wait:
                    from cockpit.events import IncidentClosed

                    journal.write(IncidentClosed(target=f"fleet: {again.scope.describe()}",
                                                 reason="fleet rollback completed"))
                return result
            finally:
                journal.close()
        finally:
            fl.release_all(locks)

    def journal_path(self, plan: Any) -> Any:
        """Where the fleet's journal goes: a new incident file (a drill's under its own state root)."""
        from cockpit.journal import default_journal_path

        names = "-".join(e.name for e in plan.rollbacks)[:60]
        path = default_journal_path(f"fleet-{names}")
        root = getattr(self.session(), "state_root", None)
        return root / "incidents" / path.name if root is not None else path

    def _opened(self, path: str) -> None:
        """The fleet's journal is open (event loop): its fold starts empty, fed by the run."""
        self._own = True
        with self._lines_lock:
            self._pending = []
        self.view.state = fl.FleetState()
        self.view.journal = path
        self.host.mark("fleet")

    def _on_record(self, record: dict) -> None:
        """*The writer's thread, under the journal's lock* (a listener): queue it, never block."""
        with self._lines_lock:
            self._pending.append(record)

    def _warn(self, text: str) -> None:
        try:
            self.host.call_from_thread(lambda: self.host.notify(text, severity="warning", timeout=8))
        except RuntimeError:
            pass  # the app is shutting down

    def _log(self, line: str) -> None:
        """*Thread* (the run's lines, ``<context>/<namespace>/<name>: …``): the latest per target."""
        key, sep, rest = line.partition(": ")
        if sep:
            with self._lines_lock:
                self._lines[key] = rest

    def finished(self, result: Any) -> None:
        """The run ended (event loop): the last fold, a one-line summary."""
        self.result = result
        self._idle()
        self._tick()
        n_ok, n_skip = result.count("ok", "done"), result.count("skipped")
        n_fail, n_not = result.count("failed"), result.count("not_started")
        again = "" if result.ok else (f"; the incident stays open: `cockpit rollback --journal {self.view.journal}` "
                                      "continues it once the cause is fixed")
        self.host.notify(f"fleet rollback {'done' if result.ok else 'incomplete'}: {n_ok} rolled back, {n_skip} skipped, "
                         f"{n_fail} failed, {n_not} not started{again}", severity="information" if result.ok else "error",
                         timeout=8 if result.ok else 20)

    # ================================================================== 5. progress, from the journal

    def _start_ticker(self) -> None:
        set_interval = getattr(self.host, "set_interval", None)
        if self._ticker is None and set_interval is not None:
            self._ticker = set_interval(0.5, self._tick)

    def _stop_ticker(self) -> None:
        ticker, self._ticker = self._ticker, None
        stop = getattr(ticker, "stop", None)
        if stop is not None:
            stop()

    def _tick(self) -> None:
        """(Twice a second while running.) The records written since, folded; the live lines."""
        with self._lines_lock:
            lines, pending, self._pending = dict(self._lines), self._pending, []
        if pending and self.view.state is not None:
            self.view.state.apply_all(pending)
            self.host.mark("fleet")
        if lines != self.view.lines:
            self.view.lines = lines
            self.host.mark("fleet")

    def folded(self) -> Any:
        """An observer (or an operator following a fleet's journal): fold what the incident's
        follower read since the last call (event loop, after each burst). A run of this session
        folds its own records instead. Returns the :class:`~cockpit.fleet.FleetState`."""
        records = getattr(self.data, "records", None)
        if self._own or records is None:
            return self.view.state
        if records is not self._records or len(records) < self._folded:  # another journal followed
            self._records, self._folded, self.view.state = records, 0, fl.FleetState()
        if len(records) > self._folded:
            self.view.state.apply_all(records[self._folded:])
            self._folded = len(records)
            self.host.mark("fleet")
        return self.view.state

    def status(self, key: str) -> str:
        """Where member ``key`` stands in the journal (``planned`` until its first record)."""
        state = self.view.state
        return state.status(key) if state is not None else "planned"
