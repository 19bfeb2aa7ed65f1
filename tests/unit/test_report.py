"""The incident report: golden files from recorded journals, and its rules."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.journal import read_journal
from cockpit.report import build_report, render_markdown, report_text

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = ["incident_resolved", "incident_crash_resume"]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("fmt", ["md", "json"])
def test_golden(name: str, fmt: str) -> None:
    text = report_text(read_journal(GOLDEN / f"{name}.jsonl"), fmt)
    golden = GOLDEN / f"{name}.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_closed_incident_never_reads_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import cockpit.state as state

    class Boom(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001
            raise AssertionError("the report read the clock")

    monkeypatch.setattr(state, "datetime", Boom)
    records = read_journal(GOLDEN / "incident_resolved.jsonl")
    assert report_text(records, "md") == (GOLDEN / "incident_resolved.md").read_text(encoding="utf-8")


def test_crash_and_resume_is_told() -> None:
    rep = build_report(read_journal(GOLDEN / "incident_crash_resume.jsonl"))
    scale = rep.actions[0]
    assert (scale["action"], scale["status"], scale["resumed"]) == ("kubernetes.scale", "ok", True)
    assert rep.actions[2]["status"] == "failed" and "not a git repository" in rep.actions[2]["error"]
    assert any("without outcome: kubernetes.scale" in t["text"] for t in rep.timeline)
    assert [p["phase"] for p in rep.phases if p["over_budget"]] == ["execute", "monitor"]
    assert rep.comparison == {"source": "journal", "before": {"error_rate": 0.31, "p95_ms": 3200},
                              "after": {"error_rate": 0.006, "p95_ms": 310}}


def test_milestones_mttr_peak_and_inputs() -> None:
    rep = build_report(read_journal(GOLDEN / "incident_resolved.jsonl"))
    assert rep.milestones == {"declared": "2024-05-01T14:30:00Z", "identified": "2024-05-01T14:32:20Z",
                              "rolled_back": "2024-05-01T14:34:20Z", "verified": "2024-05-01T14:36:40Z",
                              "resolved": "2024-05-01T14:46:00Z"}
    assert rep.mttr_s == 960.0
    assert rep.peak["error_rate"] == 0.12 and rep.peak["p95_ms"] == 2100
    assert rep.users_affected == 0.3
    assert [c["who"] for c in rep.checklist] == ["cockpit", "bob", "cockpit"]
    assert [n["ok"] for n in rep.notifications] == [True, True, False, True, True]
    assert rep.revision == {"from": 5, "to": 4, "images": ["registry/shop:v1.2.2"]}


def test_open_incident_measured_to_the_last_record() -> None:
    records = [r for r in read_journal(GOLDEN / "incident_resolved.jsonl") if r["seq"] <= 20]
    rep = build_report(records)
    assert rep.status == "open" and rep.mttr_s is None
    assert rep.as_of == "2024-05-01T14:35:20Z"
    assert rep.phases[-1]["running"] and rep.phases[-1]["elapsed_s"] == 58.0
    later = build_report(records, now=datetime(2024, 5, 1, 14, 45, tzinfo=timezone.utc))
    assert later.phases[-1]["over_budget"]


def test_hostile_text_is_inert_in_markdown() -> None:
    records = [{"seq": 1, "ts": "2024-01-01T00:00:00.000Z", "actor": "x", "type": "incident_opened",
                "target": "a|b", "reason": "\x1b]8;;http://evil\x07click\x1b]8;;\x07 <script> `x` \u202e"}]
    md = render_markdown(build_report(records))
    assert "\x1b" not in md and "\u202e" not in md and "<script>" not in md
    assert "a\\|b" in md


def test_cli_report_writes_file_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.md"
    assert main(["report", str(GOLDEN / "incident_resolved.jsonl"), "--out", str(out), "--screenshot", "final.svg"]) == 0
    assert "![cockpit at resolution](final.svg)" in out.read_text()
    assert main(["report", str(GOLDEN / "incident_crash_resume.jsonl"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "shop/cart"
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 3
