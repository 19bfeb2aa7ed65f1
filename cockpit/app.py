"""The full-screen cockpit (Textual): the composition root. It composes, wires and routes.

- composes: backends (built readonly when asked — the guarantee lives below the UI), the
  drill world, the :class:`cockpit.session.Session`, the screens;
- wires: dolphie poll loops (:class:`screens.poll.Poll`) for targets, the target's cluster
  state and its metrics, and a thread that tails the incident journal into
  :class:`cockpit.state.IncidentState` (the operator's own session and an observer's are
  the same code reading the same file);
- routes: screens' messages to thread workers; results back to the active screen.

Nothing heavy sits on the path to the first frame: the Kubernetes backend is built in a
worker after the first frame, and the metrics sources (httpx) and the decision engine are
imported by the first metrics poll.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding

from cockpit.errors import CockpitError
from cockpit.model import Target
from cockpit.state import IncidentState
from screens import messages as msg
from screens.data import UIData
from screens.keys import bindings
from screens.poll import Poll
from themes import ASCII_CSS_PATH, CSS_PATH, choose, load_themes

# name → (module, class). Only the dashboard is imported before the first frame; the other
# screens (and what they pull in: RichLog → rich.pretty, the checklist, the modals) are
# imported and installed the first time they are shown.
SCREENS = {"dashboard": ("screens.dashboard", "DashboardScreen"), "history": ("screens.history", "HistoryScreen"),
           "rollback": ("screens.rollback", "RollbackScreen"), "checklist": ("screens.checklist", "ChecklistScreen"),
           "comms": ("screens.comms", "CommsScreen"), "data": ("screens.data_layer", "DataScreen")}


def screen_class(name: str) -> type:
    import importlib

    module, cls = SCREENS[name]
    return getattr(importlib.import_module(module), cls)


class CockpitApp(App):
    TITLE = "Rollback Cockpit"
    CSS_PATH = [CSS_PATH]
    BINDINGS = [*bindings("app"), Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    ENABLE_COMMAND_PALETTE = True

    @staticmethod
    def _cockpit_commands() -> type:
        from screens.commands import CockpitCommands

        return CockpitCommands

    COMMANDS = App.COMMANDS | {_cockpit_commands}

    def __init__(self, args: argparse.Namespace, *, session: Any = None, settings: Any = None,
                 world_factory: Any = None, keymap: dict[str, str] | None = None) -> None:
        if getattr(args, "ascii", False):
            self.CSS_PATH = [CSS_PATH, ASCII_CSS_PATH]
        super().__init__()
        self.args = args
        self.settings = settings
        self.decision_config = getattr(settings, "decision", None)
        self.session = session
        self.world = None
        self.world_factory = world_factory
        readonly = bool(getattr(args, "readonly", False))
        self.data = UIData(readonly=readonly, ascii=bool(getattr(args, "ascii", False)),
                           drill=(getattr(args, "scenario", None) or "…") if getattr(args, "drill", False) else None)
        self.polls: dict[str, Poll] = {}
        self.engine = None
        self.sources: list = []
        self.probes: list = []
        self.points: list = []
        self.version: str | None = None
        self._dirty: set[str] = set()
        self._flush_timer = None
        self._follow_stop = threading.Event()
        self._redis_lock = threading.Lock()
        self._redis_cancel = threading.Event()
        self._comms_announced: set[tuple[str, str]] = set()
        self.auto = None
        self.user_keymap = keymap or {}
        from cockpit.keymap import DEFAULTS, apply_overrides

        self.keyspecs = apply_overrides(DEFAULTS, self.user_keymap)  # the help screen shows the user's keys
        for theme in load_themes():
            self.register_theme(theme)
        self.theme = choose(getattr(args, "theme", None))

    # ------------------------------------------------------------------ composition

    def on_mount(self) -> None:
        self.setup()

    def setup(self) -> None:
        """Install the screens and connect (in a worker, after the first frame)."""
        from cockpit.session import AutoRollback

        self.auto = AutoRollback(countdown_s=getattr(getattr(self.settings, "watch", None), "countdown_s", 10.0))
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.ensure_screen("dashboard")
        self.push_screen("dashboard")
        if self.session is not None:
            self._connected(self.session)
        elif self.data.drill and not getattr(self.args, "scenario", None):
            from cockpit.world.scenario import list_scenarios, load_scenario
            from screens.modals import ScenarioPicker

            items = [(n, (load_scenario(n).description or "").strip()) for n in list_scenarios()]
            self.push_screen(ScenarioPicker(items), self._scenario_picked)
        else:
            self.connect()

    def ensure_screen(self, name: str) -> Any:
        """The installed screen ``name``, imported and installed on first use."""
        if not self.is_screen_installed(name):
            self.install_screen(screen_class(name)(self.data), name)
        return self.get_screen(name)

    def _scenario_picked(self, name: str | None) -> None:
        if name:
            self.args.scenario = name
            self.data.drill = name
            self.connect()

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def connect(self) -> None:
        """Start the drill world if asked, build the backends readonly or not, in a thread."""
        try:
            session = build_session(self.args, self.world_factory, self)
        except CockpitError as exc:
            self.call_from_thread(self.show_error, exc)
            return
        self.call_from_thread(self._connected, session)

    def _connected(self, session: Any) -> None:
        self.session = session
        self.data.readonly = session.readonly
        self.data.context = getattr(session.backend, "context", "")
        pg, redis = session.postgres, session.redis
        self.data.data_pg = getattr(pg, "display_dsn", None) if pg is not None else None
        if redis is not None:
            self.data.data_redis = f"{redis.display_url}  ({redis.target})"
            self.data.redis_server, self.data.redis_db = redis.server, redis.db
        for part, text in getattr(session, "data_errors", {}).items():
            self.notify(f"{part}: {text}", severity="error", timeout=10)
        self.polls["targets"] = Poll(self, "targets", session.targets, self._got_targets, 10.0,
                                     on_error=lambda e: self._source_failed("kubernetes", e)).start()
        if self.data.readonly:
            self._start_observer()
        elif not session.drill:
            self._offer_resume()
        if session.drill_goal is not None and self.data.target is None:  # a drill starts on its deployment
            self._set_target(session.drill_goal)

    # ------------------------------------------------------------------ observers and resume

    def _start_observer(self) -> None:
        from cockpit.journal import find_open_incidents

        path = getattr(self.args, "follow", None)
        if path is None:
            found = find_open_incidents()
            path = found[-1] if found else None
        if path is None:
            self.notify("readonly: no open incident to follow; showing the cluster only", timeout=6)
            return
        self.data.observer_of = str(path)
        self.follow(Path(path))

    def _offer_resume(self) -> None:
        from cockpit.journal import find_open_incidents
        from cockpit.session import describe_incident

        found = [p for p in find_open_incidents() if p != getattr(self.args, "journal", None)]
        if getattr(self.args, "journal", None) and Path(self.args.journal).exists():
            found = [Path(self.args.journal)]
        if not found:
            return
        path = found[-1]

        def answer(yes: bool | None) -> None:
            if yes:
                self.resume_incident(path)

        from screens.modals import ResumePrompt

        self.push_screen(ResumePrompt(describe_incident(path), str(path)), answer)

    @work(thread=True, exclusive=True, group="incident", exit_on_error=False)
    def resume_incident(self, path: Path) -> None:
        from cockpit.session import resume_point

        try:
            state = self.session.attach(path)
        except CockpitError as exc:
            self.call_from_thread(self.show_error, exc)
            return
        load_step_kinds()
        where = resume_point(state)
        self.call_from_thread(self._resumed, state, where)
        if where == "rollback" and state.run_status != "ok":
            self._run(lambda: self.session.run_rollback(self.session.target, 0, (), lambda _l: None, resume=True))

    def _resumed(self, state: IncidentState, where: str) -> None:
        self.follow(self.session.journal_path)
        self._set_target(self.session.target)
        self.goto(where)
        self.notify(f"resumed {state.target} in phase {state.phase}", timeout=5)

    def follow(self, path: Path | None) -> None:
        """Tail the journal at ``path`` into the state (observers and operators alike)."""
        if path is None or getattr(self, "_following", None) == Path(path):
            return
        self._following = Path(path)
        self._follow_stop.set()
        self._follow_stop = stop = threading.Event()
        self.data.state = IncidentState()
        self.data.records = []
        self.run_worker(lambda: self._tail(Path(path), stop), thread=True, group="follow", exit_on_error=False)

    def _tail(self, path: Path, stop: threading.Event) -> None:
        from cockpit.journal import follow

        for rec in follow(path, stop, poll=0.2):
            if stop.is_set():
                return
            try:
                self.call_from_thread(self._fold, [rec], stop)
            except RuntimeError:
                return

    def _fold(self, batch: list[dict], stop: threading.Event | None = None) -> None:
        if stop is not None and stop.is_set():
            return  # a record of a journal we no longer follow
        st = self.data.state
        for rec in batch:
            st.apply(rec)
            if rec.get("type") != "log":
                self.data.records.append(rec)
            if rec.get("type") == "phase" and rec.get("phase") == "verify":
                self._stabilize = True  # judge only what came after the rollback
        if st.target and self.data.target is None:
            from cockpit.session import parse_target

            self._set_target(parse_target(st.target))
        if self.data.readonly and st.revision:
            self.data.history_for = None  # the observer re-reads history lazily
        self.mark("steps", "log", "checks", "phases", "bar", "comms")

    # ------------------------------------------------------------------ rendering

    def mark(self, *parts: str) -> None:
        """Coalesce redraw requests (many journal lines in a burst → one redraw)."""
        self._dirty.update(parts)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(0.05, self._flush)

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
        self._flush_timer = None
        parts, self._dirty = self._dirty, set()
        if not self.screen_stack or not self.is_running:
            return
        screen = self.screen
        show = getattr(screen, "show", None)
        if show is None:
            return
        for part in parts:
            show(part)

    def goto(self, name: str) -> None:
        if name not in SCREENS:
            return
        while len(self.screen_stack) > 2:  # close modals first
            self.pop_screen()
        if self.screen is not self.ensure_screen(name):
            self.switch_screen(name)

    def show_error(self, exc: BaseException) -> None:
        from screens.modals import ErrorModal

        if isinstance(exc, CockpitError):
            self.push_screen(ErrorModal(exc.title, exc.message, exc.hint))
        else:
            self.push_screen(ErrorModal("Unexpected error", f"{type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ actions

    def action_goto(self, name: str) -> None:
        if name == "history":
            if self.data.target is None:
                self.notify("pick a target first (enter on the list)", severity="warning")
                return
            self.load_history(self.data.target)
            if not self.data.readonly and self.session is not None:
                self._run(lambda: self._open_for_history(self.data.target))
        elif name == "comms" and self.data.comms_policy is None:
            self.load_comms(then_show=True)  # pydantic and the notify settings: in a thread
            return
        elif name == "data":
            self._start_data_poll()
        self.goto(name)

    def _open_for_history(self, target: Target) -> None:
        self.session.open_incident(target, "cockpit: history opened")
        self.call_from_thread(self.follow, self.session.journal_path)
        self.session.phase("identify", self.data.state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        from screens.keys import MUTATING_ACTIONS

        return not (self.data.readonly and action in MUTATING_ACTIONS)

    def action_help(self) -> None:
        from screens.modals import HelpScreen

        self.push_screen(HelpScreen(self.data.readonly, self.keyspecs))

    def action_back(self) -> None:
        back = getattr(self.screen, "back", None)
        if back is not None and back():
            return
        if len(self.screen_stack) > 2:
            self.pop_screen()
        elif self.screen is not self.get_screen("dashboard"):
            self.switch_screen("dashboard")

    def action_abort_auto(self) -> None:
        self.on_abort_auto(msg.AbortAuto())

    def action_toggle_arm(self) -> None:
        if not self.data.readonly:
            self.on_arm(msg.ArmToggled())

    def action_set_cockpit_theme(self, name: str) -> None:
        from cockpit.errors import ConfigError

        try:
            self.theme = choose(name)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")

    async def action_quit(self) -> None:
        self._follow_stop.set()
        self.exit(0)

    # ------------------------------------------------------------------ routing

    @on(msg.TargetPicked)
    def on_target_picked(self, m: msg.TargetPicked) -> None:
        self._set_target(m.target)

    def _set_target(self, target: Target | None) -> None:
        if target is None or target == self.data.target and "snapshot" in self.polls:
            return
        self.data.target = target
        self.data.snapshot = None
        self.data.history, self.data.diffs, self.data.decision = [], {}, None
        self.data.error_rate.points.clear()
        self.data.p95.points.clear()
        self.engine, self.sources, self.probes, self.points, self.version = None, [], [], [], None
        self.data.stale.clear()
        s = self.session
        for name in ("snapshot", "metrics"):
            if name in self.polls:
                self.polls[name].stop()
        self.polls["snapshot"] = Poll(self, "snapshot", lambda: s.snapshot(target), self._got_snapshot, 2.0,
                                      on_error=lambda e: self._source_failed("kubernetes", e)).start()
        # started by the first snapshot: building the sources imports httpx and the decision
        # engine, which must not compete with the first live frame
        self.polls["metrics"] = Poll(self, "metrics", lambda: self._sample(target), self._got_metrics, 1.0,
                                     on_error=lambda e: self._source_failed("metrics", e))
        self.mark("bar", "snapshot", "metrics")

    @on(msg.DiffWanted)
    def on_diff_wanted(self, m: msg.DiffWanted) -> None:
        self.load_diff(m.target, m.revision)

    @on(msg.RollbackConfirmed)
    def on_rollback_confirmed(self, m: msg.RollbackConfirmed) -> None:
        self.start_rollback(m.target, m.to_revision, m.images)

    def start_rollback(self, target: Target, revision: int, images: tuple[str, ...]) -> None:
        self.data.progress = None
        self.goto("rollback")
        s = self.session

        def run() -> None:
            load_step_kinds()
            s.open_incident(target, f"rollback to revision {revision}")
            self.call_from_thread(self.follow, s.journal_path)
            s.run_rollback(target, revision, images, lambda _line: None)

        self._run(run)

    @on(msg.CheckTicked)
    def on_check_ticked(self, m: msg.CheckTicked) -> None:
        who = _whoami()
        self._run(lambda: self.session.check(m.id, m.ok, who, evidence="ticked by hand", note=m.note))

    @on(msg.ExtendMonitoring)
    def on_extend(self, m: msg.ExtendMonitoring) -> None:
        self._run(lambda: self.session.record("monitoring_extended", on=m.on))

    @on(msg.ResolveWanted)
    def on_resolve(self, m: msg.ResolveWanted) -> None:
        from cockpit.checklist import all_done

        st = self.data.state
        missing = [i.title for i in self.data.checklist_items if not ((c := st.checks.get(i.id)) and c.ok)]

        def resolve() -> None:
            if st.resolved:
                return
            self.session.record("phase", phase="resolved")
            self.session.record("incident_resolved", summary="resolved from the cockpit",
                                unchecked=missing, all_checked=all_done(self.data.checklist_items, st))
            self.call_from_thread(self._offer_report)

        self._run(resolve)

    @on(msg.ArmToggled)
    def on_arm(self, m: msg.ArmToggled) -> None:
        self.auto.armed = not self.auto.armed
        if not self.auto.armed:
            self.auto.abort()
        self.data.auto_armed = self.auto.armed
        self._journal_if_open("auto_rollback", armed=self.auto.armed)
        self.mark("auto")

    @on(msg.AbortAuto)
    def on_abort_auto(self, m: msg.AbortAuto) -> None:
        if self.data.readonly:
            return
        if self.auto.abort():
            self.data.auto_remaining = None
            self.notify("automatic rollback aborted", severity="warning")
            self._journal_if_open("auto_rollback", aborted=True, reason=self.auto.reason)
            self.mark("auto")

    @on(msg.CancelRun)
    def on_cancel_run(self, m: msg.CancelRun) -> None:
        if self.session is not None:
            self.session.cancel.set()
            self.notify("cancelling the run after the current call…", severity="warning")

    # ------------------------------------------------------------------ workers

    def _run(self, fn: Any) -> None:
        """Run an operator action in a thread; its CockpitError becomes a titled modal."""
        def job() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 — shown as a modal, never a traceback
                try:
                    self.call_from_thread(self.show_error, exc)
                except RuntimeError:
                    pass

        self.run_worker(job, thread=True, group="action", exit_on_error=False)

    def _journal_if_open(self, type: str, **data: Any) -> None:
        if self.session is not None and self.session.journal is not None and not self.data.readonly:
            self._run(lambda: self.session.record(type, **data))

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def load_history(self, target: Target) -> None:
        try:
            revs = self.session.history(target)
        except CockpitError as exc:
            self.call_from_thread(self.show_error, exc)
            return
        self.call_from_thread(self._got_history, target, revs)

    def _got_history(self, target: Target, revs: list) -> None:
        self.data.history, self.data.history_for = revs, target
        self.mark("history")

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def load_diff(self, target: Target, revision: int) -> None:
        try:
            d = self.session.diff(target, revision)
        except CockpitError as exc:
            self.call_from_thread(self.notify, f"{exc.title}: {exc}", severity="error")
            return
        self.call_from_thread(self._got_diff, revision, d)

    def _got_diff(self, revision: int, d: Any) -> None:
        self.data.diffs[revision] = d
        self.mark("diff")

    # ------------------------------------------------------------------ poll deliveries

    def _got_targets(self, targets: list) -> None:
        self._fresh("kubernetes")
        if targets != self.data.targets:
            self.data.targets = targets
            self.mark("targets")

    def _got_snapshot(self, snap: Any) -> None:
        self._fresh("kubernetes")
        first = self.data.snapshot is None
        self.data.snapshot = snap
        if snap.progress != self.data.progress:
            self.data.progress = snap.progress
            self.mark("progress")
        self.mark("snapshot")
        if first:  # the first live frame: draw now, then start what can wait
            self._flush()
            metrics = self.polls.get("metrics")
            if metrics is not None and metrics.timer is None and metrics.generation == 0:
                metrics.start()
            if not getattr(self, "_warmed", False) and not self.data.readonly:
                self._warmed = True
                self.run_worker(self._warm_up, thread=True, group="warm", exit_on_error=False)
        self._checklist()

    def _warm_up(self) -> None:
        """After the first live frame: the imports a rollback and the settings will need."""
        load_step_kinds()
        self._load_comms(False)

    def _source_failed(self, name: str, exc: BaseException) -> None:
        text = f"{exc.title}: {exc}" if isinstance(exc, CockpitError) else f"{type(exc).__name__}: {exc}"
        if name not in self.data.stale:
            self.data.stale[name] = time.time()
        self.data.errors[name] = text
        self.mark("metrics")

    def _fresh(self, name: str) -> None:
        if name in self.data.stale:
            self.data.stale.pop(name, None)
            self.data.errors.pop(name, None)
            self.mark("metrics")

    def _sample(self, target: Target) -> Any:
        """Metrics poll (thread): build sources lazily, read them, tick the engine."""
        if self.engine is None:
            self.engine, self.sources, note = build_metrics(self.args, self.settings, self.session, self.world, target)
            self.data.metrics_note = note
        now = time.time()
        if getattr(self, "_stabilize", False):
            self._stabilize = False
            self.engine.stabilize(now, "the rollback")
            for source in self.sources:
                getattr(source, "reset", lambda: None)()
        window = getattr(getattr(self.settings, "watch", None), "window_s", 60.0)
        readings = [s.sample(window, now) for s in self.sources]
        decision = self.engine.tick(readings, now) if self.sources else None
        return now, readings, decision

    def _got_metrics(self, result: Any) -> None:
        from cockpit.checklist import MetricPoint, Probe

        now, readings, decision = result
        for r in readings:
            if not r.ok:
                self.data.stale.setdefault(r.source, now)
                self.data.errors[r.source] = r.error
            else:
                self._fresh(r.source)
            if r.health_ok is not None:
                self.probes.append(Probe(r.at, bool(r.health_ok)))
                del self.probes[:-200]
            if r.version:
                self.version = r.version
        self.data.decision = decision
        if decision is not None:
            s = decision.sample
            self.data.error_rate.add(now, s.error_rate)
            self.data.p95.add(now, s.p95_ms)
            self.points.append(MetricPoint(now, s.error_rate, s.p95_ms))
            del self.points[:-2000]
            if decision.trigger is not None and self.auto.fire(now, decision.trigger.reason.text):
                self._countdown()
        self.mark("metrics")
        self._checklist()

    def _countdown(self) -> None:
        now = time.time()
        self.data.auto_remaining = self.auto.remaining(now)
        self.data.auto_reason = self.auto.reason
        self.mark("auto")
        if self.auto.due(now):
            self.data.auto_remaining = None
            self.notify("automatic rollback: rolling back to the previous revision", severity="error")
            self._journal_if_open("auto_rollback", fired=True, reason=self.auto.reason)
            if self.data.target is not None:
                self.start_rollback(self.data.target, 0, ())
            return
        if self.auto.deadline is not None:
            self.set_timer(1.0, self._countdown)

    def _checklist(self) -> None:
        """Auto checks from the evidence; newly proven ones are journaled (operator only)."""
        from cockpit.checklist import Evidence, evaluate, expected_versions, ticks_to_journal
        from cockpit.runbook import DEFAULT_CHECKLIST

        st = self.data.state
        self.data.checklist_items = DEFAULT_CHECKLIST
        verify = next((p for p in st.phases if p.name == "verify"), None)
        since = verify.started.timestamp() if verify is not None and verify.started else None
        snap = self.data.snapshot
        images = tuple((st.revision or {}).get("images") or ())
        ev = Evidence(now=time.time(), since=since, progress=getattr(snap, "progress", None),
                      pods=getattr(snap, "pods", None), probes=tuple(self.probes), version=self.version,
                      expected=expected_versions(images), samples=tuple(self.points),
                      window_s=getattr(getattr(self.settings, "watch", None), "window_s", 60.0))
        auto = evaluate(ev)
        if auto != self.data.auto_results:
            self.data.auto_results = auto
            self.mark("checks")
        if since is None or self.data.readonly or self.session is None or self.session.journal is None or st.resolved:
            return
        ticks = ticks_to_journal(DEFAULT_CHECKLIST, st, auto)
        pending = getattr(self, "_pending_ticks", set())
        ticks = [t for t in ticks if (t["id"], t["ok"]) not in pending]
        if ticks:
            pending.update((t["id"], t["ok"]) for t in ticks)
            self._pending_ticks = pending

            def write() -> None:
                for t in ticks:
                    self.session.check(t["id"], t["ok"], t["who"], evidence=t["evidence"])
                    pending.discard((t["id"], t["ok"]))

            self._run(write)
        if st.phase == "verify" and all(r.ok for r in auto.values()):
            self._run(lambda: self.session.phase("monitor", self.data.state))

    # ------------------------------------------------------------------ team communication

    @work(thread=True, exclusive=True, group="comms-load", exit_on_error=False)
    def load_comms(self, then_show: bool = False) -> None:
        self._load_comms(then_show)

    def _load_comms(self, then_show: bool) -> None:
        """The notify settings (pydantic) and the comms screen's module, in a thread."""
        import importlib

        try:
            ns = notify_settings(self.settings)
            importlib.import_module("screens.comms")
        except Exception as exc:  # noqa: BLE001 — a titled modal, never a traceback
            self.call_from_thread(self.show_error, exc)
            return
        try:
            self.call_from_thread(self._comms_loaded, ns.policy(), ns.configured_channels(), then_show)
        except RuntimeError:
            pass

    def _comms_loaded(self, policy: Any, channels: list[str], then_show: bool) -> None:
        first = self.data.comms_policy is None
        self.data.comms_policy, self.data.comms_channels = policy, channels
        if first:
            self.set_interval(5.0, self._comms_tick)
        if then_show:
            self.goto("comms")
        self.mark("comms")

    def _comms_tick(self) -> None:
        """A toast when a comms item falls due (once per item and due time)."""
        from cockpit.comms import plan

        if self.data.comms_policy is None or not self.data.records:
            return
        from datetime import datetime, timezone

        for due in plan(self.data.records, self.data.comms_policy).due_now(datetime.now(timezone.utc)):
            key = (due.key, due.due_at.isoformat())
            if key not in self._comms_announced:
                self._comms_announced.add(key)
                what = "periodic update" if due.kind == "update" else f"escalation {due.level}"
                self.notify(f"comms: the {what} is due — t opens the comms panel", severity="warning", timeout=8)

    @on(msg.CommsWanted)
    def on_comms_wanted(self, m: msg.CommsWanted) -> None:
        if self.data.readonly or self.session is None:
            return
        s = self.session
        if s.journal is None:
            self.notify("no incident is open: nothing to send yet", severity="warning")
            return
        if m.action == "skip":
            self._run(lambda: (s.comms_skip(m.item), self.call_from_thread(self.notify, "skipped (journaled)")))
            return
        if not self.data.comms_channels:
            self.notify("no notification channel is configured (see the comms panel)", severity="warning")
            return
        if m.action == "edit":
            def preview() -> None:
                due, text = s.comms_preview(m.item)
                self.call_from_thread(self._edit, due.key, text)

            self._run(preview)
        else:
            self._send(m.item, None)

    def _edit(self, item: str, text: str) -> None:
        from screens.modals import EditMessage

        def done(edited: str | None) -> None:
            if edited is not None and edited.strip():
                self._send(item, edited)

        self.push_screen(EditMessage(item, text), done)

    def _send(self, item: str | None, text: str | None) -> None:
        self.data.comms_busy = f"sending {item or 'the next item'}…"
        self.mark("comms")

        def job() -> None:
            deliveries = None
            try:
                deliveries = self.session.comms_send(item, text)
            finally:
                self.call_from_thread(self._sent, deliveries)

        self._run(job)

    def _sent(self, deliveries: list | None) -> None:
        self.data.comms_busy = ""
        self.mark("comms")
        for d in deliveries or ():
            if d.ok:
                self.notify(f"sent on {d.channel}", timeout=4)
            else:
                self.notify(f"{d.channel}: not delivered ({d.detail})", severity="error", timeout=10)

    # ------------------------------------------------------------------ the incident report

    def _offer_report(self) -> None:
        from screens.modals import ReportPrompt

        def answer(yes: bool | None) -> None:
            if yes:
                self.write_report()

        self.push_screen(ReportPrompt(), answer)

    @on(msg.ReportWanted)
    def on_report_wanted(self, m: msg.ReportWanted) -> None:
        if not self.data.state.resolved:
            self.notify("the report is written once the incident is resolved (checklist: R)", severity="warning")
            return
        self.write_report()

    def write_report(self) -> None:
        """Show the dashboard, take its SVG screenshot on the event loop (rendering only),
        then write the screenshot and the report next to the journal in a thread."""
        if self.data.readonly or self.session is None or self.session.journal is None:
            return
        back = next((n for n in SCREENS if self.is_screen_installed(n) and self.get_screen(n) is self.screen), None)
        self.goto("dashboard")

        def shoot() -> None:
            try:
                svg = self.export_screenshot(title="Rollback Cockpit — resolved")
            except Exception:  # noqa: BLE001 — the report is worth more than its picture
                svg = None
            if back and back != "dashboard":
                self.goto(back)
            self._run(lambda: self.call_from_thread(self._report_written, self.session.write_report(svg)))

        self.set_timer(0.3, shoot)

    def _report_written(self, path: Path) -> None:
        from textual.content import Content

        from screens.modals import InfoModal
        from screens.render import text

        self.data.report_path = str(path)
        self.mark("comms")
        self.push_screen(InfoModal("Incident report written", Content.assemble(
            text(str(path), 1000, "bold"), ("\n\nscreenshot: ", "$text-muted"),
            text(str(path.with_name(path.name.replace(".report.md", ".dashboard.svg"))), 1000, "$text-muted"))))

    # ------------------------------------------------------------------ the data layer

    def _start_data_poll(self) -> None:
        s = self.session
        if s is None or s.postgres is None or "data" in self.polls:
            self.mark("data", "redis")
            return

        def active() -> bool:
            return self.is_screen_installed("data") and self.screen is self.get_screen("data")

        self.polls["data"] = Poll(self, "data", s.data_snapshot, self._got_data, 5.0, active=active,
                                  on_error=lambda e: self._source_failed("postgres", e)).start()

    def _got_data(self, snap: Any) -> None:
        self._fresh("postgres")
        self.data.data_snapshot = snap
        self.mark("data")

    @on(msg.RedisCountWanted)
    def on_redis_count(self, m: msg.RedisCountWanted) -> None:
        if self.session is None or self.session.redis is None:
            return
        if self.data.redis_running:
            self.notify("an invalidation is running (ctrl+x cancels it)", severity="warning")
            return
        self.data.redis_count = None
        self.data.redis_log.append(f"{time.strftime('%H:%M:%S')} dry run {m.pattern}")
        self.mark("redis")
        s = self.session

        def job() -> None:
            with self._redis_lock:
                result = s.redis_count(m.pattern)
            self.call_from_thread(self._counted, result)

        self._run(job)

    def _counted(self, result: Any) -> None:
        self.data.redis_count = result
        self.data.redis_log.append(f"{time.strftime('%H:%M:%S')} dry run: {result.matched} of {result.dbsize} keys match")
        self.mark("redis")

    @on(msg.InvalidateConfirmed)
    def on_invalidate(self, m: msg.InvalidateConfirmed) -> None:
        if self.data.readonly or self.session is None or self.data.redis_running:
            return
        self.data.redis_running = True
        self.data.redis_progress = None
        self._redis_cancel = cancel = threading.Event()
        self.data.redis_log.append(f"{time.strftime('%H:%M:%S')} invalidating {m.pattern} on {self.data.redis_server}"
                                   f"/{self.data.redis_db}")
        self.mark("redis")
        s = self.session
        last_sent = [0.0]

        def progress(p: Any) -> None:
            now = time.monotonic()
            if p.done or now - last_sent[0] >= 0.2:  # back-pressure: at most five redraws a second
                last_sent[0] = now
                self.call_from_thread(self._invalidate_progress, p)

        def job() -> None:
            try:
                with self._redis_lock:
                    s.redis_invalidate(m.pattern, cancel, progress)
            finally:
                self.call_from_thread(self._invalidate_finished)

        self._run(job)

    def _invalidate_progress(self, p: Any) -> None:
        self.data.redis_progress = p
        line = (f"{time.strftime('%H:%M:%S')} matched {p.matched} deleted {p.deleted} ({p.rate:,.0f}/s)"
                + (f" — done, {p.remaining} still matching" if p.done and p.remaining is not None else ""))
        self.data.redis_log.append(line)
        del self.data.redis_log[:-500]
        self.mark("redis")

    def _invalidate_finished(self) -> None:
        self.data.redis_running = False
        self.mark("redis")

    @on(msg.CancelInvalidate)
    def on_cancel_invalidate(self, m: msg.CancelInvalidate) -> None:
        if self.data.redis_running:
            self._redis_cancel.set()
            self.notify("cancelling the invalidation after the current batch…", severity="warning")

    def on_unmount(self) -> None:
        self._redis_cancel.set()
        self._follow_stop.set()
        for p in self.polls.values():
            p.stop()
        if self.session is not None:
            self.session.close()
        for s in self.sources:
            close = getattr(s, "close", None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass
        if self.world is not None:
            self.world.stop()


# ---------------------------------------------------------------------- building


def load_step_kinds() -> None:
    """Register every backend's step kinds (imports pydantic models, httpx, psycopg glue:
    ~0.4 s). Not on the path to the first frame: a worker warms it up after the first live
    frame, and every path that parses a runbook calls it first (idempotent)."""
    from cockpit.cli import load_step_kinds as load

    load()


def _whoami() -> str:
    from cockpit.journal import default_actor

    return default_actor()


def build_session(args: argparse.Namespace, world_factory: Any = None, app: Any = None) -> Any:
    """The drill world (if asked) and the backends, built readonly when ``--readonly``."""
    from backends.kubernetes.backend import connect
    from cockpit.journal import state_dir
    from cockpit.session import Session

    kubeconfig, context = getattr(args, "kubeconfig", None), getattr(args, "context", None)
    drill = bool(getattr(args, "drill", False))
    state_root = None
    if drill:
        speed = float(os.environ.get("COCKPIT_DRILL_SPEED", "1") or 1)
        world = getattr(args, "drill_world", None)
        if world is None and world_factory is not None:  # tests: a world in this process
            world = world_factory(args.scenario or "bad-image", speed=speed).start()
        elif world is None:
            from cockpit.world.process import WorldProcess

            world = args.drill_world = WorldProcess(args.scenario or "bad-image", speed=speed).start()
        if hasattr(world, "wait_ready"):
            world.wait_ready()
        if app is not None:
            app.world = world
        kubeconfig = str(world.write_kubeconfig(Path(tempfile.mkdtemp(prefix="cockpit-drill-")) / "kubeconfig"))
        context = None
        state_root = state_dir() / "drills"
    backend = connect(kubeconfig, context, getattr(args, "namespace", None), readonly=bool(getattr(args, "readonly", False)))
    drill_goal = None
    if drill and isinstance(getattr(world, "goal", None), tuple):  # a world process names it when ready
        drill_goal = Target(world.goal[1], world.goal[0])
    elif drill:  # an in-process world (tests); here, in the worker: the scenario costs a pydantic import
        goal = getattr(world.scenario, "goal", None)
        if goal is not None and goal.deployment:
            drill_goal = Target(goal.deployment, goal.namespace)
    readonly = bool(getattr(args, "readonly", False))
    settings = getattr(app, "settings", None)
    session = Session(backend=backend, readonly=readonly, journal_path=getattr(args, "journal", None), drill=drill,
                      state_root=state_root, drill_goal=drill_goal, notifier_factory=notifier_factory(settings, readonly))
    build_data_backends(session, settings)
    return session


def notify_settings(settings: Any) -> Any:
    """The ``notify`` section: from the loaded settings, else defaults ← file ← env."""
    ns = getattr(settings, "notify", None)
    if ns is None:
        from cockpit.comms import load_notify_settings

        ns = load_notify_settings()
    return ns


def notifier_factory(settings: Any, readonly: bool) -> Any:
    """``journal → Notifier`` for the session (built readonly when the session is)."""
    def make(journal: Any) -> Any:
        from backends.notify.notifier import Notifier

        return Notifier(notify_settings(settings), journal=journal, readonly=readonly)

    return make


def build_data_backends(session: Any, settings: Any) -> None:
    """PostgreSQL and Redis from the ``data`` section (built readonly when the session is);
    a bad DSN or URL is a note for the operator, not a failed start."""
    from cockpit.journal import state_dir

    cfg = getattr(settings, "data", None)
    session.data_errors = {}
    if cfg is None:
        return
    session.backups_dir = cfg.backups_dir or state_dir() / "backups"
    session.long_tx_older_than_s = cfg.long_tx_older_than_s
    if cfg.postgres_dsn is not None:
        from backends.postgres.client import PostgresBackend

        try:
            session.backends["postgres"] = PostgresBackend(cfg.postgres_dsn.get_secret_value(), readonly=session.readonly)
        except CockpitError as exc:
            session.data_errors["postgres"] = f"{exc.title}: {exc.message}"
    if cfg.redis_url is not None:
        from backends.redis.client import RedisBackend

        try:
            session.backends["redis"] = RedisBackend(cfg.redis_url.get_secret_value(), readonly=session.readonly)
        except CockpitError as exc:
            session.data_errors["redis"] = f"{exc.title}: {exc.message}"


def build_metrics(args: Any, settings: Any, session: Any, world: Any, target: Target) -> tuple[Any, list, str]:
    """The decision engine and the metrics sources for ``target`` (imported lazily: httpx)."""
    from cockpit.decision import Engine, Policy

    policy = Policy.from_settings(settings) if settings is not None else Policy()
    engine = Engine(policy)
    sources: list = []
    mcfg = getattr(settings, "metrics", None)
    url = None
    if world is not None:
        try:
            url = world.service_url(target.namespace, target.name)
        except CockpitError:
            url = None
    elif mcfg is not None and mcfg.scrape.url:
        url = mcfg.scrape.url.rsplit("/metrics", 1)[0]
    try:
        if mcfg is not None and mcfg.source == "prometheus" and mcfg.prometheus.url:
            from backends.metrics.prometheus import PrometheusClient, PrometheusSource

            p = mcfg.prometheus
            client = PrometheusClient(p.url, timeout=p.timeout_s, username=p.username, password=p.password, token=p.token)
            sources.append(PrometheusSource(client, namespace=target.namespace, deployment=target.name, selector=p.selector))
        elif url:
            from backends.metrics.scrape import ScrapeSource

            sources.append(ScrapeSource(url + "/metrics"))
        if url:
            from backends.metrics.probe import ProbeSource

            sources.append(ProbeSource(url))
        from backends.metrics.crashes import CrashSource

        sources.append(CrashSource(session.backend, target))
    except Exception as exc:  # noqa: BLE001 — a missing source makes the verdict inconclusive, not a crash
        return engine, sources, f"metrics: {type(exc).__name__}: {exc}"
    note = "" if url else "no metrics source configured for this target (see README: metrics)"
    return engine, sources, note


_NOT_SETTINGS = {"COCKPIT_DRILL_SPEED", "COCKPIT_KUBE_CLIENT", "COCKPIT_PG_BINDIR"}


def config_present(env: dict[str, str] | None = None) -> bool:
    """Is there any configuration to read: a config file or a ``COCKPIT_`` settings variable?

    Without any, the settings are the defaults, which every consumer here also assumes for
    ``settings=None`` — so pydantic (~0.3 s) is not imported at all. With some, they are loaded before the TUI starts,
    so a bad value is one clear line on stderr (file, key, expected) and not a modal.
    """
    env = dict(os.environ if env is None else env)
    if any(k.startswith("COCKPIT_") and k not in _NOT_SETTINGS for k in env):
        return True  # includes COCKPIT_CONFIG_FILE
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return (Path(base) / "cockpit" / "config.yaml").exists()  # cockpit.config.default_config_file


def run_app(args: argparse.Namespace) -> int:
    """``cockpit`` without a subcommand: the full-screen app."""
    settings = None
    keymap: dict[str, str] = {}
    if config_present():
        from cockpit.config import load_settings

        settings = load_settings()  # ConfigError: one line on stderr, exit 2 (cli.main)
        keymap = dict(getattr(getattr(settings, "ui", None), "keys", None) or {})
    if getattr(args, "follow", None) is not None:
        args.readonly = True
    app = CockpitApp(args, settings=settings, keymap=keymap)
    app.run()
    return app.return_code or 0
