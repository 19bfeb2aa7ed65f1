"""The one sanitising boundary, secrets redaction, and finding the subcommand cheaply."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.cli import COMMAND_MODULES, _subcommand, build_parser
from cockpit.text import redact_url, sanitize

HOSTILE = [  # every control shown in an escaped, inert form; nothing deleted
    ("[@click=app.quit]quit", "[@click=app.quit]quit"),  # markup stays literal (rendered as Text)
    ("a\x1b[31mred\x1b[0mb", "a\\e[31mred\\e[0mb"),  # CSI
    ("x\x1b]0;title\x07y", "x\\e]0;title\\ay"),  # OSC with BEL
    ("x\x1b]52;c;ZXZpbA==\x1b\\y", "x\\e]52;c;ZXZpbA==\\e\\y"),  # OSC 52 clipboard with ST
    ("p\x9b31mq", "p\\x9b31mq"),  # 8-bit CSI
    ("c1\x85\x8d\x90z", "c1 \\x8d\\x90z"),  # C1 controls (NEL is a line break)
    ("bidi\u202eevil\u2066x\u2069", "bidi\\u202eevil\\u2066x\\u2069"),  # bidi overrides and isolates
    ("nul\x00bell\x07del\x7f", "nul\\0bell\\adel\\x7f"),
    ("tab\there", "tab    here"),
    ("line1\nline2\r\n", "line1 line2 "),
]


@pytest.mark.parametrize(("raw", "clean"), HOSTILE)
def test_sanitize_makes_hostile_text_inert(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean


def test_sanitize_caps_length_and_keeps_newlines_on_request() -> None:
    assert len(sanitize("x" * 10_000)) == 4096 and sanitize("x" * 10_000).endswith("…")
    assert sanitize("a\nb\x1b[2Jc", keep_newlines=True) == "a\nb\\e[2Jc"
    assert sanitize(None) == "" and sanitize(42) == "42"


@given(st.text())
def test_sanitize_never_lets_a_control_through(text: str) -> None:
    out = sanitize(text)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
                   for c in out)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:s3cret@db:5432/shop", "postgresql://app:***@db:5432/shop"),
    ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
    ("https://hooks.example/x?token=abc&x=1", "https://hooks.example/x?token=***&x=1"),
    ("host=db password=hunter2 user=app", "host=db password=*** user=app"),
    ("redis://cache:6379/0", "redis://cache:6379/0"),
])
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(("argv", "command"), [
    (["history", "x"], "history"),
    (["-n", "shop", "--kubeconfig", "k", "rollback", "x"], "rollback"),
    (["--readonly", "-o", "json", "pg", "migrations"], "pg"),
    (["--drill", "--scenario", "bad-image"], None),
])
def test_subcommand_found_without_parsing(argv: list[str], command: str | None) -> None:
    assert _subcommand(argv) == command


def test_every_registered_subcommand_is_in_the_table() -> None:
    parser = build_parser(["--help"])  # help: every module registers
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMAND_MODULES)
    # the full-screen cockpit needs none of them; one subcommand needs only its own module
    assert set(next(a for a in build_parser(["--drill"])._actions if a.dest == "command").choices) == set()
    assert set(next(a for a in build_parser(["pg", "migrations"])._actions if a.dest == "command").choices) == {"pg"}
