"""The live controller without a terminal: metrics → decision engine → verdict (plots, stale
marks, the checklist's evidence), and the automatic rollback's arm, countdown and abort.

The metrics sources here are fakes: a source that answers exactly what the test needs, and
one that fails, on cue (the real sources are tested against real servers in tests/backends).
"""
from __future__ import annotations

import dataclasses
import time

from cockpit.controllers.live import LiveController
from cockpit.decision import Engine, Policy, Reading
from cockpit.errors import UnreachableError
from cockpit.events import IncidentOpened, VerdictChanged
from cockpit.journal import Journal, read_journal
from cockpit.model import Revision, Target
from cockpit.triggers import Trigger
from screens.data import UIData
from tests.unit.test_controllers import InlineHost

TARGET = Target("checkout", "shop")


class FakeSource:
    """Answers a fixed reading (errors 30 %, p95 400 ms, healthy, version 1.5.0); counts resets."""

    def __init__(self, name: str = "fake", ok: bool = True) -> None:
        self.name, self.ok, self.resets, self.closed = name, ok, 0, False

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        if not self.ok:
            return Reading(self.name, at=now or 0.0, ok=False, error="connection refused")
        return Reading(self.name, at=now or 0.0, window_s=window_s, error_rate=0.30, p95_ms=400.0, request_rate=30.0,
                       health_ok=True, version="1.5.0")

    def reset(self) -> None:
        self.resets += 1

    def close(self) -> None:
        self.closed = True


HISTORY = [Revision(1, ("registry.example/shop/checkout:1.4.1",), template_hash="h1"),
           Revision(2, ("registry.example/shop/checkout:1.4.2",), template_hash="h2"),
           Revision(3, ("registry.example/shop/checkout:1.5.0",), template_hash="h3", live=True)]


def controller(countdown_s: float = 30.0, sources=None, journal_path=None, note=None):
    """A live controller with fake metrics sources; the incident is a real journal (opened when
    an armed trigger fires, as the app's Incident.open_for does) and the history fixed data."""
    host, data = InlineHost(), UIData()
    built, rolled, journaled = [], [], []
    sources = sources if sources is not None else [FakeSource(), FakeSource("down", ok=False)]
    opened: list[Journal] = []

    def build(target):
        built.append(target)
        return Engine(Policy()), sources, ""

    def incident(target):
        if not opened:
            j = Journal.open(journal_path)
            if not j.read():
                j.write(IncidentOpened(target=str(target), source="tui"))
            opened.append(j)
        return opened[0]

    def record_if_open(type, **d):
        if opened:
            journaled.append((type, d))
            opened[0].append(type, **d)

    live = LiveController(host, data, build=build, window_s=60.0, countdown_s=countdown_s,
                          roll_back=lambda t, rev, images, **why: rolled.append((t, rev, images, why)),
                          record_if_open=record_if_open, incident=incident, history=lambda target: HISTORY,
                          note=lambda target: note)
    data.target = TARGET
    return live, host, data, built, rolled, journaled


def test_a_sample_fills_the_verdict_plots_evidence_and_stale_marks():
    live, host, data, built, _, _ = controller()
    live.deliver(live.sample(TARGET))
    live.deliver(live.sample(TARGET))
    assert built == [TARGET]  # the sources are built once, on the first sample
    assert data.decision is not None and data.decision.sample.error_rate == 0.30
    assert [v for _, v in data.error_rate.points] == [0.30, 0.30] and [v for _, v in data.p95.points] == [400.0, 400.0]
    assert len(live.points) == 2 and live.probes[-1].ok and live.version == "1.5.0"  # the checklist's evidence
    assert "down" in data.stale and data.errors["down"] == "connection refused" and "fake" not in data.stale
    assert "metrics" in host.marked and data.metrics_note == ""


def test_a_source_failing_then_answering_and_a_new_target():
    live, host, data, _, _, _ = controller()
    live.source_failed("kubernetes", UnreachableError("connection refused", hint="check the VPN"))
    since = data.stale["kubernetes"]
    live.source_failed("kubernetes", UnreachableError("still refused"))
    assert data.stale["kubernetes"] == since and "still refused" in data.errors["kubernetes"]  # stale since the first
    live.fresh("kubernetes")
    assert "kubernetes" not in data.stale and "kubernetes" not in data.errors
    live.deliver(live.sample(TARGET))
    live.reset()
    assert data.error_rate.points == [] and live.engine is None and live.points == [] and data.stale == {}


def test_after_the_rollback_the_next_sample_restarts_the_sources_and_the_engines_window():
    src = FakeSource()
    live, _, _, _, _, _ = controller(sources=[src])
    live.deliver(live.sample(TARGET))
    live.stabilize_next()
    _, _, decision = live.sample(TARGET)
    assert src.resets == 1 and decision.stabilizing
    live.sample(TARGET)
    assert src.resets == 1  # once
    live.close()
    assert src.closed


