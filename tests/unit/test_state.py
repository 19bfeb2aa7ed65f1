"""IncidentState: a pure, incremental fold over journal records."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.state import LOG_TAIL, IncidentState, replay

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rec(seq: int, type: str, at: float = 0, **data) -> dict:
    return {"seq": seq, "ts": ts(at), "actor": "alice@bastion", "type": type, **data}


STORY = [
    rec(1, "incident_opened", 0, target="shop/checkout", reason="5xx after deploy", who="alice"),
    rec(2, "phase", 0, phase="declare"),
    rec(3, "verdict", 30, value="rollback", reasons=["error rate 7% > 1%"]),
    rec(4, "phase", 90, phase="identify"),
    rec(5, "operator_input", 100, key="impact", value="checkout down"),
    rec(6, "revision_chosen", 120, revision=3, images=["shop/checkout:1.4.1"]),
    rec(7, "phase", 300, phase="execute"),
    rec(8, "run_started", 300, runbook="checkout rollback", from_step=0, resume=False),
    rec(9, "step_started", 301, index=0, kind="kubernetes.rollback", name="Roll back", budget=300, mutating=True),
    rec(10, "intent", 301, id="i1", action="kubernetes.rollback", step=0, params={"to_revision": 3}),
    rec(11, "log", 302, step=0, line="rolled back to revision 3"),
    rec(12, "outcome", 303, id="i1", ok=True, step=0, result={"revision": 6}),
    rec(13, "step_finished", 303, index=0, kind="kubernetes.rollback", ok=True, status="ok", elapsed=2.0, over_budget=False),
    rec(14, "step_started", 304, index=1, kind="exec", name="smoke", budget=10, mutating=True),
    rec(15, "intent", 304, id="i2", action="exec", step=1),
    rec(16, "outcome", 330, id="i2", ok=False, step=1, error_title="Command failed", error_message="exit 1"),
    rec(17, "step_finished", 330, index=1, kind="exec", ok=False, status="failed", elapsed=26.0,
        over_budget=True, error_title="Command failed", error_message="exit 1"),
    rec(18, "run_finished", 330, ok=False, status="failed", failed_step=1),
    rec(19, "intent", 340, id="i3", action="notify.slack"),
    rec(20, "check", 400, id="pods_ready", ok=True, who="cockpit", evidence={"ready": 3}),
    rec(21, "check", 410, id="smoke_tests", ok=True, who="alice", note="ran by hand"),
    rec(22, "notification", 420, channel="slack", ok=True, detail="posted"),
    rec(23, "future_event", 430, whatever=1),
    rec(24, "phase", 500, phase="verify"),
]


def test_story():
    s = replay(STORY)
    assert s.target == "shop/checkout" and s.reason == "5xx after deploy" and s.opened_by == "alice"
    assert s.opened_at == T0
    assert [p.name for p in s.phases] == ["declare", "identify", "execute", "verify"]
    assert s.phase == "verify"
    assert s.phases[0].elapsed() == 90 and not s.phases[0].over_budget()
    assert s.phases[1].elapsed() == 210 and s.phases[1].over_budget()  # identify budget 180 s
    assert s.phases[-1].elapsed(T0 + timedelta(seconds=560)) == 60
    assert s.verdict == "rollback" and s.verdict_reasons == ["error rate 7% > 1%"]
    assert s.inputs == {"impact": "checkout down"}
    assert (s.revision["revision"], s.revision["images"]) == (3, ["shop/checkout:1.4.1"])
    assert [(a.id, a.status) for a in s.actions] == [("i1", "ok"), ("i2", "failed"), ("i3", "pending")]
    assert [a.id for a in s.pending] == ["i3"]
    assert s.step_intent(1).id == "i2"
    assert s.steps[0].status == "ok" and s.steps[0].budget == 300
    assert s.steps[1].status == "failed" and s.steps[1].over_budget and s.steps[1].error_title == "Command failed"
    assert s.run_status == "failed"
    assert s.checks["pods_ready"].ok and s.checks["pods_ready"].evidence == {"ready": 3}
    assert s.checks["smoke_tests"].who == "alice"
    assert [line.line for line in s.log] == ["rolled back to revision 3"] and s.log_count == 1
    assert s.notifications[0].channel == "slack" and s.notifications[0].ok
    assert [r["type"] for r in s.unknown] == ["future_event"]
    assert not s.resolved and s.last_seq == 24


def test_resolved_and_closed():
    s = replay(STORY + [rec(25, "phase", 600, phase="resolved"), rec(26, "incident_resolved", 600), rec(27, "incident_closed", 601)])
    assert s.resolved and s.closed and s.resolved_at == T0 + timedelta(seconds=600)
    assert s.phases[-2].ended == T0 + timedelta(seconds=600)


def test_log_tail_is_bounded():
    s = replay(rec(i, "log", i, step=0, line=f"line {i}") for i in range(LOG_TAIL + 500))
    assert len(s.log) == LOG_TAIL and s.log_count == LOG_TAIL + 500
    assert s.log[0].line == "line 500"


def test_malformed_records_are_kept_not_fatal():
    s = replay([{"type": "step_started"}, {"type": "outcome", "id": "nope", "ok": True}, "garbage", {"no": "type"}])
    assert s.steps == {} and len(s.unknown) == 3


def test_replay_does_not_mutate_its_input():
    records = copy.deepcopy(STORY)
    replay(records)
    assert records == STORY


# ---- laws


_scalar = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "x", "ok"])
_json = _scalar | st.lists(_scalar, max_size=2) | st.dictionaries(st.sampled_from(["a", "b"]), _scalar, max_size=2)
_types = st.sampled_from(
    ["incident_opened", "phase", "verdict", "operator_input", "revision_chosen", "intent", "outcome",
     "run_started", "run_finished", "step_started", "step_finished", "log", "check", "notification",
     "incident_resolved", "incident_closed", "something_new"]
)


@st.composite
def records(draw):
    n = draw(st.integers(0, 25))
    out = []
    for i in range(n):
        data = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "target": st.sampled_from(["shop/x", ""]),
                    "phase": st.sampled_from(["declare", "identify", "execute", "verify", "monitor", "resolved"]),
                    "value": _json,
                    "reasons": st.lists(st.text(max_size=4), max_size=2),
                    "key": st.text(max_size=3),
                    "id": st.sampled_from(["a", "b", "c"]),
                    "ok": st.booleans(),
                    "index": st.integers(0, 3) | st.text(max_size=2),
                    "step": st.integers(0, 3) | st.none(),
                    "status": st.sampled_from(["ok", "failed", "cancelled"]),
                    "elapsed": st.floats(0, 1000) | st.text(max_size=2),
                    "line": st.text(max_size=10),
                    "channel": st.text(max_size=4),
                    "extra": _json,
                },
            )
        )
        at = draw(st.integers(0, 3600))
        out.append({"seq": i + 1, "ts": ts(at), "actor": "a@h", "type": draw(_types), **data})
    return out


@settings(max_examples=100, deadline=None)
@given(records(), st.data())
def test_replay_prefix_then_apply_rest_equals_replay_all(recs, data):
    cut = data.draw(st.integers(0, len(recs)))
    live = replay(recs[:cut])
    for r in recs[cut:]:
        live.apply(r)
    assert live == replay(recs)


@settings(max_examples=50, deadline=None)
@given(records())
def test_replay_is_deterministic(recs):
    assert replay(recs) == replay(recs)
    assert replay(recs).pending == replay(recs).pending


def test_empty_state():
    s = IncidentState()
    assert s.phase is None and s.pending == [] and s.verdict is None
