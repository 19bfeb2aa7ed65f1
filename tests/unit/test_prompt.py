"""cockpit.prompt: the one y/N question and typed confirmation of the headless commands."""
from __future__ import annotations

import io

import pytest

from cockpit import prompt
from cockpit.errors import Aborted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_question_goes_to_stderr_and_only_yes_confirms(monkeypatch, capsys):
    for typed, ok in (("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False), ("", False)):  # "": end of input
        monkeypatch.setattr("sys.stdin", Terminal(typed))
        if ok:
            prompt.confirm("Roll back deployment shop/checkout?")
        else:
            with pytest.raises(Aborted, match="not confirmed; nothing was changed"):
                prompt.confirm("Roll back deployment shop/checkout?")
        out = capsys.readouterr()
        assert out.out == "" and out.err == "Roll back deployment shop/checkout? [y/N] "  # stdout stays -o json's


def test_without_a_terminal_nothing_is_asked(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # piped: never taken as an answer
    with pytest.raises(Aborted) as err:
        prompt.confirm("Purge?", hint="pass --yes")
    assert err.value.message == "not confirmed: no terminal to ask on" and err.value.hint == "pass --yes"
    assert prompt.ask("type the database name to confirm: ") == ""
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("sys.stdin", Terminal("orders\n"))
    assert prompt.ask("type the database name to confirm: ") == "orders"
