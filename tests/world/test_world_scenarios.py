"""Scenarios: the built-ins load, malformed ones say where and what was expected."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cockpit.world.scenario import list_scenarios, load_scenario, parse_scenario
from cockpit.errors import ConfigError

SCENARIOS = Path(__file__).resolve().parents[2] / "cockpit" / "world" / "scenarios"


def test_builtins_present_and_valid() -> None:
    names = list_scenarios()
    assert {"healthy", "bad-image", "slow-release", "crashloop"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name
        assert sc.description
        assert sc.deployments


def test_bad_image_shape() -> None:
    sc = load_scenario("bad-image")
    checkout = next(d for d in sc.deployments if d.name == "checkout")
    assert checkout.namespace == "shop"
    assert len(checkout.revisions) == 3
    assert [r.error_rate < 0.05 for r in checkout.revisions] == [True, True, False]
    assert all(r.change_cause for r in checkout.revisions)
    assert sc.goal is not None and sc.goal.to_revision == 2


def _bad(mutate) -> str:
    data = yaml.safe_load((SCENARIOS / "bad-image.yaml").read_text())
    mutate(data)
    with pytest.raises(ConfigError) as e:
        parse_scenario(data, "bad-image.yaml")
    return str(e.value)


def test_error_names_file_key_and_expectation() -> None:
    msg = _bad(lambda d: d["deployments"][0]["revisions"][2].__setitem__("error_rate", "lots"))
    assert msg == "bad-image.yaml: deployments[0].revisions[2].error_rate: expected a number between 0 and 1, got 'lots'"


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda d: d["deployments"][0].__setitem__("replicas", "many"), "deployments[0].replicas: expected"),
    (lambda d: d["deployments"][0].__setitem__("strategy", {"type": "BlueGreen"}),
     "deployments[0].strategy.type: expected 'RollingUpdate' or 'Recreate', got 'BlueGreen'"),
    (lambda d: d["deployments"][0]["revisions"][0].pop("image"), "deployments[0].revisions[0].image: expected a value"),
    (lambda d: d["deployments"][0].__setitem__("colour", "red"), "deployments[0].colour: unexpected key"),
    (lambda d: d["deployments"][0].__setitem__("name", "Check_Out"), "deployments[0].name: expected a lowercase DNS"),
    (lambda d: d["deployments"][0]["revisions"][0].__setitem__("age", "yesterday"),
     "deployments[0].revisions[0].age: expected a duration"),
    (lambda d: d["deployments"][0]["revisions"][0].__setitem__("latency_ms", {"p50": 100, "p95": 10}),
     "deployments[0].revisions[0].latency_ms: expected p95 >= p50"),
    (lambda d: d["deployments"].append(dict(d["deployments"][0])), "expected unique deployments"),
])
def test_error_messages(mutate, fragment: str) -> None:
    msg = _bad(mutate)
    assert msg.startswith("bad-image.yaml: ")
    assert fragment in msg


def test_unknown_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scenario 'nope'.*bad-image"):
        load_scenario("nope")
    broken = tmp_path / "broken.yaml"
    broken.write_text("deployments: [\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_scenario(broken)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        load_scenario(top)


def test_load_from_path_and_defaults(tmp_path: Path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text("deployments:\n  - name: x\n    revisions:\n      - image: x:1\n")
    sc = load_scenario(p)
    assert sc.name == "mine"
    assert sc.all_namespaces() == ["default"]
    assert sc.behaviour_for("x:1").error_rate == pytest.approx(0.001)
    assert sc.behaviour_for("unknown:9") == sc.default_behaviour
