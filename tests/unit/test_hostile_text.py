"""Issue 13, "Hostile text": outside text stays visible and honest (controls shown escaped,
never an empty value, an unterminated OSC hides nothing), line separators are line breaks,
and credentials in streamed ``exec`` output are redacted before they are shown or journaled."""
from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.exec import ExecParams, ExecStep
from backends.kubernetes import revisions as rv
from cockpit.executor import Executor
from cockpit.journal import Journal, read_journal
from cockpit.runbook import parse_runbook
from cockpit.steps import StepContext
from cockpit.text import redact_secrets, sanitize
from tests.unit.test_revisions import deployment, rs

CONTROL = set(range(0x20)) | set(range(0x7F, 0xA0)) | {0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
                                                       0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C}


def test_a_value_made_only_of_escape_sequences_is_shown_not_emptied() -> None:
    """A change-cause of nothing but escapes showed as ``<none>``: it is shown, inert."""
    cause = "\x1b]0;pwned\x07\x1b[2J\x1b[H"
    hist = rv.history(deployment("web:3"), [rs("web-cccc", 3, "web:3", cause=cause)])
    assert hist[0].change_cause == "\\e]0;pwned\\a\\e[2J\\e[H"


def test_an_unterminated_osc_does_not_hide_the_rest() -> None:
    assert sanitize("deploy \x1b]0;title never ended: rollback to v1.4.2") == \
        "deploy \\e]0;title never ended: rollback to v1.4.2"
    assert sanitize("a\x9d8;;http://evil rest") == "a\\x9d8;;http://evil rest"


@pytest.mark.parametrize(("raw", "shown"), [
    ("x\x1b]52;c;ZXZpbA==\x07y", "x\\e]52;c;ZXZpbA==\\ay"),  # OSC 52: the clipboard write is visible
    ("p\x9b31mq", "p\\x9b31mq"),  # 8-bit CSI
    ("bidi\u202eevil\u2066x\u2069", "bidi\\u202eevil\\u2066x\\u2069"),
    ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("nul\x00bs\x08cr\rdel\x7f", "nul\\0bs\\bcr\\rdel\\x7f"),
    ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
])
def test_controls_are_shown_in_an_escaped_inert_form(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown
    shown.encode("utf-8")  # printable anywhere: no lone surrogate left


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\n", "\r\n"])
def test_line_separators_are_line_controls(sep: str) -> None:
    assert sanitize(f"one{sep}two") == "one two"
    assert sanitize(f"one{sep}two", keep_newlines=True) == "one\ntwo"


def test_the_length_cap_never_tears_an_escape() -> None:
    out = sanitize("x" * 8 + "\u202e" * 10, max_len=12)
    assert out == "xxxxxxxx…" or out.startswith("xxxxxxxx\\u202e")
    assert not out.rstrip("…").endswith(("\\", "\\u", "\\u2", "\\u20", "\\u202"))
    assert len(out) <= 12


@given(st.text())
def test_sanitize_is_inert_visible_and_idempotent(text: str) -> None:
    out = sanitize(text)
    assert not any(ord(c) in CONTROL or 0xD800 <= ord(c) <= 0xDFFF for c in out)
    assert (out != "") == (text != "")  # never an empty value for a non-empty one
    assert sanitize(out) == out


@pytest.mark.parametrize(("line", "shown"), [
    ("connecting to postgresql://cockpit:S3cr3t-PG@db.shop:5432/orders",
     "connecting to postgresql://cockpit:***@db.shop:5432/orders"),
    ("> Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb2NrcGl0In0.c2lnbmF0dXJl",
     "> Authorization: Bearer ***"),
    ('{"headers": {"authorization": "Basic Y29ja3BpdDpodW50ZXIy"}}', '{"headers": {"authorization": "Basic ***"}}'),
    ("curl -u x -H 'Bearer abcdefgh12345678'", "curl -u x -H 'Bearer ***'"),
    ("Basic Y29ja3BpdDpodW50ZXIy sent", "Basic *** sent"),
    ("Basic checks passed", "Basic checks passed"),  # not a credential
    ("PGPASSWORD=hunter2 psql", "PGPASSWORD=*** psql"),
])
def test_redact_secrets(line: str, shown: str) -> None:
    assert redact_secrets(line) == shown


SECRET_PRINTER = (
    "print('migrating postgresql://cockpit:S3cr3t-PG@db.shop:5432/orders');"
    "print('> Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb2NrcGl0In0.c2lnbmF0dXJl');"
    "print('basic: Basic Y29ja3BpdDpodW50ZXIy')"
)


def test_exec_output_is_redacted_before_it_is_shown() -> None:
    shown: list[str] = []
    ctx = StepContext(backends={}, log=shown.append)
    assert ExecStep().run(ctx, ExecParams.model_validate({"argv": [sys.executable, "-c", SECRET_PRINTER]}))["lines"] == 3
    text = "\n".join(shown)
    for secret in ("S3cr3t-PG", "eyJhbGci", "c2lnbmF0dXJl", "Y29ja3BpdDpodW50ZXIy"):
        assert secret not in text
    assert shown[0] == "migrating postgresql://cockpit:***@db.shop:5432/orders"
    assert shown[1] == "> Authorization: Bearer ***"


def test_exec_output_in_a_runbook_is_redacted_on_screen_and_in_the_journal(tmp_path) -> None:
    rb = parse_runbook("name: t\ntarget: {name: x}\nsteps:\n"
                       f"  - {{kind: exec, params: {{argv: [{sys.executable}, -c, \"{SECRET_PRINTER}\"]}}}}\n")
    shown: list[str] = []
    with Journal.open(tmp_path / "j.jsonl") as j:
        assert Executor(rb, j, StepContext(backends={}, log=shown.append)).run().ok
    raw = (tmp_path / "j.jsonl").read_text()
    for secret in ("S3cr3t-PG", "eyJhbGci", "Y29ja3BpdDpodW50ZXIy"):
        assert secret not in raw and secret not in "\n".join(shown)
    logged = [r["line"] for r in read_journal(tmp_path / "j.jsonl") if r["type"] == "log"]
    assert "> Authorization: Bearer ***" in logged


def test_the_journal_redacts_credentials_in_any_string(tmp_path) -> None:
    with Journal.open(tmp_path / "j.jsonl") as j:
        j.append("operator_input", key="note", value="used Authorization: Bearer eyJabc.def.ghijkl to call it")
    assert "eyJabc" not in (tmp_path / "j.jsonl").read_text()
