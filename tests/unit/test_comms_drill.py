"""Comms details and the drill's outbox, without a terminal:

- the "rollback started" message is due the moment the rollback starts (first of all items),
  done once delivered or skipped, cancelled once the rollback is verified, gone once resolved;
- :func:`cockpit.comms.timeliness` counts what went out on time;
- the drill outbox (backends/notify/outbox.py) journals every message with its text and sends
  nothing — not even with a Slack webhook configured; readonly journals nothing;
- the comms controller over the outbox: its one channel, send, edit, skip, the due toast;
- a message posted to a drill's outbox ticks "Communication sent"; outside a drill it does not;
- the score controller journals the card once and shows it; outside a drill it only goes on.
(Escalations cancelled once verified, a journaled Slack send ticking "Communication sent" and
``*Escalation*:`` are tested in test_comms.py and test_templates.py.)"""
from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone

import pytest

from backends.notify.notifier import Notifier
from backends.notify.outbox import DETAIL, DrillOutbox, make_notifier, outbox_messages
from cockpit import compose
from cockpit.comms import (
    OUTBOX, CommsPolicy, EscalationRule, communication_tick, load_notify_settings, plan, skip_event, timeliness,
)
from cockpit.controllers.comms import CommsController
from cockpit.controllers.drill import DrillScorer
from cockpit.controllers.incident import Incident
from cockpit.errors import ReadonlyError
from cockpit.journal import Journal, read_journal
from cockpit.model import Target
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.session import Session
from cockpit.state import replay
from screens.data import UIData
from tests.unit.test_controllers import InlineHost

T0 = datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
TARGET = Target("checkout", "shop")


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    """The host-wide lock file (no Lease without a cluster) in this test's own directory."""
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))


def rec(sec: float, type: str, **data) -> dict:  # noqa: A002
    ts = (T0 + timedelta(seconds=sec)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"seq": 0, "ts": ts, "actor": "a@b", "type": type, **data}


OPEN = [rec(0, "incident_opened", target="shop/checkout", reason="x", drill=True)]
STARTED = OPEN + [rec(60, "phase", phase="execute")]


# --------------------------------------------------------------------------- the plan


def test_the_rollback_started_message_is_due_when_the_rollback_starts():
    assert plan(OPEN).started is None and "started" not in [d.key for d in plan(OPEN).items]
    p = plan(STARTED)
    assert p.started is not None and p.started.status == "pending" and p.started.due_at == T0 + timedelta(seconds=60)
    assert p.next.key == "started" and p.next.template == "started" and p.next.label == "rollback started"
    assert [d.key for d in p.due_now(T0 + timedelta(seconds=61))] == ["started"]


def test_the_started_message_is_done_when_sent_or_skipped_and_cancelled_once_verified():
    sent = plan(STARTED + [rec(70, "notification", channel="slack", ok=True, purpose="started")])
    assert (sent.started.status, sent.started.done_at) == ("sent", T0 + timedelta(seconds=70))
    assert sent.update.due_at == T0 + timedelta(seconds=70 + 300)  # and it counts as an update
    failed = plan(STARTED + [rec(70, "notification", channel="slack", ok=False, purpose="started")])
    assert failed.started.status == "pending"
    skipped = plan(STARTED + [rec(70, "comms", **skip_event(plan(STARTED).started))])
    assert skipped.started.status == "skipped" and skipped.next.key != "started"
    verified = plan(STARTED + [rec(120, "phase", phase="verify"), rec(200, "phase", phase="monitor")])
    assert (verified.started.status, verified.started.done_at) == ("cancelled", T0 + timedelta(seconds=200))
    assert plan(STARTED + [rec(90, "incident_resolved")]).started is None  # nothing is owed once resolved


def test_timeliness_counts_what_went_out_on_time():
    policy = CommsPolicy(update_every_s=300, escalations=(EscalationRule(1, 300),))
    recs = STARTED + [
        rec(100, "notification", channel="outbox", ok=True, purpose="started"),          # 40 s after due
        rec(480, "notification", channel="outbox", ok=True, purpose="escalation", level=1),  # 3 min late
        rec(490, "comms", action="skip", item="update"),                                    # due 400: skipped
        rec(950, "incident_resolved"),                        # the update due at 790: 2 min 40 s overdue, missed
    ]
    got = [(f.key, f.status, f.due_at) for f in timeliness(recs, policy)]
    assert got == [("started", "on_time", T0 + timedelta(seconds=60)),
                   ("escalation:1", "late", T0 + timedelta(seconds=300)),
                   ("update", "skipped", T0 + timedelta(seconds=400)),
                   ("update", "missed", T0 + timedelta(seconds=790))]
    # resolved inside the update's grace: that update does not count
    early = [r for r in recs if r["type"] != "incident_resolved"] + [rec(900, "incident_resolved")]
    assert [f.key for f in timeliness(early, policy)] == ["started", "escalation:1", "update"]
    # an escalation cancelled by the verification before it was due does not count
    calm = STARTED + [rec(70, "notification", channel="outbox", ok=True, purpose="started"),
                      rec(200, "phase", phase="monitor"), rec(250, "incident_resolved")]
    assert [(f.key, f.status) for f in timeliness(calm, policy)] == [("started", "on_time")]


