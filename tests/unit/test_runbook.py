"""Runbook files: shape, step params by kind, and errors that point at the line."""
from __future__ import annotations

import textwrap

import pytest

import backends.exec  # noqa: F401  (registers the exec kind)
import backends.http  # noqa: F401  (registers the http kind)
from cockpit.errors import ConfigError
from cockpit.model import Target
from cockpit.runbook import AUTO_CHECKS, DEFAULT_CHECKLIST, load_runbook, parse_duration, parse_runbook

GOOD = """\
name: checkout rollback
target: {kind: deployment, namespace: shop, name: checkout}
steps:
  - kind: exec
    name: Smoke test
    budget: 5m
    params: {argv: [./smoke.sh], timeout: 60s, env: {FOO: bar}}
  - kind: http
    params: {url: "http://checkout.shop/health", method: GET, expect_status: 200}
verify:
  - {id: health, title: Health checks passing, auto: health}
  - {id: journeys, title: Critical user journeys tested}
"""


def write(tmp_path, text):
    path = tmp_path / "rb.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_runbook(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_good_runbook(tmp_path):
    rb = load_runbook(write(tmp_path, GOOD))
    assert rb.name == "checkout rollback"
    assert rb.target.to_target() == Target(name="checkout", namespace="shop")
    smoke, health = rb.steps
    assert (smoke.index, smoke.kind, smoke.name, smoke.budget) == (0, "exec", "Smoke test", 300.0)
    assert smoke.params.argv == ["./smoke.sh"] and smoke.params.timeout == 60.0
    assert smoke.params.env["FOO"].get_secret_value() == "bar"
    assert health.name == "GET http://checkout.shop/health" and health.budget is None
    assert [c.id for c in rb.checklist] == ["health", "journeys"]
    assert rb.checklist[0].auto == "health" and rb.checklist[1].auto is None


def test_default_checklist_applies_without_verify(tmp_path):
    rb = load_runbook(write(tmp_path, GOOD.split("verify:")[0]))
    assert rb.verify is None and rb.checklist == DEFAULT_CHECKLIST


def test_default_checklist_contents():
    ids = [c.id for c in DEFAULT_CHECKLIST]
    assert ids[:7] == ["rollout_complete", "pods_ready", "no_restarts", "health_3x", "version_matches",
                       "error_rate_ok", "latency_ok"]
    assert AUTO_CHECKS == set(ids[:7])
    assert all(c.auto is None for c in DEFAULT_CHECKLIST[7:]) and len(DEFAULT_CHECKLIST) == 15
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("1m30s", 90.0), ("500ms", 0.5), (2.5, 2.5),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["5 minutes", "m", "-1s", "0", True, [], "1d"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_unknown_kind_names_line_and_known_kinds(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("kind: http", "kind: htp"))
    assert ":8: steps[1].kind: unknown step kind 'htp'" in msg
    assert "exec" in msg and "http" in msg


def test_bad_param_type_points_at_its_line(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("expect_status: 200", "expect_status: lots"))
    assert ":9: steps[1].params.expect_status" in msg and "'lots'" in msg


def test_unknown_param_key_is_a_typo(tmp_path):
    text = GOOD.replace("params: {argv: [./smoke.sh], timeout: 60s, env: {FOO: bar}}",
                        "params:\n      argv: [./smoke.sh]\n      timout: 60s")
    msg = error_of(tmp_path, text)
    assert ":9: steps[0].params.timout: unknown key" in msg


def test_bad_budget(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("budget: 5m", "budget: soon"))
    assert ":6: steps[0].budget" in msg and "duration" in msg


def test_missing_key_points_at_the_mapping(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("namespace: shop, name: checkout", "namespace: shop"))
    assert ":2: target.name: required key is missing" in msg


def test_missing_top_level_key(tmp_path):
    msg = error_of(tmp_path, "name: x\ntarget: {name: a}\n")
    assert ":1: steps: required key is missing" in msg


def test_bad_target_kind_lists_expected(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("kind: deployment", "kind: statefulset"))
    assert ":2: target.kind" in msg and "'deployment' or 'container'" in msg


def test_empty_argv_and_several_errors_at_once(tmp_path):
    text = GOOD.replace("argv: [./smoke.sh]", "argv: []").replace("method: GET", "method: FETCH")
    msg = error_of(tmp_path, text)
    assert ":7: steps[0].params.argv" in msg and ":9: steps[1].params.method" in msg


def test_duplicate_keys_and_ids(tmp_path):
    assert ":2: duplicate key 'name'" in error_of(tmp_path, "name: a\nname: b\n")
    msg = error_of(tmp_path, GOOD.replace("id: journeys", "id: health"))
    assert ":12: verify[1].id: duplicate checklist id 'health'" in msg


def test_yaml_syntax_error_has_a_line(tmp_path):
    assert ":2: not valid YAML" in error_of(tmp_path, "name: x\n\tsteps: []\n")


def test_not_a_mapping(tmp_path):
    assert "a runbook is a mapping" in error_of(tmp_path, "- just\n- a list\n")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read runbook"):
        load_runbook(tmp_path / "nope.yaml")


def test_parse_runbook_source_name():
    with pytest.raises(ConfigError, match=r"^inline:1:"):
        parse_runbook("name: x\n", source="inline")
