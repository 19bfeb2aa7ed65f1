"""cockpit/keymap.py: rebinding by id, validation, scopes (pure)."""
from __future__ import annotations

import pytest

from cockpit.errors import ConfigError
from cockpit.keymap import DEFAULTS, apply_overrides, display_key, for_scope, sendable


def by_id(specs):
    return {s.id: s for s in specs}


def test_ids_are_unique_and_every_scope_has_keys():
    ids = [s.id for s in DEFAULTS]
    assert len(ids) == len(set(ids))
    assert {s.scope for s in DEFAULTS} >= {"app", "dashboard", "history", "confirm", "rollback", "checklist"}


def test_defaults_are_all_sendable():
    assert all(sendable(k) for s in DEFAULTS for k in s.key.split(","))


def test_override_rebinds_only_that_id_and_keeps_the_rest():
    out = apply_overrides(DEFAULTS, {"history": "H", "quit": "q, ctrl+q"})
    assert by_id(out)["history"].key == "H"
    assert by_id(out)["quit"].key == "q,ctrl+q"
    assert by_id(out)["checklist"] == by_id(DEFAULTS)["checklist"]
    assert apply_overrides(DEFAULTS, {}) is DEFAULTS


@pytest.mark.parametrize("key", ["ctrl+enter", "shift+enter", "ctrl+shift+x", "super+h", "ctrl+1", "h,ctrl+return"])
def test_keys_terminals_do_not_send_are_refused_naming_the_key(key):
    with pytest.raises(ConfigError) as e:
        apply_overrides(DEFAULTS, {"history": key})
    assert "history" in str(e.value) and "SSH" in str(e.value)


def test_unknown_id_and_empty_key_are_refused():
    with pytest.raises(ConfigError, match="nope: unknown key binding id"):
        apply_overrides(DEFAULTS, {"nope": "x"})
    with pytest.raises(ConfigError, match="history: expected a key name"):
        apply_overrides(DEFAULTS, {"history": "  "})


def test_readonly_scope_drops_mutating_bindings():
    ro = for_scope(DEFAULTS, "checklist", readonly=True)
    assert ro == [] or all(not s.mutating for s in ro)
    assert any(s.mutating for s in for_scope(DEFAULTS, "checklist"))
    assert "arm" not in {s.id for s in for_scope(DEFAULTS, "dashboard", readonly=True)}


def test_display_key():
    assert display_key("question_mark") == "?" and display_key("n,escape") == "n/esc"
