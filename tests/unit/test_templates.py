"""Templates: defaults from the runbooks, overrides from a directory, filled from the journal."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cockpit.errors import NotFoundError
from cockpit.journal import read_journal
from cockpit.templates import FIELDS, NAMES, check_template, context, load_template, render, statuspage_status

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture
def records() -> list[dict]:
    return read_journal(GOLDEN / "incident_resolved.jsonl")


def test_every_default_template_uses_known_fields_only() -> None:
    for name in NAMES:
        text, path = load_template(name, "/nonexistent")
        assert path.parent.name == "comms_templates"
        assert check_template(text) == [], name


def test_started_filled_from_the_journal(records: list[dict]) -> None:
    ctx = context(records[:6])
    msg = render("started", ctx, directory="/nonexistent")
    assert msg.title == "ROLLBACK INITIATED: shop/checkout ? → ?"
    assert "*Reason*: 5xx spike after deploy v1.2.3 | \\e[31mred\\e[0m" in msg.body
    assert "*Error rate*: 8.2 % · *P95*: 1450 ms" in msg.body and "*On-call*: alice" in msg.body


def test_completed_has_revisions_verdict_and_elapsed(records: list[dict]) -> None:
    msg = render("completed", context(records), directory="/nonexistent")
    assert "*Rolled back to*: revision 4 (from revision 5)" in msg.body
    assert "*Duration*: 16m 00s" in msg.body and "*Verdict*: ok" in msg.body


def test_override_directory_and_escape(tmp_path: Path, records: list[dict]) -> None:
    (tmp_path / "started.txt").write_text("Hey $service\n<!here> reason: $reason $nosuch\n")
    ctx = context(records[:1], extra={"reason": "<!channel> & <http://x|y>"})
    msg = render("started", ctx, directory=tmp_path, escape=lambda v: v.replace("<", "&lt;").replace(">", "&gt;"))
    assert msg.title == "Hey shop/checkout"
    assert msg.body == "<!here> reason: &lt;!channel&gt; & &lt;http://x|y&gt; $nosuch"
    assert check_template("$service $nosuch") == ["nosuch"]
    with pytest.raises(NotFoundError):
        load_template("nope")


def test_statuspage_status_follows_the_incident(records: list[dict]) -> None:
    def upto(seq: int) -> list[dict]:
        return [r for r in records if r["seq"] <= seq]

    assert [statuspage_status(upto(n)) for n in (3, 9, 18, 30)] == ["investigating", "identified", "monitoring", "resolved"]


BOLD = re.compile(r"\*([^*\n]+)\*")


def _bold_spans_are_tight(body: str) -> list[str]:
    """Slack's ``*bold*`` needs no space just inside the asterisks; the spans that break it."""
    return [m.group(0) for m in BOLD.finditer(body) if m.group(1) != m.group(1).strip()]


@pytest.mark.parametrize("name", NAMES)
def test_no_template_breaks_slack_bold_with_values_or_without(name: str, records: list[dict]) -> None:
    empty = {f: "" for f in FIELDS}
    for ctx in (empty, context(records), context(records, extra={"level": 2, "mentions": "@lead"})):
        body = render(name, ctx, directory="/nonexistent").body
        assert _bold_spans_are_tight(body) == [], body


def test_escalation_renders_bold_escalation(records: list[dict]) -> None:
    msg = render("escalation", context(records[:10], extra={"level": 1, "mentions": "@lead"}), directory="/nonexistent")
    assert msg.title.startswith("ESCALATION 1: shop/checkout unresolved after")
    assert msg.body.startswith(":sos: @lead *Escalation*: the incident on *shop/checkout* is still open")
    bare = render("escalation", context(records[:10]), directory="/nonexistent")
    assert "*Escalation*:" in bare.body and "*Escalation *" not in bare.body


def test_the_reason_is_why_the_rollback_was_started(records: list[dict]) -> None:
    trigger = {"seq": 99, "ts": "2024-05-01T14:30:20.000Z", "actor": "cockpit@bastion", "type": "trigger",
               "target": "shop/checkout", "name": "error_rate", "reason": "errors > 5% for 5 checks", "auto": True}
    ctx = context(records[:3] + [trigger] + records[3:6])
    assert ctx["reason"] == "trigger error_rate: errors > 5% for 5 checks (armed: automatic rollback)"
    assert context(records[:6])["reason"].startswith("5xx spike after deploy v1.2.3")
