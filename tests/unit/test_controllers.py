"""The full-screen cockpit's controllers without a terminal: the incident follower and the
incident opened when the operator acts (never when browsing), the cluster view, the
checklist and the report writer — against real journal files.

``InlineHost`` is the controllers' host without Textual: work meant for a thread runs inline,
timers and polls are recorded for the test to fire. It is a plain implementation of
:class:`cockpit.controllers.host.Host`, not a stand-in for a server.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cockpit.controllers.checklist import ChecklistRunner
from cockpit.controllers.cluster import ClusterView
from cockpit.controllers.incident import Incident, IncidentFollower, observed_journal, resumable_journal
from cockpit.controllers.report import ReportWriter, screenshot_path
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.journal import Journal, read_journal
from cockpit.model import Target
from cockpit.session import Session
from screens.data import UIData

TARGET = Target("checkout", "shop")


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    """The host-wide lock file (no Lease without a cluster) in this test's own directory."""
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


class InlineHost:
    def __init__(self) -> None:
        self.marked: set[str] = set()
        self.toasts: list[tuple[str, str]] = []
        self.errors: list[BaseException] = []
        self.timers: list[tuple[float, object]] = []
        self.intervals: list[tuple[float, object]] = []
        self.polls: dict[str, dict] = {}
        self.fetches: list[str] = []
        self.first_frames = 0
        self.wakes = 0
        self.woken = threading.Event()

    def mark(self, *parts: str) -> None:
        self.marked.update(parts)

    def notify(self, message: str, *, severity: str = "information", timeout: float | None = None) -> None:
        self.toasts.append((severity, message))

    def run_in_thread(self, fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 — the app shows it as a modal
            self.errors.append(exc)

    def call_from_thread(self, fn, *args):
        return fn(*args)

    def set_timer(self, delay: float, fn) -> None:
        self.timers.append((delay, fn))

    def set_interval(self, interval: float, fn) -> None:
        self.intervals.append((interval, fn))

    def poll(self, name, fetch, deliver, interval, *, on_error=None, active=None, start=True):
        self.polls[name] = {"fetch": fetch, "deliver": deliver, "interval": interval, "on_error": on_error,
                            "active": active, "started": start}

    def polling(self, name: str) -> bool:
        return name in self.polls

    def run_poll(self, name: str) -> None:
        """One round of poll ``name``, as the app's Poll does it (fetch, then deliver or on_error)."""
        p = self.polls[name]
        try:
            result = p["fetch"]()
        except Exception as exc:  # noqa: BLE001
            p["on_error"](exc)
            return
        p["deliver"](result)

    def fetch(self, group, fn, deliver, failed=None) -> None:
        self.fetches.append(group)
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001
            (failed or self.errors.append)(exc)
            return
        deliver(result)

    def first_live_frame(self) -> None:
        self.first_frames += 1

    def incident_arrived(self) -> None:
        self.wakes += 1
        self.woken.set()


def wait_for(cond, what: str, timeout: float = 10.0) -> None:
    """Wait until ``cond()`` (the follower's thread reads the file); fails naming ``what``."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not reached: {what}")
        time.sleep(0.01)


def write_incident(path: Path, n_logs: int = 0) -> Journal:
    j = Journal.open(path)
    j.append("incident_opened", target=str(TARGET), kind="deployment", reason="test")
    j.append("phase", phase="declare")
    for i in range(n_logs):
        j.append("log", step=0, line=f"line {i}")
    return j


# --------------------------------------------------------------------------- the follower


def test_follower_folds_a_burst_in_one_drain_after_one_wake(tmp_path):
    j = write_incident(tmp_path / "i.jsonl", n_logs=200)
    j.append("phase", phase="verify")
    host = InlineHost()
    f = IncidentFollower(host.incident_arrived, poll=0.02)
    try:
        assert f.follow(j.path) is True
        assert f.follow(j.path) is False  # already followed: nothing restarts
        wait_for(lambda: f.waiting == 203, "the whole file read by the tail thread")
        assert host.wakes == 1  # one wake-up for the whole burst
        folded = f.drain()
        assert folded.count == 203 and folded.verify_entered and folded.target == "shop/checkout"
        assert f.state.phase == "verify" and f.state.log_count == 200
        assert [r["type"] for r in f.records] == ["incident_opened", "phase", "phase"]  # logs stay in the state
        assert f.drain() is None

        j.append("check", id="smoke_tests", ok=True, who="alice@bastion", evidence="by hand")
        wait_for(lambda: f.waiting == 1, "the appended record")
        assert host.wakes == 2
        folded = f.drain()
        assert folded.count == 1 and not folded.verify_entered and f.state.checks["smoke_tests"].ok
    finally:
        f.stop()
        j.close()


def test_follower_switching_journals_starts_over_and_drops_the_old_ones_records(tmp_path):
    a = write_incident(tmp_path / "a.jsonl")
    b = Journal.open(tmp_path / "b.jsonl")
    b.append("incident_opened", target="shop/cart", kind="deployment", reason="test")
    host = InlineHost()
    f = IncidentFollower(host.incident_arrived, poll=0.02)
    try:
        f.follow(a.path)
        wait_for(lambda: f.waiting == 2, "a's records")
        f.follow(b.path)  # a's pending records were never folded: they are dropped
        a.append("phase", phase="identify")
        wait_for(lambda: f.waiting == 1, "b's record")
        folded = f.drain()
        assert folded.count == 1 and folded.target == "shop/cart" and f.state.phase is None
    finally:
        f.stop()
        a.close()
        b.close()


# --------------------------------------------------------------------------- the incident: acting, not browsing


def session(tmp_path, **kw) -> Session:
    return Session(backend=None, journal_path=tmp_path / "incident.jsonl", **kw)


def test_record_if_open_never_opens_an_incident_and_open_for_needs_a_target(tmp_path):
    host = InlineHost()
    data = UIData()
    inc = Incident(host, data, session(tmp_path))
    inc.record_if_open("phase", phase="identify")  # e.g. history browsed: nothing to record into
    assert not inc.is_open and not (tmp_path / "incident.jsonl").exists() and not host.errors
    with pytest.raises(CockpitError) as err:
        inc.open_for(None, "a tick")  # acting with no target on screen: said, nothing opened
    assert "no target" in err.value.message and "pick a deployment" in err.value.hint
    assert not (tmp_path / "incident.jsonl").exists()


def test_acting_opens_the_incident_for_the_target_on_screen_once_and_follows_it(tmp_path):
    host = InlineHost()
    data = UIData()
    s = session(tmp_path)
    inc = Incident(host, data, s)
    try:
        journal = inc.open_for(TARGET, "checklist: smoke_tests ticked")
        assert inc.open_for(Target("cart", "shop"), "another act") is journal  # the open incident, not a second one
        inc.record_if_open("phase", phase="identify")
        assert inc.follower.path == journal.path and data.state is inc.follower.state
        wait_for(lambda: inc.follower.waiting == 3, "incident_opened, declare, identify")
        inc.drain()
        assert data.state.target == "shop/checkout" and data.state.phase == "identify"
        assert {"steps", "checks", "comms"} <= host.marked
        opened = [r for r in read_journal(journal.path) if r["type"] == "incident_opened"]
        assert len(opened) == 1 and opened[0]["reason"] == "checklist: smoke_tests ticked"
    finally:
        inc.stop()
        s.close()


def test_readonly_opens_nothing(tmp_path):
    host = InlineHost()
    inc = Incident(host, UIData(readonly=True), session(tmp_path, readonly=True))
    with pytest.raises(ReadonlyError):
        inc.open_for(TARGET, "x")
    inc.record_if_open("phase", phase="identify")
    assert not (tmp_path / "incident.jsonl").exists() and not host.errors


def test_drain_shows_the_incidents_target_and_stabilizes_after_verify(tmp_path):
    j = write_incident(tmp_path / "i.jsonl")
    j.append("phase", phase="verify")
    host = InlineHost()
    picked, verified = [], []
    inc = Incident(host, UIData(readonly=True), on_verify=lambda: verified.append(1), on_target=picked.append)
    try:
        inc.follow(j.path)
        wait_for(lambda: inc.follower.waiting == 3, "three records")
        inc.drain()
        assert picked == [TARGET] and verified == [1]
    finally:
        inc.stop()
        j.close()


def test_which_journal_an_observer_follows_and_an_operator_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert observed_journal(None) is None and resumable_journal(None) is None
    incidents = tmp_path / "state" / "cockpit" / "incidents"
    incidents.mkdir(parents=True)
    old = write_incident(incidents / "20240501T120000Z-shop_cart.jsonl")
    new = write_incident(incidents / "20240501T130000Z-shop_checkout.jsonl")
    done = write_incident(incidents / "20240501T140000Z-shop_api.jsonl")
    done.append("incident_resolved", summary="done")
    for j in (old, new, done):
        j.close()
    assert observed_journal(None) == new.path  # the newest open one
    assert observed_journal(old.path) == old.path  # --follow wins
    assert resumable_journal(None) == new.path
    assert resumable_journal(old.path) == old.path  # --journal, when it exists
    assert resumable_journal(tmp_path / "missing.jsonl") == new.path
    # a fleet rollback's journal (many targets in one file) is never offered as one target's incident
    fleet = Journal.open(incidents / "20240501T150000Z-fleet.jsonl")
    fleet.append("fleet_planned", targets=[], selector="app=shop")
    fleet.append("incident_opened", target="shop/cart", kind="deployment", reason="fleet", member="east/shop/cart")
    fleet.close()
    assert resumable_journal(None) == new.path


# --------------------------------------------------------------------------- the cluster view


def live_controller(host, data):
    """The real live controller with no metrics source (its verdict path is tested in
    test_controllers_live.py); the cluster view and the checklist read it."""
    from cockpit.controllers.live import LiveController
    from cockpit.decision import Engine, Policy

    return LiveController(host, data, build=lambda target: (Engine(Policy()), [], "no metrics source"))


def test_cluster_view_picks_polls_and_browses_without_an_incident(world, tmp_path):
    from backends.kubernetes.backend import connect

    w = world("bad-image")
    host, data = InlineHost(), UIData()
    live = live_controller(host, data)
    view = ClusterView(host, data, live, ChecklistRunner(host, data, Incident(host, data), live))
    view.connect(Session(backend=connect(str(tmp_path / "kubeconfig-1")), journal_path=tmp_path / "i.jsonl"))
    host.run_poll("targets")
    assert {f"{d.namespace}/{d.name}" for d in data.targets} == {"shop/checkout", "shop/cart"}
    assert "targets" in host.marked

    assert view.history() is False  # no target yet
    data.stale["metrics"] = 1.0
    view.pick(TARGET)
    assert data.target == TARGET and data.stale == {}  # the previous target's marks are gone
    assert host.polls["snapshot"]["started"] and not host.polls["metrics"]["started"]
    host.polls.pop("metrics")
    view.pick(TARGET)  # the same target again: nothing restarts
    assert "metrics" not in host.polls
    host.run_poll("snapshot")
    host.run_poll("snapshot")
    assert host.first_frames == 1 and data.snapshot.target == TARGET and data.snapshot.pods  # the first frame, once
    assert data.auto_results  # the checklist was evaluated with the snapshot
    assert view.history() is True and data.history_for == TARGET
    assert [r.number for r in data.history] == [1, 2, 3] and data.history[-1].live
    view.diff(TARGET, 2)
    assert any("1.4.2" in line for line in data.diffs[2].lines)
    view.diff(TARGET, 9)
    assert host.toasts[-1][0] == "error" and 9 not in data.diffs
    assert not (tmp_path / "i.jsonl").exists()  # browsing journals nothing


# --------------------------------------------------------------------------- the checklist and the report


def test_operator_tick_opens_the_incident_and_resolve_needs_one(tmp_path):
    host, data = InlineHost(), UIData()
    s = session(tmp_path)
    inc = Incident(host, data, s)
    runner = ChecklistRunner(host, data, inc, live_controller(host, data))
    try:
        runner.resolve(lambda: None)
        assert host.toasts[-1][0] == "warning" and not inc.is_open  # nothing to resolve
        data.target = TARGET
        runner.tick("smoke_tests", True, "ran ./smoke.sh")
        runner.extend(True)
        recs = read_journal(s.journal_path)
        assert [r["type"] for r in recs] == ["incident_opened", "phase", "check", "monitoring_extended"]
        check = recs[2]
        assert check["id"] == "smoke_tests" and check["ok"] and check["note"] == "ran ./smoke.sh" and "@" in check["who"]
        wait_for(lambda: inc.follower.waiting == 4, "the four records")
        inc.drain()
        offered = []
        runner.resolve(lambda: offered.append(True))
        recs = read_journal(s.journal_path)
        assert offered == [True] and recs[-1]["type"] == "incident_resolved"
        assert recs[-2]["type"] == "phase" and recs[-2]["phase"] == "resolved"
        assert recs[-1]["open_checks"] and "smoke_tests" not in recs[-1]["open_checks"]  # what was left open is said
    finally:
        inc.stop()
        s.close()


def test_checklist_auto_ticks_only_in_an_open_incident_after_verify(tmp_path):
    from cockpit.model import PodInfo, RolloutProgress
    from cockpit.session import Snapshot

    host, data = InlineHost(), UIData()
    live = live_controller(host, data)
    s = session(tmp_path)
    inc = Incident(host, data, s)
    runner = ChecklistRunner(host, data, inc, live)
    pods = (PodInfo("checkout-a", "Running", True, 0, "", "checkout:1.4.2", "n1", None),)
    data.snapshot = Snapshot(TARGET, time.time(), None, pods, (), RolloutProgress(1, 1, 1, 1, 1, True, True))
    try:
        runner.update()  # no incident: evaluated and shown, nothing journaled
        assert data.auto_results["rollout_complete"].ok and not inc.is_open
        j = inc.open_for(TARGET, "rollback")
        j.append("phase", phase="verify")
        wait_for(lambda: inc.follower.waiting == 3, "opened, declare, verify")
        inc.drain()
        runner.update()
        runner.update()  # written, not folded yet: the same proof is not journaled twice
        checks = [r for r in read_journal(j.path) if r["type"] == "check"]
        assert {c["id"] for c in checks} >= {"rollout_complete", "pods_ready"}
        assert len(checks) == len({c["id"] for c in checks}) and all(c["who"] == "cockpit" for c in checks)
        wait_for(lambda: inc.follower.waiting == len(checks), "the checks")
        inc.drain()
        runner.update()  # folded now: still nothing new to write
        assert len([r for r in read_journal(j.path) if r["type"] == "check"]) == len(checks)
    finally:
        inc.stop()
        s.close()


def test_report_written_next_to_the_journal_with_its_screenshot(tmp_path):
    host, data = InlineHost(), UIData()
    s = session(tmp_path)
    inc = Incident(host, data, s)
    writer = ReportWriter(inc)
    assert not writer.possible
    with pytest.raises(CockpitError):
        writer.write(None)
    j = inc.open_for(TARGET, "rollback")
    j.append("phase", phase="resolved")
    j.append("incident_resolved", summary="resolved from the cockpit")
    try:
        assert writer.possible
        path = writer.write("<svg>dashboard</svg>")
        assert path == j.path.with_suffix(".report.md") and path.parent == j.path.parent
        shot = screenshot_path(path)
        assert shot.read_text() == "<svg>dashboard</svg>" and shot.name in path.read_text()
        assert "shop/checkout" in path.read_text()
    finally:
        inc.stop()
        s.close()
    ro = ReportWriter(Incident(InlineHost(), UIData(readonly=True), session(tmp_path / "ro", readonly=True)))
    with pytest.raises(ReadonlyError):
        ro.write(None)
