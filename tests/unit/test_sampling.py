"""Metric samples in the journal at a bounded rate, with their peaks (issue: the record keeps
the why): the thinner itself, the full-screen cockpit's live controller journaling into the
incident it opens (with the backlog from before the operator acted), ``cockpit watch`` doing
the same, and the report's peaks read from what was journaled.

The metrics sources are fakes that answer a scripted series (the real sources are tested
against real servers in tests/backends); the journal, session, incident and report are real.
"""
from __future__ import annotations

import json

import pytest

from cockpit import events as ev
from cockpit.controllers.incident import Incident
from cockpit.controllers.live import LiveController
from cockpit.decision import Engine, Policy, Reading
from cockpit.journal import Journal, read_journal
from cockpit.model import Target
from cockpit.sampling import SampleThinner
from cockpit.session import Session
from cockpit.state import replay
from screens.data import UIData
from tests.unit.test_controllers import InlineHost
from tests.unit.test_watch import FakeTime, ImageSource, make, policy

TARGET = Target("checkout", "shop")
T0 = 1_790_000_000.0


def series(t: float) -> tuple[float, float]:
    """Errors 30 % with a spike to 42 % at t=23; p95 400 ms with a spike to 2600 ms at t=37."""
    er = 0.42 if int(t - T0) == 23 else 0.30
    p95 = 2600.0 if int(t - T0) == 37 else 400.0
    return er, p95


def test_one_record_per_interval_carrying_the_intervals_peaks_and_when_they_were_read():
    thin = SampleThinner("shop/checkout", every_s=10.0)
    recs = [r for t in range(61) if (r := thin.add(T0 + t, *series(T0 + t), 30.0)) is not None]
    assert len(recs) == 6  # 61 one-second readings → six closed ten-second intervals, not 61 records
    assert [r.error_rate for r in recs] == [0.30, 0.30, 0.42, 0.30, 0.30, 0.30]
    assert recs[2].error_rate_at == T0 + 23  # the spike, at the second it was read, not at the boundary
    assert recs[3].p95_ms == 2600.0 and recs[3].p95_at == T0 + 37
    assert thin.backlog() == recs
    last = thin.flush()
    assert last is not None and last.error_rate == 0.30 and thin.flush() is None

    state = replay([{"type": "incident_opened", "target": "shop/checkout", "seq": 1, "ts": "2026-09-21T13:00:00Z"}]
                   + [{**r.to_record(), "type": r.type, "seq": i + 2, "ts": "2026-09-21T13:01:00Z"}
                      for i, r in enumerate(recs)])
    assert state.peak_error_rate.value == 0.42 and state.peak_error_rate.at.timestamp() == T0 + 23
    assert state.peak_p95_ms.value == 2600.0 and state.peak_p95_ms.at.timestamp() == T0 + 37


def test_nothing_read_is_nothing_journaled_and_the_backlog_is_bounded():
    thin = SampleThinner("shop/checkout", every_s=10.0, keep_s=60.0)
    assert thin.add(T0, None, None) is None and thin.add(T0 + 11, None, None) is None  # no value: no record
    for t in range(0, 3600, 5):
        thin.add(T0 + 20 + t, 0.01, 100.0)
    assert len(thin.backlog()) == 7  # the last minute (keep_s), not the hour


class Scripted:
    """A fake metrics source answering :func:`series` at the (fake) time it is asked."""

    name = "scripted"

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        er, p95 = series(now or 0.0)
        return Reading(self.name, at=now or 0.0, window_s=window_s, error_rate=er, p95_ms=p95, request_rate=30.0)


@pytest.fixture
def clock(monkeypatch):
    """The live controller's wall clock, driven by the test."""
    import cockpit.controllers.live as live_mod

    now = [T0]
    monkeypatch.setattr(live_mod.time, "time", lambda: now[0])
    return now


