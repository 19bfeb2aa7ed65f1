"""The typed journal vocabulary: shapes are enforced on write, reads are lenient, and any
sequence of events folds to the same state from the file as in memory."""
from __future__ import annotations

import dataclasses
import json
import typing
from types import NoneType, UnionType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit import events as ev
from cockpit.journal import Journal, read_journal
from cockpit.state import IncidentState, Meta, record_time, replay

# text without what redaction rewrites (URLs, key=value secrets): redaction is tested elsewhere
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=":=\x00"), max_size=12)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | TEXT,
                       lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def strategy_for(tp: typing.Any) -> st.SearchStrategy:
    origin = typing.get_origin(tp)
    if origin in (UnionType, typing.Union):
        return st.one_of(*[st.none() if a is NoneType else strategy_for(a) for a in typing.get_args(tp)])
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(tp)[0]), max_size=3).map(tuple)
    if tp is dict or origin is dict:
        return st.dictionaries(TEXT, st.integers(-100, 100) | TEXT, max_size=3)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-10**6, 10**6)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if tp is str:
        return TEXT
    return JSONISH


def event_strategy(cls: type[ev.Event]) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls)
    fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls) if f.name != "extra"}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


ANY_EVENT = st.one_of(*[event_strategy(c) for c in ev.EVENT_TYPES.values()])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ANY_EVENT, max_size=25))
def test_events_round_trip_through_the_file_and_fold_the_same(tmp_path_factory, events):
    path = tmp_path_factory.mktemp("j") / "incident.jsonl"
    in_memory = IncidentState()
    with Journal.open(path, actor="alice@bastion") as j:
        for e in events:
            rec = j.write(e)
            in_memory.apply_event(e, Meta(rec["seq"], record_time(rec), rec["actor"]))
            in_memory.last_seq = rec["seq"]
            in_memory.last_at = record_time(rec)
    assert path.exists() == bool(events)  # a journal created and never written is not left behind
    records = read_journal(path) if events else []
    assert [ev.parse(r) for r in records] == events
    from_file = replay(records)
    assert from_file == in_memory


def test_a_field_of_the_wrong_shape_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as j, pytest.raises(ev.EventShapeError, match="images"):
        j.append("revision_chosen", revision=2, images="registry.example/shop/checkout:1.4.2")
    assert not path.exists()  # nothing written: not even the empty file is left


def test_unknown_types_are_refused_on_write_and_kept_on_read(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as j, pytest.raises(ev.EventShapeError, match="unknown journal event type"):
        j.append("made_up", x=1)
    future = {"seq": 1, "ts": "2026-12-02T06:41:00.000Z", "actor": "a@b", "type": "from_the_future", "x": 1}
    state = replay([future])
    assert state.unknown == [future]


def test_older_and_newer_records_still_fold_and_keep_their_extra_keys():
    old = {"seq": 3, "ts": "2024-05-01T14:30:05.000Z", "actor": "a@b", "type": "verdict", "value": "ok",
           "reasons": [{"metric": "error_rate", "value": 0.003, "text": "error rate 0.3 %"}], "colour": "green"}
    e = ev.parse(old)
    assert isinstance(e, ev.VerdictChanged) and e.reasons == ("error rate 0.3 %",)
    assert e.extra["colour"] == "green" and e.to_record()["colour"] == "green"
    state = replay([old])
    assert state.peak_error_rate is not None and state.peak_error_rate.value == 0.003
    # an old headless journal wrote images as one string: read as one image, never split into letters
    legacy = {"seq": 1, "ts": "2024-05-01T14:30:05.000Z", "actor": "a@b", "type": "revision_chosen",
              "revision": 2, "images": "registry.example/shop/checkout:1.4.2"}
    assert replay([legacy]).revision["images"] == ["registry.example/shop/checkout:1.4.2"]


def test_records_carry_their_schema_version(tmp_path):
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as j:
        j.write(ev.Phase("declare"))
    (rec,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert rec["v"] == ev.SCHEMA_VERSION and rec["type"] == "phase"