def test_an_outbox_message_ticks_communication_sent_in_a_drill_only():
    posted = OPEN + [rec(70, "notification", channel=OUTBOX, ok=True, purpose="started")]
    tick = communication_tick(DEFAULT_CHECKLIST, replay(posted))
    assert tick == {"id": "communication_sent", "ok": True, "who": "cockpit",
                    "evidence": "drill outbox: started message posted at 14:31:10 UTC"}
    real = [{**posted[0], "drill": False}, posted[1]]
    assert communication_tick(DEFAULT_CHECKLIST, replay(real)) is None


# --------------------------------------------------------------------------- the outbox


def _journal(tmp_path) -> Journal:
    j = Journal.open(tmp_path / "drill.jsonl")
    j.append("incident_opened", target="shop/checkout", reason="drill", drill=True)
    j.append("phase", phase="declare")
    j.append("phase", phase="execute")
    j.append("revision_chosen", revision=2, target="shop/checkout", images=["registry.example/shop/checkout:1.4.2"],
             from_revision=3)
    return j


def test_the_outbox_journals_the_message_and_sends_nothing(tmp_path, receiver):
    settings = load_notify_settings({"COCKPIT_NOTIFY__SLACK_WEBHOOK_URL": receiver.url("/services/T/B/x"),
                                     "COCKPIT_NOTIFY__ATTEMPTS": "1"})
    with _journal(tmp_path) as j:
        n = make_notifier(settings, journal=j, drill=True)
        assert isinstance(n, DrillOutbox) and n.channels == [OUTBOX]
        due = plan(j.read(), settings.policy()).next
        assert due.key == "started"
        [d] = n.send_due(due)
        assert d.ok and d.channel == OUTBOX and d.detail == DETAIL
        n.send_due(plan(j.read(), settings.policy()).next, text="Rolling back checkout\nwe are on it <!channel>")
    [first, second] = outbox_messages(read_journal(tmp_path / "drill.jsonl"))
    assert first["purpose"] == "started" and first["item"] == "started" and first["ok"] is True
    assert first["title"].startswith("ROLLBACK INITIATED: shop/checkout") and "*Rollback initiated*" in first["text"]
    assert second["edited"] is True and second["title"] == "Rolling back checkout" and second["text"] == "we are on it <!channel>"
    assert receiver.requests == []  # a drill pages no one, whatever is configured
    assert not isinstance(make_notifier(settings, drill=False), DrillOutbox)
    assert isinstance(make_notifier(settings, drill=False), Notifier)


def test_a_readonly_outbox_refuses_and_journals_nothing(tmp_path):
    with _journal(tmp_path) as j:
        before = len(j.read())
        n = DrillOutbox(load_notify_settings({}), journal=j, readonly=True)
        with pytest.raises(ReadonlyError):
            n.send(OUTBOX, "progress")
        with pytest.raises(ReadonlyError):
            n.send_due(plan(j.read()).next)
        assert len(j.read()) == before


def test_the_outbox_escapes_outside_values_as_slack_would(tmp_path):
    with Journal.open(tmp_path / "j.jsonl") as j:
        j.append("incident_opened", target="shop/checkout", reason="<!channel> & <http://evil|click>", drill=True)
        msg = DrillOutbox(load_notify_settings({}), journal=j).preview(OUTBOX, "started", j.read())
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in msg.body and "<!channel>" not in msg.body


# --------------------------------------------------------------------------- the controller over the outbox


