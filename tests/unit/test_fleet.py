"""The fleet's journal: one file, each target's records stamped and folded apart."""
from __future__ import annotations

import json
from pathlib import Path

from cockpit import events as ev
from cockpit import fleet as fl
from cockpit.journal import Journal, read_journal
from cockpit.state import replay


def _plan() -> fl.FleetPlan:
    return fl.FleetPlan(fl.Scope("tier=web", (), ("shop",), False, ("east", "west")), (
        fl.PlanEntry("east", "shop", "checkout", fl.ROLLBACK, from_revision=3, from_images=("c:1.5",), to_revision=2,
                     images=("c:1.4",)),
        fl.PlanEntry("west", "shop", "checkout", fl.SKIP, why="no earlier revision to roll back to"),
        fl.PlanEntry("north", action=fl.FAIL, why="Kubernetes API did not answer", error_title="Unreachable",
                     exit_code=4),
    ))


def test_member_journals_share_one_file_and_fold_apart(tmp_path: Path) -> None:
    path = tmp_path / "fleet.jsonl"
    plan = _plan()
    with Journal.open(path, actor="alice@bastion") as j:
        j.write(plan.event(parallel=2, keep_going=True))
        east = fl.MemberJournal(j, "east/shop/checkout")
        other = fl.MemberJournal(j, "west/shop/checkout")
        east.write(ev.IncidentOpened(target="shop/checkout", source="cli"))
        other.write(ev.IncidentOpened(target="shop/checkout", source="cli"))
        intent = east.intent("kubernetes.rollback", step=0, to_revision=2)
        other.append("log", line="west's line")
        east.outcome(intent, True, step=0, result={"result": "rolled-back", "to_revision": 2, "from_revision": 3})
        j.write(ev.FleetTarget(member="east/shop/checkout", status="ok", to_revision=2))
        # each view reads its own records only, as written
        assert [r["type"] for r in east.read()] == ["incident_opened", "intent", "outcome"]
        assert [r["type"] for r in other.read()] == ["incident_opened", "log"]
        assert east.read() == [r for r in read_journal(path)
                               if r.get("member") == "east/shop/checkout" and not r["type"].startswith("fleet_")]
    assert fl.is_fleet_journal(path) and fl.is_fleet(read_journal(path))
    state = fl.fold(read_journal(path))
    assert state.plan == plan and (state.parallel, state.keep_going) == (2, True)
    assert state.status("east/shop/checkout") == "ok" and state.status("west/shop/checkout") == "planned"
    rb = state.incident("east/shop/checkout").rolled_back
    assert rb is not None and (rb.from_revision, rb.to_revision) == (3, 2)
    assert state.incident("west/shop/checkout").rolled_back is None
    # a member's fold is the one-target fold of its records: resume reads the same state
    assert replay(state.records["east/shop/checkout"]).rolled_back == rb
    # the plan's failure keeps its title and exit code
    err = state.plan.failed[0].error()
    assert (err.title, err.exit_code, str(err)) == ("Unreachable", 4, "north: Kubernetes API did not answer")


def test_a_plan_survives_a_lenient_read_of_odd_entries(tmp_path: Path) -> None:
    path = tmp_path / "fleet.jsonl"
    with Journal.open(path, actor="a@b") as j:
        rec = j.write(_plan().event(parallel=4, keep_going=False))
    rec["targets"].append({"context": "east", "name": 7, "from_revision": "x", "images": "not-a-list"})
    rec["targets"].append("garbage")
    path.write_text(json.dumps(rec) + "\n")
    state = fl.fold(read_journal(path))
    assert state.plan is not None and [e.key for e in state.plan.entries][:3] == [
        "east/shop/checkout", "west/shop/checkout", "north"]
    odd = state.plan.entries[3]
    assert (odd.key, odd.from_revision, odd.images) == ("east", None, ())


def test_not_a_fleet_journal(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    with Journal.open(one, actor="a@b") as j:
        j.write(ev.IncidentOpened(target="shop/checkout"))
    assert not fl.is_fleet_journal(one) and not fl.is_fleet_journal(tmp_path / "missing.jsonl")
    assert not fl.is_fleet_journal(tmp_path)
