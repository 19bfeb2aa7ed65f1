"""The report tells why the rollback was started, every checklist item (ticked or not
verified), whether the incident was resolved with checks open, and the rollback itself."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from markdown_it import MarkdownIt

from cockpit.report import build_report, render_json, render_markdown
from cockpit.runbook import DEFAULT_CHECKLIST

T0 = datetime(2024, 5, 1, 6, 30, tzinfo=timezone.utc)


def rec(sec: float, type: str, **data) -> dict:  # noqa: A002
    ts = (T0 + timedelta(seconds=sec)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"seq": int(sec) + 1, "ts": ts, "actor": "alice@bastion", "type": type, **data}


def incident(*middle: dict, resolved: dict | None = None) -> list[dict]:
    out = [
        rec(0, "incident_opened", target="shop/checkout", kind="deployment", reason="", who="alice"),
        rec(5, "metrics", error_rate=0.04, p95_ms=900.0),
        rec(10, "verdict", value="rollback_now", reasons=["error rate 31.0 % > 5 %", "p95 2400 ms > 2000 ms"],
            error_rate=0.31, p95_ms=2400.0),
        rec(12, "metrics", error_rate=0.22, p95_ms=2600.0),
        *middle,
        rec(20, "revision_chosen", target="shop/checkout", revision=2, images=["reg/shop/checkout:1.4.2"],
            why="last revision seen healthy (06:12)"),
        rec(21, "intent", id="i1", action="kubernetes.rollback", params={"to_revision": 2}),
        rec(40, "outcome", id="i1", ok=True, result={"from_revision": 3, "to_revision": 2,
                                                      "images": ["reg/shop/checkout:1.4.2"]}),
        rec(60, "metrics", error_rate=0.002, p95_ms=210.0),
        rec(70, "check", id="rollout_complete", ok=True, who="cockpit", evidence="3/3 updated, 3 available"),
        rec(80, "check", id="smoke_tests", ok=True, who="bob", evidence="./smoke.sh exit 0", note="checkout > pay ok"),
        rec(85, "check", id="payments", ok=False, who="carol", note="one refund stuck"),
    ]
    if resolved is not None:
        out.append(resolved)
    return out


def test_an_automatic_trigger_is_the_reason() -> None:
    records = incident(rec(15, "trigger", target="shop/checkout", name="error_rate", reason="errors > 5% for 5 checks",
                           count=5, auto=True, to_revision=2, why="last revision seen healthy"))
    data = json.loads(render_json(build_report(records)))
    assert data["reason"] == "trigger error_rate: errors > 5% for 5 checks (armed: automatic rollback)"
    assert data["why"]["trigger"]["name"] == "error_rate" and data["why"]["trigger"]["auto"] is True
    assert data["why"]["verdict"] == {"value": "rollback_now", "at": "2024-05-01T06:30:10Z",
                                      "reasons": ["error rate 31.0 % > 5 %", "p95 2400 ms > 2000 ms"]}
    assert data["why"]["revision_why"] == "last revision seen healthy (06:12)"
    md = render_markdown(build_report(records))
    assert "- **Trigger**: error\\_rate — errors \\> 5% for 5 checks at 2024-05-01T06:30:15Z (armed: automatic rollback)" in md
    assert "&gt;" not in md


def test_the_verdict_and_its_reasons_when_nothing_else_says_why() -> None:
    data = json.loads(render_json(build_report(incident())))
    assert data["reason"] == "verdict rollback_now: error rate 31.0 % > 5 %; p95 2400 ms > 2000 ms"


def test_the_operators_answers_when_the_verdict_was_ok() -> None:
    records = [r for r in incident() if r["type"] != "verdict"]
    records[2:2] = [rec(13, "operator_input", key="data_loss", value=False),
                    rec(14, "operator_input", key="users_affected", value=0.4)]
    rep = build_report(records)
    assert rep.reason == "operator's answers: data_loss = False, users_affected = 0.4"
    assert rep.why["answers"] == {"data_loss": False, "users_affected": 0.4}
    assert "- **Operator's answers**: data\\_loss = False; users\\_affected = 0.4 (40.0 %)" in render_markdown(rep)


def test_peak_and_rolled_back_in_json() -> None:
    data = json.loads(render_json(build_report(incident())))
    assert data["peak"]["error_rate"] == 0.31 and data["peak"]["error_rate_at"] == "2024-05-01T06:30:10Z"
    assert data["peak"]["p95_ms"] == 2600.0 and data["peak"]["p95_ms_at"] == "2024-05-01T06:30:12Z"
    assert data["rolled_back"] == {"at": "2024-05-01T06:30:40Z", "action": "kubernetes.rollback", "from_revision": 3,
                                   "to_revision": 2, "images": ["reg/shop/checkout:1.4.2"],
                                   "why": "last revision seen healthy (06:12)"}
    assert data["comparison"]["before"]["error_rate"] == 0.22 and data["comparison"]["after"]["error_rate"] == 0.002


def test_every_checklist_item_ticked_or_not_verified() -> None:
    data = json.loads(render_json(build_report(incident())))
    by_id = {c["id"]: c for c in data["checks"]}
    assert [c["id"] for c in data["checks"]] == [c.id for c in DEFAULT_CHECKLIST]
    assert by_id["rollout_complete"]["ok"] is True and by_id["rollout_complete"]["who"] == "cockpit"
    assert by_id["smoke_tests"] == {"id": "smoke_tests", "title": "Smoke tests run", "auto": False, "ok": True,
                                    "who": "bob", "at": "2024-05-01T06:31:20Z", "evidence": "./smoke.sh exit 0",
                                    "note": "checkout > pay ok"}
    assert by_id["payments"]["ok"] is False and by_id["payments"]["note"] == "one refund stuck"
    unticked = [c["id"] for c in data["checks"] if c["ok"] is None]
    assert len(unticked) == len(DEFAULT_CHECKLIST) - 3 and "communication_sent" in unticked
    md = render_markdown(build_report(incident()))
    assert "| Smoke tests run (smoke\\_tests) | ✓ verified | bob | 06:31:20 | ./smoke\\.sh exit 0 | checkout \\> pay ok |" in md
    assert "| Payment processing verified (payments) | ✗ failed | carol |" in md
    assert "| Communication sent (communication\\_sent) | not verified | — | — | — | — |" in md
    assert "2 of 15 checks verified." in md


def test_a_runbooks_verify_list_is_the_checklist() -> None:
    yaml = ("name: rb\ntarget: {kind: deployment, namespace: shop, name: checkout}\n"
            "steps:\n  - {kind: kubernetes.rollback}\n"
            "verify:\n  - {id: smoke_tests, title: Smoke tests}\n  - {id: cart, title: Cart works}\n")
    data = json.loads(render_json(build_report(incident(rec(16, "runbook", yaml=yaml)))))
    assert [(c["id"], c["title"], c["ok"]) for c in data["checks"]] == [
        ("smoke_tests", "Smoke tests", True), ("cart", "Cart works", None),
        ("rollout_complete", "rollout_complete", True), ("payments", "payments", False)]


def test_resolved_with_checks_open_or_not() -> None:
    anyway = rec(600, "incident_resolved", summary="back on 1.4.2", open_checks=["user_journeys"])
    data = json.loads(render_json(build_report(incident(resolved=anyway))))
    assert data["resolved_with_open_checks"] is True and "user_journeys" in data["open_checks"]
    assert "**Resolved with 13 check(s) open**" in render_markdown(build_report(incident(resolved=anyway)))
    assert json.loads(render_json(build_report(incident())))["resolved_with_open_checks"] is False  # still open
    ticks = [rec(100 + i, "check", id=c.id, ok=True, who="bob") for i, c in enumerate(DEFAULT_CHECKLIST)]
    done = incident(*[], resolved=None) + ticks + [rec(600, "incident_resolved", summary="ok")]
    rep = build_report(done)
    assert rep.resolved_with_open_checks is False and rep.open_checks == []
    assert "Resolved with every check verified." in render_markdown(rep)


def test_the_why_section_renders_as_text() -> None:
    records = incident(rec(15, "trigger", target="shop/checkout", name="[x](https://evil.example)",
                           reason="<img src=x> ![p](https://evil.example/p.png)", auto=False))
    html = MarkdownIt("commonmark").render(render_markdown(build_report(records)))
    assert "<a " not in html and "<img" not in html