def comms(tmp_path, *, drill: bool = True, readonly: bool = False):
    settings = types.SimpleNamespace(notify=load_notify_settings({}))  # no channel configured at all
    host, data = InlineHost(), UIData(readonly=readonly, drill="bad-image" if drill else None)
    data.target = TARGET
    session = Session(backend=None, readonly=readonly, journal_path=tmp_path / "incident.jsonl", drill=drill)
    incident = Incident(host, data, session)

    def factory(journal):
        return make_notifier(compose.notify_settings(settings), journal=journal, readonly=readonly, drill=drill)

    c = CommsController(host, data, incident, load_settings=lambda: compose.notify_settings(settings),
                        notifier_factory=factory)
    c.start()
    return c, host, data, session


def test_the_comms_panel_rehearses_send_edit_and_skip_on_the_outbox(tmp_path):
    c, host, data, session = comms(tmp_path)
    try:
        assert data.comms_channels == [OUTBOX]
        c.want("send", None, edit=lambda item, text: None)  # the next item: opens the drill's incident
        assert not host.errors and host.toasts[-1] == ("information", f"sent on {OUTBOX}")
        edits = []
        c.want("edit", "update", edit=lambda item, text: edits.append((item, text)))
        assert edits[0][0] == "update" and edits[0][1].strip()  # the template's text, to edit
        c.send_async("update", "checkout: rolled back\nwatching the error rate")
        c.want("skip", "escalation:2", edit=lambda item, text: None)
        recs = read_journal(session.journal_path)
        posted = outbox_messages(recs)
        assert [p["item"] for p in posted] == ["escalation:1", "update"]
        assert posted[1]["edited"] is True and posted[1]["text"] == "watching the error rate"
        assert any(r["type"] == "comms" and r.get("item") == "escalation:2" and r.get("action") == "skip" for r in recs)
        assert next(r for r in recs if r["type"] == "incident_opened")["drill"] is True
    finally:
        c.incident.stop()
        session.close()


def test_outside_a_drill_nothing_configured_means_no_channel(tmp_path):
    c, host, data, session = comms(tmp_path, drill=False)
    assert data.comms_channels == []
    c.want("send", None, edit=lambda item, text: None)
    assert host.toasts[-1][0] == "warning" and not session.journal_path.exists()


def test_the_started_message_is_toasted_when_due(tmp_path):
    c, host, data, session = comms(tmp_path)
    data.records = [{**r, "ts": (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")}
                    for r in STARTED]
    assert c.tick() == ["comms: the rollback started message is due — t opens the comms panel"]
    assert c.tick() == []


# --------------------------------------------------------------------------- the score controller


def test_the_scorer_journals_the_card_once_and_shows_it(tmp_path):
    host, data = InlineHost(), UIData(drill="bad-image")
    session = Session(backend=None, journal_path=tmp_path / "d.jsonl", drill=True)
    incident = Incident(host, data, session)
    shown, went_on = [], []
    scorer = DrillScorer(host, data, incident, show=lambda card, then: (shown.append(card), then()),
                         clock=lambda: datetime.now(timezone.utc) - timedelta(seconds=30))
    scorer.key()  # before the first frame: not counted
    scorer.start()
    for _ in range(3):
        scorer.key()
    try:
        j = session.open_incident(TARGET, "drill")
        j.append("phase", phase="execute")
        j.append("revision_chosen", revision=2, target="shop/checkout", images=["registry.example/shop/checkout:1.4.2"])
        j.append("phase", phase="resolved")
        j.append("incident_resolved", summary="resolved")
        scorer.score(lambda: went_on.append(1))
        scorer.score(lambda: went_on.append(2))
        assert not host.errors and went_on == [1, 2] and len(shown) == 2
        scored = [r for r in read_journal(session.journal_path) if r["type"] == "drill_scored"]
        assert len(scored) == 1 and scored[0]["keystrokes"] == 3 and scored[0]["scenario"] == "bad-image"
        assert scored[0]["revision_ok"] is False  # revision chosen, never rolled out: not the goal's
        assert shown[0].keystrokes == 3 and shown[0].scenario == "bad-image"
    finally:
        incident.stop()
        session.close()


@pytest.mark.parametrize("drill, readonly", [(None, False), ("bad-image", True)])
def test_outside_a_drill_or_readonly_the_scorer_only_goes_on(tmp_path, drill, readonly):
    host, data = InlineHost(), UIData(drill=drill, readonly=readonly)
    session = Session(backend=None, journal_path=tmp_path / "d.jsonl", drill=bool(drill))
    went_on = []
    scorer = DrillScorer(host, data, Incident(host, data, session), show=lambda card, then: pytest.fail("shown"))
    scorer.start()
    scorer.score(lambda: went_on.append(1))
    assert went_on == [1] and not (tmp_path / "d.jsonl").exists()
