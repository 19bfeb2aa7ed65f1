"""Periodic updates and escalation: what is due next, from the journal alone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cockpit.comms import (
    CommsPolicy, EscalationRule, NotifySettings, communication_tick, load_notify_settings, next_due, plan, skip_event,
)
from cockpit.errors import ConfigError

T0 = datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)


def rec(sec: float, type: str, **data) -> dict:  # noqa: A002
    ts = (T0 + timedelta(seconds=sec)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"seq": 0, "ts": ts, "actor": "a@b", "type": type, **data}


OPEN = [rec(0, "incident_opened", target="shop/checkout", reason="x")]


def test_nothing_due_without_an_incident() -> None:
    assert next_due([]) is None
    assert not plan([]).open


def test_first_update_and_escalations_from_opening() -> None:
    p = plan(OPEN)
    assert p.update is not None and p.update.due_at == T0 + timedelta(minutes=5)
    assert [(e.level, e.due_at) for e in p.escalations] == [(1, T0 + timedelta(minutes=5)), (2, T0 + timedelta(minutes=15))]
    # at the same time the escalation comes first
    assert p.next.kind == "escalation" and p.next.level == 1
    assert p.due_now(T0 + timedelta(minutes=4)) == []
    assert [d.key for d in p.due_now(T0 + timedelta(minutes=6))] == ["escalation:1", "update"]


def test_a_delivered_update_resets_the_timer_a_failed_one_does_not() -> None:
    failed = plan(OPEN + [rec(200, "notification", channel="slack", ok=False, purpose="progress")])
    assert failed.update.due_at == T0 + timedelta(minutes=5) and failed.failed_sends == 1
    sent = plan(OPEN + [rec(200, "notification", channel="slack", ok=True, purpose="progress")])
    assert sent.update.due_at == T0 + timedelta(seconds=500)


def test_escalation_done_when_sent_or_skipped() -> None:
    p = plan(OPEN + [rec(301, "notification", channel="slack", ok=True, purpose="escalation", level=1),
                     rec(310, "comms", action="skip", item="update")])
    assert [e.status for e in p.escalations] == ["sent", "pending"]
    assert p.update.due_at == T0 + timedelta(seconds=610)  # the skip counts as the update
    assert p.next.key == "update"
    skipped = plan(OPEN + [rec(0, "comms", **skip_event(p.escalations[1]))])
    assert [e.status for e in skipped.escalations] == ["pending", "skipped"]


def test_nothing_due_once_resolved() -> None:
    p = plan(OPEN + [rec(100, "incident_resolved")])
    assert p.next is None and not p.open and p.update is None
    assert p.escalations == ()


def test_custom_policy_and_settings() -> None:
    policy = CommsPolicy(update_every_s=60, escalations=(EscalationRule(1, 120, ("@lead",)),))
    assert next_due(OPEN, policy).due_at == T0 + timedelta(minutes=1)
    s = NotifySettings(update_every_min=2, escalation=[{"after_min": 15, "targets": ["@cto"]}, {"after_min": 5, "targets": ["@lead"]}])
    pol = s.policy()
    assert pol.update_every_s == 120 and [(e.level, e.after_s, e.targets) for e in pol.escalations] == [(1, 300, ("@lead",)), (2, 900, ("@cto",))]


def test_env_loader_reads_secrets_and_names_bad_variables() -> None:
    s = load_notify_settings({"COCKPIT_NOTIFY__SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/sekrit",
                              "COCKPIT_NOTIFY__UPDATE_EVERY_MIN": "3",
                              "COCKPIT_NOTIFY__ESCALATION": '[{"after_min": 5, "targets": ["@lead"]}]'})
    assert s.slack_webhook_url.get_secret_value().endswith("sekrit") and "sekrit" not in repr(s)
    assert s.update_every_min == 3 and s.escalation[0].targets == ["@lead"]
    with pytest.raises(ConfigError, match="COCKPIT_NOTIFY__UPDATE_EVERY_MIN"):
        load_notify_settings({"COCKPIT_NOTIFY__UPDATE_EVERY_MIN": "soon"})
    with pytest.raises(ConfigError, match="typo"):
        load_notify_settings({"COCKPIT_NOTIFY__SLAK_WEBHOOK_URL": "x"})


def test_escalations_cancelled_once_the_rollback_is_verified() -> None:
    verify = OPEN + [rec(120, "phase", phase="execute"), rec(200, "phase", phase="verify")]
    assert [e.status for e in plan(verify).escalations] == ["pending", "pending"]  # not verified yet
    p = plan(verify + [rec(280, "phase", phase="monitor")])
    assert [(e.key, e.status, e.done_at) for e in p.escalations] == [
        ("escalation:1", "cancelled", T0 + timedelta(seconds=280)),
        ("escalation:2", "cancelled", T0 + timedelta(seconds=280))]
    assert p.next is not None and p.next.kind == "update"  # updates still owed while monitoring
    assert [d.key for d in p.due_now(T0 + timedelta(hours=1))] == ["update"]


def test_an_escalation_sent_before_verification_stays_sent() -> None:
    p = plan(OPEN + [rec(301, "notification", channel="slack", ok=True, purpose="escalation", level=1),
                     rec(400, "phase", phase="monitor")])
    assert [e.status for e in p.escalations] == ["sent", "cancelled"]


def _checklist_state(records: list[dict]):  # noqa: ANN202
    from cockpit.state import replay

    return replay(records)


def test_a_delivered_slack_message_ticks_communication_sent() -> None:
    from cockpit.runbook import DEFAULT_CHECKLIST, CheckItem

    failed = OPEN + [rec(40, "notification", channel="slack", ok=False, purpose="started")]
    assert communication_tick(DEFAULT_CHECKLIST, _checklist_state(failed)) is None
    other = OPEN + [rec(40, "notification", channel="statuspage", ok=True, purpose="statuspage")]
    assert communication_tick(DEFAULT_CHECKLIST, _checklist_state(other)) is None
    sent = failed + [rec(45, "notification", channel="slack", ok=True, purpose="started")]
    assert communication_tick(DEFAULT_CHECKLIST, _checklist_state(sent)) == {
        "id": "communication_sent", "ok": True, "who": "cockpit",
        "evidence": "Slack started message delivered at 14:30:45 UTC"}
    ticked = sent + [rec(50, "check", id="communication_sent", ok=True, who="cockpit")]
    assert communication_tick(DEFAULT_CHECKLIST, _checklist_state(ticked)) is None
    # a runbook's own list: the item found by its title; a list without one: nothing to tick
    own = [CheckItem(id="comms", title="Communication sent")]
    assert communication_tick(own, _checklist_state(sent))["id"] == "comms"
    assert communication_tick([CheckItem(id="smoke", title="Smoke tests")], _checklist_state(sent)) is None
