"""PagerDuty as a comms channel (Events API v2) against the suite's local HTTP receiver:
the documented payload shapes (routing_key, event_action, dedup_key, payload{summary, source,
severity}), trigger on declare / acknowledge when the rollback starts / resolve when the
incident resolves, one dedup_key per incident so a resend never opens a second page,
escalations page, 429 and 5xx retried then delivered, a failure journaled after the last
attempt, readonly sending nothing, the routing key never in the journal or the output."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import SecretStr

from backends.notify.notifier import Notifier
from backends.notify.outbox import DrillOutbox
from cockpit import cli
from cockpit.comms import (
    CommsPolicy, Due, EscalationRule, NotifySettings, PagerDutySettings, incident_dedup_key, pagerduty_owed, plan,
)
from cockpit.errors import ReadonlyError
from cockpit.journal import Journal, read_journal

ROUTING_KEY = "R0UTING-KEY-sekrit-0123456789abcdef"


def pd(receiver, **kw) -> PagerDutySettings:
    return PagerDutySettings(routing_key=SecretStr(ROUTING_KEY), url=receiver.url(""), **kw)


def notifier(receiver, journal, **kw) -> Notifier:
    ns = NotifySettings(attempts=3, backoff_s=0, timeout_s=5)
    return Notifier(ns, journal=journal, pagerduty=pd(receiver), sleep=lambda s: None, **kw)


@pytest.fixture
def journal(tmp_path):
    with Journal.open(tmp_path / "j.jsonl") as j:
        j.append("incident_opened", target="shop/checkout", kind="deployment", reason="5xx spike after deploy v1.2.3",
                 who="alice")
        yield j


def pages(receiver):
    return [r.json for r in receiver.requests if r.path == "/v2/enqueue"]


def test_lifecycle_trigger_acknowledge_resolve(receiver, journal):
    n = notifier(receiver, journal)
    assert "pagerduty" in n.channels
    [d] = n.page()
    assert d.ok
    journal.append("phase", phase="execute")
    [d] = n.page()
    assert d.ok
    assert n.page() == []  # nothing more is owed while the rollback runs
    journal.append("incident_resolved", summary="rolled back")
    [d] = n.page()
    assert d.ok and n.page() == []
    trig, ack, res = pages(receiver)
    key = incident_dedup_key(journal.read())
    assert key and len(key) <= 255
    assert set(trig) == {"routing_key", "event_action", "dedup_key", "payload", "client"}
    assert (trig["routing_key"], trig["event_action"], trig["dedup_key"]) == (ROUTING_KEY, "trigger", key)
    p = trig["payload"]
    assert p["summary"] == "Rollback incident declared on shop/checkout: 5xx spike after deploy v1.2.3"
    assert (p["source"], p["severity"], p["component"]) == ("shop/checkout", "critical", "shop/checkout")
    assert ack == {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": key}
    assert res == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key}
    assert all(r.method == "POST" and r.headers["content-type"] == "application/json" for r in receiver.requests)
    notes = [r for r in journal.read() if r["type"] == "notification"]
    assert [(r["channel"], r["purpose"], r["ok"], r["dedup_key"]) for r in notes] == [
        ("pagerduty", a, True, key) for a in ("trigger", "acknowledge", "resolve")]
    assert ROUTING_KEY not in journal.path.read_text()


def test_resend_keeps_the_dedup_key(receiver, journal):
    n = notifier(receiver, journal)
    n.send("pagerduty", purpose="trigger")
    n.send("pagerduty", purpose="trigger")  # an operator's resend
    other = Notifier(NotifySettings(attempts=1), journal=journal, pagerduty=pd(receiver))  # another process, same journal
    other.send("pagerduty", purpose="trigger")
    assert len({p["dedup_key"] for p in pages(receiver)}) == 1
    assert pagerduty_owed(journal.read()) == []  # the trigger went out: page() sends nothing new
    assert n.page() == [] and len(pages(receiver)) == 3


def test_a_new_incident_gets_a_new_key(receiver, journal):
    first = incident_dedup_key(journal.read())
    journal.append("incident_closed", target="shop/checkout", reason="done")
    journal.append("incident_opened", target="shop/checkout", kind="deployment", reason="again")
    assert incident_dedup_key(journal.read()) not in (None, first)
    assert pagerduty_owed(journal.read()) == ["trigger"]


def test_retries_then_delivered(receiver, journal):
    receiver.fail(1, status=429)
    receiver.fail(1, status=502)
    sleeps: list[float] = []
    n = Notifier(NotifySettings(attempts=4, backoff_s=0.5), journal=journal, pagerduty=pd(receiver), sleep=sleeps.append)
    [d] = n.page()
    assert d.ok and d.attempts == 3 and len(receiver.requests) == 3
    assert len({r.json["dedup_key"] for r in receiver.requests}) == 1
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0] > 0


def test_failure_after_last_attempt_is_journaled_and_still_owed(receiver, journal):
    receiver.fail(3, status=503)
    [d] = notifier(receiver, journal).page()
    assert not d.ok and "503 after 3 attempts" in d.detail and len(receiver.requests) == 3
    [note] = [r for r in journal.read() if r["type"] == "notification"]
    assert (note["channel"], note["ok"], note["purpose"]) == ("pagerduty", False, "trigger")
    assert pagerduty_owed(journal.read()) == ["trigger"]
    [d] = notifier(receiver, journal).page()  # the resend: same key, delivered
    assert d.ok and len({p["dedup_key"] for p in pages(receiver)}) == 1
    assert ROUTING_KEY not in journal.path.read_text()


def test_refused_routing_key_not_echoed(receiver, journal):
    receiver.respond("POST", "/v2/enqueue", 400, {"status": "invalid event", "message": "Event object is invalid",
                                                   "errors": [f"bad routing key {ROUTING_KEY}"]})
    [d] = notifier(receiver, journal).page()
    assert not d.ok and d.status == 400 and ROUTING_KEY not in d.detail
    assert ROUTING_KEY not in journal.path.read_text()


def test_escalation_pages(receiver, journal):
    due = Due("escalation", datetime(2026, 1, 1, tzinfo=timezone.utc), level=2, targets=("@platform-lead",),
              channels=("pagerduty",))
    [d] = notifier(receiver, journal).send_due(due)
    assert d.ok
    [p] = pages(receiver)
    assert p["event_action"] == "trigger" and p["payload"]["summary"].startswith("ESCALATION 2: shop/checkout")
    [note] = [r for r in journal.read() if r["type"] == "notification"]
    assert (note["purpose"], note["level"], note["item"]) == ("escalation", 2, "escalation:2")
    policy = CommsPolicy(escalations=(EscalationRule(2, 60.0, channels=("pagerduty",)),))
    assert plan(journal.read(), policy).escalations[0].status == "sent"
    assert pagerduty_owed(journal.read()) == []  # the escalation's page was the trigger (same key)


def test_pages_do_not_count_as_team_updates(receiver, journal):
    before = plan(journal.read()).update
    notifier(receiver, journal).page()
    assert plan(journal.read()).update == before


def test_readonly_sends_nothing(receiver, journal):
    n = notifier(receiver, journal, readonly=True)
    with pytest.raises(ReadonlyError):
        n.page()
    with pytest.raises(ReadonlyError):
        n.send("pagerduty", purpose="trigger")
    assert len(receiver.requests) == 0
    assert [r for r in journal.read() if r["type"] == "notification"] == []


def test_drill_pages_no_one(receiver, tmp_path):
    with Journal.open(tmp_path / "d.jsonl") as j:
        j.append("incident_opened", target="shop/checkout", kind="deployment", reason="drill", drill=True)
        assert pagerduty_owed(j.read()) == []
        assert DrillOutbox(NotifySettings(), journal=j, pagerduty=pd(receiver)).page() == []
    assert len(receiver.requests) == 0


def test_resolved_before_any_page_owes_nothing(journal):
    journal.append("incident_resolved", summary="false alarm")
    assert pagerduty_owed(journal.read()) == []


def test_command_page(receiver, journal, capsys, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", receiver.url(""))
    monkeypatch.setenv("COCKPIT_NOTIFY__ATTEMPTS", "2")
    monkeypatch.setenv("COCKPIT_NOTIFY__BACKOFF_S", "0")
    path = str(journal.path)
    code = cli.main(["notify", "page", "--journal", path, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["dedup_key"] == incident_dedup_key(read_journal(journal.path))
    assert [p["event_action"] for p in pages(receiver)] == ["trigger"]
    code = cli.main(["notify", "page", "--journal", path, "--readonly"])
    out2, err2 = capsys.readouterr()
    assert code == 5 and "readonly" in err2 and len(receiver.requests) == 1
    receiver.fail(2, status=500)
    code = cli.main(["notify", "page", "--journal", path, "--action", "acknowledge"])
    out3, err3 = capsys.readouterr()
    assert code == 1 and "500 after" in err3 and len(err3.strip().splitlines()) == 1, err3
    assert ROUTING_KEY not in out + err + out2 + err2 + out3 + err3 + journal.path.read_text()


def test_command_page_not_configured(journal, capsys, monkeypatch):
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    code = cli.main(["notify", "page", "--journal", str(journal.path)])
    _out, err = capsys.readouterr()
    assert code == 2 and "PagerDuty is not configured" in err and len(err.strip().splitlines()) == 1


def test_retry_after_is_honoured_for_pages(journal):
    """A loopback server that answers 429 with ``Retry-After: 3`` once (the receiver cannot set
    response headers), then 202 as PagerDuty does."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[dict] = []

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            hits.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            first = len(hits) == 1
            body = json.dumps({"status": "throttled"} if first else
                              {"status": "success", "message": "Event processed", "dedup_key": hits[-1]["dedup_key"]}).encode()
            self.send_response(429 if first else 202)
            if first:
                self.send_header("Retry-After", "3")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        sleeps: list[float] = []
        settings = PagerDutySettings(routing_key=SecretStr(ROUTING_KEY), url=f"http://127.0.0.1:{srv.server_address[1]}")
        [d] = Notifier(NotifySettings(attempts=3, backoff_s=0.01), journal=journal, pagerduty=settings,
                       sleep=sleeps.append).page()
    finally:
        srv.shutdown()
        srv.server_close()
    assert d.ok and d.status == 202 and d.attempts == 2 and sleeps == [3.0]
    assert hits[0]["dedup_key"] == hits[1]["dedup_key"]
