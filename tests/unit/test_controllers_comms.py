"""The comms controller without a terminal, with the real notifier and the local HTTP receiver
(tests/fixtures/receiver.py) as the Slack webhook: the policy loads, a due item is toasted
once, sending or skipping opens the incident for the target on screen (the operator acted),
an edit is sent as written and journaled by its length, nothing is due twice, readonly sends
and journals nothing."""
from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone

import pytest

from cockpit import compose
from cockpit.comms import load_notify_settings
from cockpit.controllers.comms import CommsController
from cockpit.controllers.incident import Incident
from cockpit.errors import CockpitError, ReadonlyError
from cockpit.journal import read_journal
from cockpit.model import Target
from cockpit.session import Session
from screens.data import UIData
from tests.unit.test_controllers import InlineHost, wait_for

TARGET = Target("checkout", "shop")


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    """The host-wide lock file (no Lease without a cluster) in this test's own directory."""
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))
SECRET = "T0SECRET/B0SECRET/xoxbS3cretToken"


def comms(tmp_path, receiver, *, readonly: bool = False):
    env = {"COCKPIT_NOTIFY__SLACK_WEBHOOK_URL": receiver.url(f"/services/{SECRET}"), "COCKPIT_NOTIFY__ATTEMPTS": "1"}
    settings = types.SimpleNamespace(notify=load_notify_settings(env))  # what compose reads of the settings
    host, data = InlineHost(), UIData(readonly=readonly)
    data.target = TARGET
    session = Session(backend=None, readonly=readonly, journal_path=tmp_path / "incident.jsonl")
    incident = Incident(host, data, session)
    c = CommsController(host, data, incident, load_settings=lambda: compose.notify_settings(settings),
                        notifier_factory=compose.notifier_factory(settings, readonly))
    c.start()
    return c, host, data, session


def test_load_then_the_first_send_opens_the_incident_and_reaches_the_webhook(tmp_path, receiver):
    c, host, data, session = comms(tmp_path, receiver)
    try:
        assert data.comms_channels == ["slack"] and data.comms_policy.update_every_s == 300.0
        assert [i for i, _ in host.intervals] == [5.0]  # the due toasts start once
        assert c.loaded(data.comms_policy, data.comms_channels) is False
        c.want("send", None, edit=lambda item, text: None)
        assert not host.errors and data.comms_busy == "" and host.toasts[-1] == ("information", "sent on slack")
        assert len(receiver.requests) == 1 and receiver.requests[0].path == f"/services/{SECRET}"
        recs = read_journal(session.journal_path)
        assert recs[0]["type"] == "incident_opened" and recs[0]["target"] == "shop/checkout"
        note = next(r for r in recs if r["type"] == "notification")
        assert note["ok"] is True and note["channel"] == "slack" and note["purpose"] == "escalation"
        assert SECRET not in session.journal_path.read_text()
        with pytest.raises(CockpitError) as err:
            c.send("escalation:1", target=TARGET)  # sent already: not due twice
        assert err.value.title == "Nothing to send" and len(receiver.requests) == 1
    finally:
        c.incident.stop()
        session.close()


def test_edit_then_send_and_skip(tmp_path, receiver):
    c, host, data, session = comms(tmp_path, receiver)
    edits = []
    try:
        c.want("edit", "update", edit=lambda item, text: edits.append((item, text)))
        assert edits and edits[0][0] == "update" and edits[0][1].strip()  # the template's text, to edit
        c.send_async("update", "checkout: rolled back, watching 42")
        assert "watching 42" in receiver.requests[-1].body.decode()
        c.want("skip", "escalation:2", edit=lambda item, text: None)
        recs = read_journal(session.journal_path)
        edit = next(r for r in recs if r["type"] == "comms" and r.get("action") == "edit")
        assert edit["chars"] == len("checkout: rolled back, watching 42") and "watching" not in str(edit)
        skip = next(r for r in recs if r["type"] == "comms" and r.get("action") == "skip")
        assert skip["item"] == "escalation:2" and host.toasts[-1][1] == "skipped (journaled)"
        assert sum(r["type"] == "incident_opened" for r in recs) == 1
    finally:
        c.incident.stop()
        session.close()


