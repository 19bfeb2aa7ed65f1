"""Notify backends against a local receiver: payload shapes, retries, readonly, no secrets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.notify.notifier import Notifier
from cockpit.cli import main
from cockpit.comms import NotifySettings, plan
from cockpit.errors import ReadonlyError
from cockpit.journal import Journal, read_journal

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SLACK_SECRET = "T000/B000/slack-sekrit-XYZ"
API_KEY = "sp-api-key-sekrit-123"
HOOK_SECRET = "hook-token-sekrit-456"


def settings(receiver, **kw) -> NotifySettings:
    return NotifySettings(
        slack_webhook_url=receiver.url(f"/services/{SLACK_SECRET}"),
        webhook_url=receiver.url(f"/hook?token={HOOK_SECRET}"),
        statuspage_api_key=API_KEY, statuspage_page_id="pg1", statuspage_url=receiver.url(""),
        statuspage_components=["cmp1", "cmp2"], attempts=3, backoff_s=0, timeout_s=5, **kw)


@pytest.fixture
def journal(tmp_path: Path):
    src = [r for r in read_journal(GOLDEN / "incident_resolved.jsonl") if r["seq"] <= 3]
    path = tmp_path / "j.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in src))
    with Journal.open(path, clock=lambda: "2024-05-01T14:31:00.000Z") as j:
        yield j


def test_slack_payload_is_text_plus_blocks(receiver, journal) -> None:
    d = Notifier(settings(receiver), journal=journal).send("slack", "started")
    assert d.ok and d.attempts == 1
    (req,) = receiver.requests
    assert req.method == "POST" and req.path == f"/services/{SLACK_SECRET}"
    assert req.headers["content-type"] == "application/json" and req.headers["user-agent"] == "cockpit/0.1.0"
    body = req.json
    assert set(body) == {"text", "blocks"} and body["text"].startswith("ROLLBACK INITIATED: shop/checkout")
    header, section, ctx = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": body["text"].splitlines()[0], "emoji": True}}
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "*Reason*: 5xx spike after deploy v1.2.3 | \\e[31mred\\e[0m" in section["text"]["text"]  # escapes shown inert
    assert ctx["type"] == "context" and ctx["elements"][0]["type"] == "mrkdwn"
    (note,) = [r for r in journal.read() if r["type"] == "notification"]
    assert (note["channel"], note["ok"], note["purpose"], note["attempts"]) == ("slack", True, "started", 1)


def test_slack_escapes_outside_text(receiver, journal) -> None:
    journal.append("operator_input", key="x", value=1)
    Notifier(settings(receiver), journal=journal).send("slack", "started", extra={"reason": "<!channel> hi"})
    assert "&lt;!channel&gt; hi" in receiver.requests[0].json["blocks"][1]["text"]["text"]


def test_statuspage_create_then_update_then_resolve(receiver, journal) -> None:
    receiver.respond("POST", "/v1/pages/pg1/incidents", 201, {"id": "inc42", "status": "investigating"})
    receiver.respond("PATCH", "/v1/pages/pg1/incidents/inc42", 200, {"id": "inc42"})
    n = Notifier(settings(receiver), journal=journal)
    first = n.send("statuspage")
    assert first.ok and first.data == {"status": "investigating", "incident_id": "inc42"}
    create = receiver.requests[0]
    assert (create.method, create.path) == ("POST", "/v1/pages/pg1/incidents")
    assert create.headers["authorization"] == f"OAuth {API_KEY}"
    assert create.json == {"incident": {
        "status": "investigating", "body": "We are investigating issues with the latest deployment.",
        "name": "Service issues: shop/checkout", "component_ids": ["cmp1", "cmp2"],
        "components": {"cmp1": "partial_outage", "cmp2": "partial_outage"}, "deliver_notifications": True}}
    n.send("statuspage", status="identified")
    journal.append("incident_resolved", summary="ok")
    n.send("statuspage")
    upd, res = receiver.requests[1], receiver.requests[2]
    assert (upd.method, upd.path) == ("PATCH", "/v1/pages/pg1/incidents/inc42")
    assert "name" not in upd.json["incident"] and upd.json["incident"]["status"] == "identified"
    assert res.json["incident"]["status"] == "resolved"
    assert res.json["incident"]["components"] == {"cmp1": "operational", "cmp2": "operational"}
    notes = [r for r in journal.read() if r["type"] == "notification"]
    assert [r["statuspage_status"] for r in notes] == ["investigating", "identified", "resolved"]
    assert {r["incident_id"] for r in notes} == {"inc42"}


def test_webhook_generic_json(receiver, journal) -> None:
    Notifier(settings(receiver), journal=journal).send("webhook", "completed")
    body = receiver.requests[0].json
    assert body["source"] == "cockpit" and body["event"] == "completed"
    assert body["incident"]["service"] == "shop/checkout" and body["title"].startswith("ROLLBACK COMPLETE")


def test_retries_after_500s_then_succeeds(receiver, journal) -> None:
    receiver.fail(2, 500)
    d = Notifier(settings(receiver), journal=journal).send("slack", "progress")
    assert d.ok and d.attempts == 3 and len(receiver.requests) == 3


def test_gives_up_after_attempts_and_journals_the_failure(receiver, journal) -> None:
    receiver.fail(5, 503)
    d = Notifier(settings(receiver), journal=journal).send("slack", "progress")
    assert not d.ok and d.attempts == 3 and len(receiver.requests) == 3
    (note,) = [r for r in journal.read() if r["type"] == "notification"]
    assert note["ok"] is False and note["status_code"] == 503 and "after 3 attempts" in note["detail"]
    # a failed update is still owed
    assert plan(journal.read()).update.due_at.isoformat().startswith("2024-05-01T14:35:00")


def test_4xx_is_not_retried(receiver, journal) -> None:
    receiver.respond("POST", "/services/", 404, "no_service", "text/plain")
    d = Notifier(settings(receiver), journal=journal).send("slack", "progress")
    assert not d.ok and d.attempts == 1 and "no_service" in d.detail


def test_network_error_is_retried_and_journaled(journal, receiver) -> None:
    receiver.stop()
    s = settings(receiver)
    d = Notifier(s, journal=journal).send("webhook", "progress")
    assert not d.ok and d.attempts == 3 and "cannot reach webhook" in d.detail


def test_readonly_refuses_before_anything_leaves(receiver, journal) -> None:
    n = Notifier(settings(receiver), readonly=True, journal=journal)
    for ch in ("slack", "statuspage", "webhook"):
        with pytest.raises(ReadonlyError):
            n.send(ch, "started")
    with pytest.raises(ReadonlyError):
        n.test("statuspage")
    assert receiver.requests == []
    assert not [r for r in journal.read() if r["type"] == "notification"]


def test_no_secret_in_any_output(receiver, tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "inc.jsonl"
    src = read_journal(GOLDEN / "incident_resolved.jsonl")[:3]
    path.write_text("".join(json.dumps(r) + "\n" for r in src))
    env = {"COCKPIT_NOTIFY__SLACK_WEBHOOK_URL": receiver.url(f"/services/{SLACK_SECRET}"),
           "COCKPIT_NOTIFY__WEBHOOK_URL": receiver.url(f"/hook?token={HOOK_SECRET}"),
           "COCKPIT_NOTIFY__STATUSPAGE_API_KEY": API_KEY, "COCKPIT_NOTIFY__STATUSPAGE_PAGE_ID": "pg1",
           "COCKPIT_NOTIFY__STATUSPAGE_URL": receiver.url(""), "COCKPIT_NOTIFY__ATTEMPTS": "2",
           "COCKPIT_NOTIFY__BACKOFF_S": "0"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    receiver.respond("POST", "/v1/pages/", 201, {"id": "inc9"})
    assert main(["notify", "send", "slack", "--template", "started", "--journal", str(path)]) == 0
    assert main(["notify", "send", "statuspage", "--journal", str(path), "-o", "json"]) == 0
    assert main(["notify", "send", "webhook", "--journal", str(path)]) == 0
    receiver.fail(2, 500)
    assert main(["notify", "send", "slack", "--journal", str(path)]) == 1  # failure path
    assert main(["notify", "test", "statuspage"]) == 0
    assert main(["notify", "channels", "-o", "json"]) == 0
    assert main(["notify", "due", "--journal", str(path)]) == 0
    out = tmp_path / "r.md"
    assert main(["report", str(path), "--out", str(out)]) == 0
    assert main(["report", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    outputs = {"journal": path.read_text(), "report": out.read_text(), "stdout": captured.out, "stderr": captured.err}
    assert "notification" in outputs["journal"] and "FAILED" in outputs["report"]
    for where, text in outputs.items():
        for secret in (SLACK_SECRET, API_KEY, HOOK_SECRET, "sekrit"):
            assert secret not in text, f"{secret} leaked into {where}"
    assert len(receiver.requests) == 6


def test_steps_send_and_reconcile(receiver, journal) -> None:
    from backends.notify.steps import SlackStep
    from cockpit.steps import StepContext

    n = Notifier(settings(receiver), journal=journal)
    ctx = StepContext(backends={"notify": n}, journal=journal, step_index=3, log=lambda s: None)
    step = SlackStep()
    params = SlackStep.Params(template="completed")
    assert step.reconcile(ctx, params, {}) is None
    out = step.run(ctx, params)
    assert out["channel"] == "slack" and len(receiver.requests) == 1
    assert step.reconcile(ctx, params, {})["already_sent"] is True
    receiver.fail(3)
    from cockpit.errors import CockpitError

    with pytest.raises(CockpitError, match="500"):
        step.run(ctx, params)
