"""The full-screen cockpit (Textual): it hosts the controllers and routes, nothing more.

The backends come from :mod:`cockpit.compose` (in a worker after the first frame, readonly
below the UI); the logic is in the Textual-free :mod:`cockpit.controllers`, for which this
app is the host (:class:`cockpit.controllers.host.Host`: redraws, toasts, threads, dolphie
polls); screens are installed the first time they are shown, and their messages are routed
to the controllers. Nothing heavy sits on the path to the first frame: httpx and the decision
engine load with the first metrics poll, the notify settings and step kinds after it.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding

from cockpit import compose
from cockpit.errors import CockpitError
from cockpit.keymap import DEFAULTS, apply_overrides
from cockpit.model import Target
from screens import SCREENS, command_provider, flows, screen_class
from screens import messages as msg
from screens.data import UIData
from screens.fleet_host import FleetHost
from screens.helm_host import HelmHost
from screens.keys import bindings
from screens.poll import Poll
from screens.scorecard import DrillScoreHost
from themes import ASCII_CSS_PATH, CSS_PATH, choose, load_themes


class CockpitApp(DrillScoreHost, FleetHost, HelmHost, App):  # mixins: a drill's keys and score card; the fleet's routes
    TITLE = "Rollback Cockpit"
    CSS_PATH = [CSS_PATH]
    BINDINGS = [*bindings("app"), Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {command_provider}

    def __init__(self, args: argparse.Namespace, *, session: Any = None, settings: Any = None,
                 world_factory: Any = None, keymap: dict[str, str] | None = None) -> None:
        if getattr(args, "ascii", False):
            self.CSS_PATH = [CSS_PATH, ASCII_CSS_PATH]
        super().__init__()
        self.args, self.settings, self.session, self.world_factory = args, settings, session, world_factory
        self.world: Any = None
        readonly = bool(getattr(args, "readonly", False))
        self.data = UIData(readonly=readonly, ascii=bool(getattr(args, "ascii", False)), decision_config=getattr(settings, "decision", None),
                           drill=(getattr(args, "scenario", None) or "…") if getattr(args, "drill", False) else None)
        self.polls: dict[str, Poll] = {}
        self._dirty: set[str] = set()
        self._flush_timer = None
        compose.wire_controllers(self, settings, readonly)  # incident, live, answers, checklist, cluster, comms…
        self.user_keymap = keymap or {}
        self.keyspecs = apply_overrides(DEFAULTS, self.user_keymap)  # the help screen shows the user's keys
        for theme in load_themes():
            self.register_theme(theme)
        self.theme = choose(getattr(args, "theme", None))

    # ------------------------------------------------------------------ composition

    def on_mount(self) -> None:
        self.setup()

    def setup(self) -> None:
        """Install the dashboard and connect (in a worker, after the first frame)."""
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.ensure_screen("dashboard")
        self.push_screen("dashboard")
        if self.session is not None:
            self._connected(self.session, None, compose.DataBackends())
        elif self.data.drill and self.world_factory is None and getattr(self.args, "drill_world", None) is None:
            self.fetch("leftovers", compose.drill_leftovers, self._drill_leftovers)  # a crashed drill to resume?
        else:
            self._begin()

    def _drill_leftovers(self, left: list) -> None:
        flows.offer_drill_resume(self, left, compose.adopt_drill, compose.abandon_drill, self._begin)

    def _begin(self) -> None:
        if self.data.drill and not getattr(self.args, "scenario", None):
            from screens.modals import ScenarioPicker

            self.push_screen(ScenarioPicker(compose.drill_scenarios()), self._scenario_picked)
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
        """The drill world if asked, the backends (readonly or not) and the data stores."""
        try:
            session, self.world, stores = compose.build_cockpit(self.args, self.settings, self.world_factory)
        except CockpitError as exc:
            self.call_from_thread(self.show_error, exc)
            return
        self.call_from_thread(self._connected, session, self.world, stores)

    def _connected(self, session: Any, world: Any, stores: Any) -> None:
        self.session, self.world, self.incident.session, self.datalayer.stores = session, world, session, stores
        self.data.readonly = session.readonly
        session.ask = flows.ask_from_worker(self, session.cancel)  # a step's question (a traffic shift that got worse)
        self.data.context = getattr(session.backend, "context", "")
        for part, text in self.datalayer.show_stores().items():
            self.notify(f"{part}: {text}", severity="error", timeout=10)
        if session.backend is None:  # an observer without a cluster: the journal is all there is
            self.data.metrics_note = f"from the journal only ({session.cluster_note})"
            self.notify(f"{session.cluster_note}; showing the incident from its journal", timeout=10)
        else:
            self.cluster.connect(session)
        self.incident.start(follow=getattr(self.args, "follow", None), journal=getattr(self.args, "journal", None),
                            offer=self._offer_resume,
                            choose=lambda incidents, then: flows.choose_incident(self, incidents, then))
        if session.drill_goal is not None and self.data.target is None:  # a drill starts on its deployment
            self.cluster.pick(session.drill_goal)
            self.drill.start()
        if getattr(self.args, "drill_resume", False):  # the operator chose to resume a crashed drill
            self.args.drill_resume = False
            flows.resume(self, Path(self.args.journal), compose.load_step_kinds)

    # ------------------------------------------------------------------ the incident: follow, observe, resume

    def _opened(self, journal: Any, target: Target) -> None:
        """*Thread.* This session opened an incident: the backlog behind it; a drill's world keeps its name."""
        self.live.opened(journal, target)
        getattr(self.world, "claim", lambda path: None)(journal.path)

    def _show_target(self, target: Target) -> None:
        if self.session is not None and self.session.backend is None:
            self.data.target = target  # nothing to poll: the journal draws it
            self.mark("bar", "metrics")
        else:
            self.cluster.pick(target)

    def incident_arrived(self) -> None:
        self.post_message(msg.IncidentArrived())  # thread-safe and non-blocking: one drain per burst

    def on_incident_arrived(self, m: msg.IncidentArrived) -> None:
        if self.incident.drain():
            self.answers.sync()

    def _offer_resume(self, path: Path, description: str) -> None:
        flows.offer_resume(self, path, description, compose.load_step_kinds)

    # ------------------------------------------------------------------ the host of the controllers

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
        show = getattr(self.screen, "show", None) if self.screen_stack and self.is_running else None
        for part in parts if show is not None else ():
            show(part)

    def notify(self, message: str, *, title: str = "", severity: str = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Toasts carry outside text (errors, delivery details): never markup unless asked."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def run_in_thread(self, fn: Any) -> None:
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

    def fetch(self, group: str, fn: Any, deliver: Any, failed: Any = None) -> None:
        """``fn()`` in a thread (one at a time per ``group``), ``deliver(result)`` on the event
        loop; an exception goes to ``failed`` (default: a titled modal)."""
        def job() -> None:
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 — shown, never a traceback
                try:
                    self.call_from_thread(failed or self.show_error, exc)
                except RuntimeError:
                    pass  # the app is shutting down
                return
            self.call_from_thread(deliver, result)

        self.run_worker(job, thread=True, exclusive=True, group=group, exit_on_error=False)

    def poll(self, name: str, fetch: Any, deliver: Any, interval: float, *, on_error: Any = None, active: Any = None,
             start: bool = True) -> Poll:
        if name in self.polls:
            self.polls[name].stop()
        self.polls[name] = p = Poll(self, name, fetch, deliver, interval, on_error=on_error, active=active)
        return p.start() if start else p

    def polling(self, name: str) -> bool:
        return name in self.polls

    def first_live_frame(self) -> None:
        self._flush()
        metrics = self.polls.get("metrics")
        if metrics is not None and metrics.timer is None and metrics.generation == 0:
            metrics.start()
        if not getattr(self, "_warmed", False) and not self.data.readonly:
            self._warmed = True  # the imports a rollback and the comms panel will need
            self.run_worker(compose.load_step_kinds, thread=True, group="warm", exit_on_error=False)
            self.comms.start(prepare=lambda: screen_class("comms"))  # pydantic, and the screen's module

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
            if self.session is not None and self.session.backend is None:
                self.notify(f"{self.session.cluster_note}: the revision history needs the cluster", severity="warning")
                return
            if not self.cluster.history():  # browsing: no lock, no incident opened
                self.notify("pick a target first (enter on the list)", severity="warning")
                return
            if self.session is not None and self.session.target == self.data.target and self.data.state.phase == "declare":
                self.incident.record_if_open("phase", phase="identify")
        elif name == "comms" and self.data.comms_policy is None:
            self.comms.start(lambda: self.goto("comms"), lambda: screen_class("comms"))  # pydantic: in a thread
            return
        elif name == "data":
            self.datalayer.start(active=lambda: self.is_screen_installed("data") and self.screen is self.get_screen("data"))
        self.goto(name)

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

    def action_abort_auto(self, m: Any = None) -> None:
        self.live.abort()

    def action_toggle_arm(self, m: Any = None) -> None:
        if not self.data.readonly:
            self.live.toggle_arm()

    on_abort_auto, on_arm_toggled = action_abort_auto, action_toggle_arm  # the screens' messages: the same

    def action_set_cockpit_theme(self, name: str) -> None:
        from cockpit.errors import ConfigError

        try:
            self.theme = choose(name)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")

    async def action_quit(self) -> None:
        flows.quit_or_ask(self, self._quit)

    def _quit(self) -> None:
        if self.session is not None:
            self.session.cancel.set()  # a rollback's wait stops after its current call: nothing sent is undone
        self.incident.stop()
        self.exit(0)

    # ------------------------------------------------------------------ routes: the screens' messages → controllers

    def on_target_picked(self, m: msg.TargetPicked) -> None:
        self.cluster.pick(m.target)

    def on_history_wanted(self, m: msg.HistoryWanted) -> None:
        self.cluster.history_wanted(m.target)

    def on_diff_wanted(self, m: msg.DiffWanted) -> None:
        self.cluster.diff(m.target, m.revision)

    def on_rollback_confirmed(self, m: msg.RollbackConfirmed) -> None:
        self.start_rollback(m.target, m.to_revision, m.images)

    def start_rollback(self, target: Target, revision: int, images: tuple[str, ...], **why: str) -> None:
        """Roll ``target`` back (its incident opens now: the operator acted); ``why=``/``reason=``."""
        self.data.progress, self.data.rollback_asked_at = None, time.time()
        self.goto("rollback")
        self.run_in_thread(lambda: self.incident.roll_back(target, revision, images, prepare=compose.load_step_kinds, **why))

    def on_cancel_run(self, m: msg.CancelRun) -> None:
        self.incident.cancel_run()

    def on_answers_given(self, m: Any) -> None:
        self.answers.give(m.answers)

    def on_check_ticked(self, m: msg.CheckTicked) -> None:
        self.checklist.tick(m.id, m.ok, m.note)

    def on_extend_monitoring(self, m: msg.ExtendMonitoring) -> None:
        self.checklist.extend(m.on)

    def on_resolve_wanted(self, m: msg.ResolveWanted) -> None:
        self.checklist.resolve(lambda: self.drill.score(lambda: flows.offer_report(self)), open_checks=m.open_checks)

    def on_comms_wanted(self, m: msg.CommsWanted) -> None:
        from screens.modals import EditMessage

        def edit(item: str, text: str) -> None:
            self.push_screen(EditMessage(item, text),
                             lambda edited: self.comms.send_async(item, edited) if edited and edited.strip() else None)

        self.comms.want(m.action, m.item, edit)

    def on_report_wanted(self, m: msg.ReportWanted) -> None:
        if not self.data.state.resolved:
            self.notify("the report is written once the incident is resolved (checklist: R)", severity="warning")
        elif not self.data.readonly and self.reports.possible:
            self.write_report()

    def write_report(self) -> None:
        flows.write_report(self)

    def on_redis_count_wanted(self, m: msg.RedisCountWanted) -> None:
        self.datalayer.count(m.pattern)

    def on_invalidate_confirmed(self, m: msg.InvalidateConfirmed) -> None:
        self.datalayer.invalidate(m.pattern)

    def on_cancel_invalidate(self, m: msg.CancelInvalidate) -> None:
        self.datalayer.cancel()

    def on_unmount(self) -> None:
        self.datalayer.cancel_event.set()
        self.incident.stop()
        for p in self.polls.values():
            p.stop()
        if self.session is not None:
            self.session.close()
        self.live.close()
        if self.world is not None:
            self.world.stop()


def run_app(args: argparse.Namespace) -> int:
    """``cockpit`` without a subcommand: the full-screen app."""
    settings, keymap = compose.app_settings()
    if getattr(args, "follow", None) is not None:
        args.readonly = True
    app = CockpitApp(args, settings=settings, keymap=keymap)
    app.run()
    return app.return_code or 0