def test_a_due_item_is_toasted_once(tmp_path, receiver):
    c, host, data, session = comms(tmp_path, receiver)
    opened = (datetime.now(timezone.utc) - timedelta(minutes=6)).isoformat().replace("+00:00", "Z")
    data.records = [{"seq": 1, "ts": opened, "actor": "a@b", "type": "incident_opened", "target": "shop/checkout"}]
    first = c.tick()
    assert sorted(first) == ["comms: the escalation 1 is due — t opens the comms panel",
                             "comms: the periodic update is due — t opens the comms panel"]
    assert c.tick() == [] and len(host.toasts) == 2


def test_no_channel_refuses_a_send_before_opening_anything(tmp_path, receiver):
    c, host, data, session = comms(tmp_path, receiver)
    data.comms_channels = []
    c.want("send", None, edit=lambda item, text: None)
    assert host.toasts[-1][0] == "warning" and not session.journal_path.exists() and not receiver.requests


def test_readonly_sends_and_journals_nothing(tmp_path, receiver):
    c, host, data, session = comms(tmp_path, receiver, readonly=True)
    c.want("send", None, edit=lambda item, text: None)
    c.want("skip", None, edit=lambda item, text: None)
    with pytest.raises(ReadonlyError):
        c.skip(None, target=TARGET)
    with pytest.raises(ReadonlyError):
        c.notifier().send("slack", "progress", [])
    assert not receiver.requests and not session.journal_path.exists()


def test_the_followed_records_show_what_was_sent(tmp_path, receiver):
    c, host, data, session = comms(tmp_path, receiver)
    try:
        c.send(None, target=TARGET)
        wait_for(lambda: c.incident.follower.waiting >= 3, "opened, declare, the notification")
        c.incident.drain()
        assert [r["type"] for r in data.records] == ["incident_opened", "phase", "notification"]
    finally:
        c.incident.stop()
        session.close()


def test_the_cockpit_pages_what_the_incident_owes_once_over_pagerduty(tmp_path, receiver):
    """With a routing key in the settings, the comms controller's tick sends PagerDuty's trigger
    once the incident is open and the acknowledge once the rollback starts — each once, with one
    dedup_key; the routing key never reaches the journal. (Readonly: tests/backends/test_pagerduty.py.)"""
    key = "R0UTINGKEYsecret0123456789abcdef"
    env = {"COCKPIT_NOTIFY__PAGERDUTY__ROUTING_KEY": key, "COCKPIT_NOTIFY__PAGERDUTY__URL": receiver.url(""),
           "COCKPIT_NOTIFY__ATTEMPTS": "1"}
    settings = types.SimpleNamespace(notify=load_notify_settings(env))
    host, data = InlineHost(), UIData()
    data.target = TARGET
    session = Session(backend=None, journal_path=tmp_path / "incident.jsonl")
    incident = Incident(host, data, session)
    c = CommsController(host, data, incident, load_settings=lambda: compose.notify_settings(settings),
                        notifier_factory=compose.notifier_factory(settings, False))
    try:
        c.start()
        assert "pagerduty" in data.comms_channels
        c.tick()
        assert receiver.requests == []  # no incident yet: nothing owed
        incident.open_for(TARGET, "rollback to revision 2")
        wait_for(lambda: incident.follower.waiting >= 2, "the incident's first records")
        incident.drain()
        c.tick()
        wait_for(lambda: len(receiver.requests) == 1, "the trigger")
        session.record("phase", phase="execute")
        wait_for(lambda: incident.follower.waiting >= 1 or any(r.get("type") == "notification" for r in data.records),
                 "the journal's next records")
        wait_for(lambda: (incident.drain() or True) and any(r.get("phase") == "execute" for r in data.records), "execute")
        c.tick()
        wait_for(lambda: len(receiver.requests) == 2, "the acknowledge")
        actions = [r.json["event_action"] for r in receiver.requests]
        assert actions == ["trigger", "acknowledge"]
        assert len({r.json["dedup_key"] for r in receiver.requests}) == 1
        incident.drain()
        c.tick()  # nothing more is owed until the incident resolves
        import time

        time.sleep(0.3)
        assert len(receiver.requests) == 2
        assert key not in session.journal_path.read_text()
    finally:
        incident.stop()
        session.close()