def triggered(live):
    now, readings, decision = live.sample(TARGET)
    reason = decision.reasons[0]
    return now, readings, dataclasses.replace(decision, trigger=Trigger("error_rate", reason, 5))


def test_unarmed_a_trigger_does_nothing():
    live, host, data, _, rolled, journaled = controller(countdown_s=0.0)
    live.deliver(triggered(live))
    assert rolled == [] and data.auto_remaining is None and not host.timers


def test_armed_a_trigger_opens_the_incident_journals_why_and_rolls_back_once(tmp_path):
    path = tmp_path / "j.jsonl"
    live, host, data, _, rolled, journaled = controller(countdown_s=0.0, journal_path=path)
    live.toggle_arm()
    assert data.auto_armed and journaled == []  # no incident yet: arming alone opens none
    live.deliver(triggered(live))
    assert host.errors == []
    why = "revision 2 is the previous one (no revision was seen healthy)"
    assert rolled == [(TARGET, 2, ("registry.example/shop/checkout:1.4.2",),
                       {"why": why, "reason": f"automatic rollback: {live.auto.reason}"})]
    trig = next(r for r in read_journal(path) if r["type"] == "trigger")
    assert trig["auto"] is True and trig["to_revision"] == 2 and trig["why"] == why and trig["countdown_s"] == 0.0
    assert host.toasts[-1][0] == "error" and data.auto_remaining is None
    live.deliver(triggered(live))
    assert len(rolled) == 1  # once


def test_once_per_incident_is_read_from_the_journal(tmp_path):
    path = tmp_path / "j.jsonl"
    first, *_ = controller(countdown_s=0.0, journal_path=path)
    first.toggle_arm()
    first.deliver(triggered(first))
    # a restarted cockpit on the same incident: armed again, the trigger fires again — not again
    live, host, _, _, rolled, _ = controller(countdown_s=0.0, journal_path=path)
    live.toggle_arm()
    live.deliver(triggered(live))
    assert rolled == [] and "already used" in host.toasts[-1][1]