def test_the_cockpit_journals_the_backlog_and_the_verdict_when_the_operator_acts_then_one_sample_per_interval(
        tmp_path, clock, monkeypatch):
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))
    host, data = InlineHost(), UIData()
    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")
    live = LiveController(host, data, build=lambda t: (Engine(Policy()), [Scripted()], ""), journal_samples_s=10.0,
                          record_if_open=lambda type, **d: incident.record_if_open(type, **d))
    incident = Incident(host, data, session, on_opened=live.opened)
    data.target = TARGET
    try:
        for t in range(45):  # browsing a bad release for 45 s: nothing is written, nothing opened
            clock[0] = T0 + t
            live.deliver(live.sample(TARGET))
        assert not (tmp_path / "incident.jsonl").exists()

        incident.open_for(TARGET, "rollback to revision 2")  # the operator acts
        records = read_journal(tmp_path / "incident.jsonl")
        types = [r["type"] for r in records]
        assert types[:2] == ["incident_opened", "phase"]
        assert types[2:] == ["metrics"] * 4 + ["verdict"]  # the four closed intervals before, then why
        assert records[-1]["value"] == "ROLLBACK_NOW" and "error rate" in " ".join(records[-1]["reasons"])

        for t in range(45, 75):  # thirty more seconds in the open incident: three more records
            clock[0] = T0 + t
            live.deliver(live.sample(TARGET))
        metrics = [r for r in read_journal(tmp_path / "incident.jsonl") if r["type"] == "metrics"]
        assert len(metrics) == 7

        report = json.loads(_report(tmp_path / "incident.jsonl"))
        assert report["peak"]["error_rate"] == 0.42 and report["peak"]["p95_ms"] == 2600.0
    finally:
        incident.stop()
        session.close()


def test_an_observer_journals_nothing(tmp_path, clock):
    host, data = InlineHost(), UIData(readonly=True)
    recorded = []
    live = LiveController(host, data, build=lambda t: (Engine(Policy()), [Scripted()], ""),
                          record_if_open=lambda type, **d: recorded.append(type))
    data.target = TARGET
    for t in range(30):
        clock[0] = T0 + t
        live.deliver(live.sample(TARGET))
    assert "metrics" not in recorded and live.thinner is None  # (its Incident refuses the rest: readonly)


def _report(path) -> str:
    from cockpit.report import report_text

    return report_text(read_journal(path), "json")


def test_watch_journals_its_backlog_when_it_opens_the_incident_and_samples_at_the_bounded_rate(world, tmp_path):
    w0 = world("bad-image")
    ft, out = FakeTime(), []
    path = tmp_path / "watch.jsonl"
    opened = []

    def factory():
        opened.append(1)
        return Journal.open(path)

    src = ImageSource(w0, bad={"registry.example/shop/checkout:1.5.0"})
    watcher = make(w0, ft, src, out=out, journal=factory, auto_rollback=False,
                   policy=policy(interval_s=5, journal_samples_s=10, stabilization_s=0))
    for _ in range(12):  # one minute of 5 s checks of the bad release
        watcher.tick()
        ft.sleep(5)
    records = read_journal(path)
    metrics = [r for r in records if r["type"] == "metrics"]
    assert opened == [1] and 4 <= len(metrics) <= 6  # one per 10 s (not one per check), the backlog included
    assert all(r["error_rate"] == 0.30 for r in metrics)
    state = replay(records)
    assert state.peak_error_rate is not None and state.peak_error_rate.value == 0.30
    assert [r["type"] for r in records].index("incident_opened") < [r["type"] for r in records].index("metrics")


def test_report_json_peak_comes_from_journaled_samples(tmp_path):
    j = Journal.open(tmp_path / "j.jsonl")
    j.write(ev.IncidentOpened(target="shop/checkout", source="watch"))
    j.write(ev.MetricSample(target="shop/checkout", error_rate=0.31, p95_ms=900.0, error_rate_at=T0, p95_at=T0 + 3))
    j.close()
    report = json.loads(_report(tmp_path / "j.jsonl"))
    assert report["peak"]["error_rate"] == 0.31 and report["peak"]["p95_ms"] == 900.0
