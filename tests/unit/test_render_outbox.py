"""The comms panel's pure renders for a drill: the outbox's messages (newest first, as Slack
would display them, outside text inert), the channel line naming the outbox, the
"rollback started" item announced first."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cockpit.comms import plan
from screens import render_ops as ro
from tests.ui.fakes import HOSTILE

T0 = datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)


def rec(sec: float, type: str, **data) -> dict:  # noqa: A002
    ts = (T0 + timedelta(seconds=sec)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"seq": int(sec), "ts": ts, "actor": "ann@bastion", "type": type, **data}


def posted(sec: float, purpose: str, title: str, text: str, **kw) -> dict:
    return rec(sec, "notification", channel="outbox", ok=True, purpose=purpose, title=title, text=text,
               detail="drill outbox: kept in the journal, nothing left this machine", **kw)


def test_the_outbox_shows_the_latest_messages_newest_first_as_slack_would():
    assert "the outbox is empty" in ro.outbox_lines([]).plain
    recs = [posted(10, "started", "ROLLBACK INITIATED: shop/checkout", "*Verdict*: error rate 30% &gt; 5%"),
            rec(11, "notification", channel="slack", ok=True, purpose="progress", title="not the outbox"),
            posted(20, "progress", "Rollback status", "\n".join(f"line {i}" for i in range(9)), edited=True),
            posted(30, "escalation", "ESCALATION 1", "*Escalation*: still open", level=1)]
    shown = ro.outbox_lines(recs, limit=2).plain
    assert shown.index("escalation 1") < shown.index("progress (edited)")  # newest first
    assert "line 5" in shown and "line 6" not in shown and "… 3 more lines in the journal" in shown
    assert "1 older messages in the journal" in shown and "not the outbox" not in shown
    assert "error rate 30% > 5%" in ro.outbox_lines(recs).plain  # what Slack displays, not its escapes


@pytest.mark.parametrize("hostile", HOSTILE)
def test_outside_text_in_the_outbox_is_inert(hostile):
    shown = ro.outbox_lines([posted(10, hostile, hostile, hostile + "\n" + hostile)]).plain
    for bad in ("\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\x00"):
        assert bad not in shown


def test_the_channel_line_names_the_outbox_and_the_started_message_is_announced_first():
    assert "nothing is sent" in ro.channels_line(["outbox"]).plain
    assert "nothing is sent" not in ro.channels_line(["slack"]).plain
    p = plan([rec(0, "incident_opened", target="shop/checkout", drill=True), rec(60, "phase", phase="execute")])
    assert [d.key for d in p.items][:2] == ["started", "update"]  # the comms table's first row: s sends it
    lines = ro.next_lines(p, T0 + timedelta(seconds=70)).plain.splitlines()
    assert lines[0].startswith("announce        the rollback    due ") and "OVERDUE 10s" in lines[0]
    assert [ro.item_label(d) for d in p.items] == ["rollback started", "periodic update", "escalation 1", "escalation 2"]