def test_the_revision_last_seen_healthy_wins(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal.open(path)
    j.write(IncidentOpened(target=str(TARGET)))
    j.write(VerdictChanged(value="OK", target=str(TARGET), revision=1, template_hash="h1"))
    j.close()
    live, host, _, _, rolled, _ = controller(countdown_s=0.0, journal_path=path)
    live.toggle_arm()
    live.deliver(triggered(live))
    assert rolled[0][1] == 1 and rolled[0][3]["why"] == "revision 1 was last seen healthy"


def test_an_armed_cockpit_never_undoes_the_cockpits_own_rollback(tmp_path):
    """The live revision 3 is what an earlier rollback (another session: no journal here) went
    to, away from revision 2's template: "the previous revision" would bring it back."""
    path = tmp_path / "j.jsonl"
    note = {"by": "ana@bastion-2", "at": "2026-12-02T06:41:00Z", "from_revision": 2, "to_revision": 3,
            "from_template_hash": "h2", "to_template_hash": "h3"}
    live, host, data, _, rolled, _ = controller(countdown_s=0.0, journal_path=path, note=note)
    live.toggle_arm()
    live.deliver(triggered(live))
    assert rolled == [] and data.auto_remaining is None and host.errors == []
    assert host.toasts[-1][0] == "warning"
    assert "automatic rollback NOT sent: the live revision 3 is what ana@bastion-2 rolled back to" in host.toasts[-1][1]
    recs = [r for r in read_journal(path) if r["type"] in ("trigger", "trigger_aborted")]
    assert [r["type"] for r in recs] == ["trigger", "trigger_aborted"] and recs[0]["auto"] is True
    assert "would bring back the release rolled back from" in recs[1]["reason"]
    live.deliver(triggered(live))
    assert rolled == []
    # another target on screen: its own trigger is judged on its own (once per incident, per target)
    other_target = Target("cart", "shop")
    data.target = other_target
    live.reset()
    live.note = lambda target: None
    now, readings, decision = live.sample(other_target)
    live.deliver((now, readings, dataclasses.replace(decision, trigger=Trigger("error_rate", decision.reasons[0], 5))))
    assert [(r[0], r[1]) for r in rolled] == [(other_target, 2)]
    # a note about another rollback (the live template is not the one it went to) changes nothing
    other = dict(note, to_template_hash="h9")
    live2, _, _, _, rolled2, _ = controller(countdown_s=0.0, journal_path=tmp_path / "k.jsonl", note=other)
    live2.toggle_arm()
    live2.deliver(triggered(live2))
    assert [r[1] for r in rolled2] == [2]


def test_the_operator_aborts_the_countdown_and_nothing_is_rolled_back(tmp_path):
    live, host, data, _, rolled, journaled = controller(countdown_s=30.0, journal_path=tmp_path / "j.jsonl")
    live.toggle_arm()
    live.deliver(triggered(live))
    assert 29.0 < data.auto_remaining <= 30.0 and data.auto_reason
    assert [d for d, _ in host.timers] == [1.0]  # the next tick of the countdown
    live.abort()
    assert data.auto_remaining is None and live.auto.aborted and host.toasts[-1][0] == "warning"
    assert journaled[-1][0] == "trigger_aborted" and "aborted by the operator" in journaled[-1][1]["reason"]
    _, tick = host.timers.pop()
    tick()  # the timer that was already set fires: nothing happens
    assert rolled == [] and not host.timers


def test_disarming_stops_a_running_countdown_and_readonly_cannot_abort(tmp_path):
    live, host, data, _, rolled, journaled = controller(countdown_s=30.0, journal_path=tmp_path / "j.jsonl")
    live.toggle_arm()
    live.deliver(triggered(live))
    live.toggle_arm()
    assert not data.auto_armed and live.auto.deadline is None
    host.timers.pop()[1]()
    assert rolled == []
    ro, ro_host, ro_data, _, _, ro_journaled = controller(countdown_s=30.0)
    ro_data.readonly = True
    ro.auto.armed = True
    ro.deliver(triggered(ro))
    ro.abort()
    # an observer never counts down toward a rollback (it has no power to act), nor journals
    assert ro.auto.deadline is None and not ro_journaled and not ro_host.timers


class HealthDown:
    """The health probe as it reads when the bastion's network is gone: the check fails."""

    name = "probe"

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        return Reading(self.name, at=now or 0.0, health_ok=False, error="health: connection refused")


def test_with_the_cluster_and_metrics_gone_an_armed_cockpit_is_inconclusive_and_sends_nothing(tmp_path):
    """The world stopped mid-session: the snapshot poll fails (the Kubernetes API does not
    answer), the metrics source fails, the probe fails. However many checks pass, the verdict is
    INCONCLUSIVE, no trigger fires, nothing is journaled and no rollback starts."""
    from cockpit.decision import Verdict

    live, host, data, _, rolled, journaled = controller(
        countdown_s=0.0, sources=[FakeSource("metrics", ok=False), HealthDown()], journal_path=tmp_path / "j.jsonl")
    live.toggle_arm()
    live.source_failed("kubernetes", UnreachableError("Kubernetes API did not answer: connection refused"))
    from cockpit.config import WatchConfig

    live.engine = Engine(Policy(watch=WatchConfig(interval_s=0.01)))
    live.sources = [FakeSource("metrics", ok=False), HealthDown()]
    for _ in range(30):  # 30 checks: ten times what the health trigger needs
        time.sleep(0.011)
        live.deliver(live.sample(TARGET))
        assert data.decision.verdict is Verdict.INCONCLUSIVE and data.decision.trigger is None
    assert rolled == [] and journaled == [] and not (tmp_path / "j.jsonl").exists()
    assert any("does not answer" in r.text for r in data.decision.reasons)


class HistorySource(FakeSource):
    """A fake with a history (Prometheus' query_range is tested against a real Prometheus in
    tests/backends/test_metrics_prometheus_history.py); ``fail`` makes it raise like a
    Prometheus that does not answer."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__("prometheus")
        self.fail, self.asked = fail, []

    def history(self, span_s, now=None, step_s=None, *, rate_window_s=60.0):
        self.asked.append((span_s, rate_window_s))
        if self.fail:
            raise UnreachableError("Prometheus did not answer")
        return [(now - 600 + i * 60, 0.002 if i < 5 else 0.3, 130.0 if i < 5 else 400.0) for i in range(10)]


def test_the_panes_start_with_the_sources_history_once():
    src = HistorySource()
    live, _host, data, _, _, _ = controller(sources=[src])
    live.deliver(live.sample(TARGET))
    live.deliver(live.sample(TARGET))
    assert src.asked == [(900.0, 60.0)]  # once, when the sources are built: the plots' window, the live window
    errors = [v for _, v in data.error_rate.points]
    assert errors[:10] == [0.002] * 5 + [0.3] * 5 and errors[10:] == [0.30, 0.30]  # history, then the live checks
    times = [t for t, _ in data.error_rate.points]
    assert times == sorted(times) and len(data.p95.points) == 12
    assert len(live.points) == 2  # the checklist's evidence is what this session measured


def test_a_history_that_fails_leaves_the_live_checks():
    live, _host, data, _, _, _ = controller(sources=[HistorySource(fail=True)])
    live.deliver(live.sample(TARGET))
    assert [v for _, v in data.error_rate.points] == [0.30]
