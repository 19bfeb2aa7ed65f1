"""Settings: layering, error messages naming file/key/expected, schema, runbook importer."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.config import Settings, import_rollback_config, json_schema, load_settings
from cockpit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_are_the_runbooks():
    s = load_settings(env={}, use_file=False)
    m, t = s.decision.matrix, s.decision.triggers
    assert (m.error_rate.rollback_above, m.error_rate.consider_from, m.error_rate.monitor_from) == (0.05, 0.02, 0.01)
    assert (m.p95_ms.rollback_above, m.p95_ms.consider_from, m.p95_ms.monitor_from) == (2000, 1000, 500)
    assert (m.crashes.rollback_above, m.crashes.window_s, m.user_reports.investigate_above) == (3, 300, 10)
    assert (t.health_failures, t.success_rate_below, t.success_min_checks) == (3, 0.70, 5)
    assert (t.p95_ms_above, t.error_rate_above, t.error_consecutive) == (5000, 0.05, 5)
    assert s.watch.countdown_s == 10 and s.decision.compare_ratio_above == 1.1


def test_layers_file_then_env_then_flags(tmp_path):
    cfg = write(tmp_path / "xdg" / "cockpit" / "config.yaml",
                "watch:\n  interval_s: 7\n  countdown_s: 3\n  window_s: 30\n"
                "decision:\n  triggers:\n    error_consecutive: 4\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "COCKPIT_WATCH__COUNTDOWN_S": "2", "COCKPIT_WATCH__WINDOW_S": "20"}
    s = load_settings(env=env, overrides={"watch": {"window_s": 10}})
    assert s.watch.interval_s == 7            # file
    assert s.watch.countdown_s == 2           # env over file
    assert s.watch.window_s == 10             # flag over env
    assert s.decision.triggers.error_consecutive == 4
    assert s.decision.triggers.p95_consecutive == 3  # default kept beside a file value
    assert cfg.exists()


def test_explicit_file_via_env(tmp_path):
    f = write(tmp_path / "c.yaml", "watch: {interval_s: 9}\n")
    assert load_settings(env={"COCKPIT_CONFIG_FILE": str(f)}).watch.interval_s == 9
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(env={"COCKPIT_CONFIG_FILE": str(tmp_path / "nope.yaml")})


def test_bad_file_value_names_file_key_and_expected(tmp_path):
    f = write(tmp_path / "c.yaml", "decision:\n  matrix:\n    error_rate:\n      rollback_above: 5\n")
    with pytest.raises(ConfigError) as ei:
        load_settings(file=f, env={})
    msg = str(ei.value)
    assert str(f) in msg and "decision.matrix.error_rate.rollback_above" in msg
    assert "less than or equal to 1" in msg and "(got 5)" in msg


def test_typo_is_an_error_not_ignored(tmp_path):
    f = write(tmp_path / "c.yaml", "watch:\n  intervall_s: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: watch\.intervall_s: unknown key"):
        load_settings(file=f, env={})


def test_bad_yaml_names_the_line(tmp_path):
    f = write(tmp_path / "c.yaml", "watch:\n  interval_s: [1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: line \d+"):
        load_settings(file=f, env={})


def test_bad_env_names_the_variable():
    with pytest.raises(ConfigError, match="environment variable COCKPIT_WATCH__INTERVAL_S: Input should be greater than 0"):
        load_settings(env={"COCKPIT_WATCH__INTERVAL_S": "0"}, use_file=False)


def test_bad_flag_names_the_flag():
    with pytest.raises(ConfigError, match="flag for watch.countdown_s"):
        load_settings(env={}, overrides={"watch": {"countdown_s": -1}}, use_file=False)


def test_band_order_is_validated():
    with pytest.raises(ConfigError, match="monitor_from <= consider_from <= rollback_above"):
        load_settings(env={}, overrides={"decision": {"matrix": {"p95_ms": {"consider_from": 3000}}}}, use_file=False)


def test_secrets_are_never_shown():
    s = load_settings(env={"COCKPIT_METRICS__PROMETHEUS__TOKEN": "s3cr3t-tok"}, use_file=False)
    assert s.metrics.prometheus.token.get_secret_value() == "s3cr3t-tok"
    assert "s3cr3t-tok" not in repr(s) and "s3cr3t-tok" not in json.dumps(s.model_dump(mode="json"))


def test_settings_is_a_pydantic_settings_reading_os_environ(monkeypatch):
    monkeypatch.setenv("COCKPIT_WATCH__INTERVAL_S", "4")
    assert Settings().watch.interval_s == 4


def test_published_schema_is_up_to_date():
    committed = json.loads((ROOT / "cockpit" / "config.schema.json").read_text())
    assert committed == json_schema(), "regenerate: cockpit config schema > cockpit/config.schema.json"
    assert "watch" in committed["properties"] and "decision" in committed["properties"]


RUNBOOK = {
    "triggers": {"autoRollback": {"errorRate": 0.1, "responseTime": 2000, "availability": 0.95}},
    "strategies": {"default": "immediate", "canary": "gradual"},
    "notifications": {"slack": "#incidents", "pagerduty": True, "email": ["oncall@company.com"]},
    "recovery": {"healthCheckInterval": 30, "stabilizationPeriod": 300},
}


def test_import_rollback_config(tmp_path):
    f = write(tmp_path / "rollback-config.json", json.dumps(RUNBOOK))
    data, notes = import_rollback_config(f)
    assert data == {
        "decision": {"triggers": {"error_rate_above": 0.1, "p95_ms_above": 2000, "success_rate_below": 0.95}},
        "watch": {"interval_s": 30, "stabilization_s": 300},
    }
    assert any(n.startswith("notifications.slack not imported") for n in notes)
    s = load_settings(env={}, overrides=data, use_file=False)
    assert s.decision.triggers.error_rate_above == 0.1 and s.watch.stabilization_s == 300


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"triggers": {"autoRollback": {"errorRate": "10%"}}}, "triggers.autoRollback.errorRate: expected a fraction 0..1"),
        ({"triggers": {"autoRollback": {"errorRate": 10}}}, "triggers.autoRollback.errorRate: expected a fraction 0..1"),
        ({"recovery": {"healthCheckInterval": -5}}, "recovery.healthCheckInterval: expected seconds > 0"),
    ],
)
def test_import_rejects_bad_values_naming_file_and_key(tmp_path, patch, needle):
    f = write(tmp_path / "rollback-config.json", json.dumps(patch))
    with pytest.raises(ConfigError) as ei:
        import_rollback_config(f)
    assert str(f) in str(ei.value) and needle in str(ei.value)


def test_import_rejects_bad_json(tmp_path):
    f = write(tmp_path / "rollback-config.json", "{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        import_rollback_config(f)


def test_cli_config_schema_and_import(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cockpit", "config", "schema"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json_schema()
    f = write(tmp_path / "rollback-config.json", json.dumps(RUNBOOK))
    out = subprocess.run([sys.executable, "-m", "cockpit", "config", "import", str(f)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "error_rate_above: 0.1" in out.stdout and "stabilization_s: 300" in out.stdout
    bad = write(tmp_path / "c.yaml", "watch: {interval_s: nope}\n")
    out = subprocess.run([sys.executable, "-m", "cockpit", "config", "show"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, env={**__import__("os").environ, "COCKPIT_CONFIG_FILE": str(bad)})
    assert out.returncode == 2 and "c.yaml: watch.interval_s" in out.stderr and "Traceback" not in out.stderr


def test_one_check_interval_for_every_consumer():
    """``watch.interval_s`` is the one cadence: the engine's policy exposes it for the TUI and ``watch``."""
    from cockpit.decision import Engine, Policy

    s = load_settings(env={"COCKPIT_WATCH__INTERVAL_S": "2"}, use_file=False)
    policy = Policy.from_settings(s)
    assert policy.interval_s == 2 and Engine(policy).interval_s == 2
    assert Policy().interval_s == load_settings(env={}, use_file=False).watch.interval_s == 5
    assert "full-screen cockpit alike" in json_schema()["$defs"]["WatchConfig"]["properties"]["interval_s"]["description"]
