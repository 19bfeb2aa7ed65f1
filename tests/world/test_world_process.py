"""The drill world as a child process: ready line, goal, service URL, clear errors, clean stop."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from cockpit.world.process import WorldProcess
from cockpit.errors import ConfigError, NotFoundError


def test_world_process_serves_and_stops(tmp_path: Path) -> None:
    w = WorldProcess("bad-image", speed=5.0).start()
    try:
        w.wait_ready()
        assert w.goal == ("shop", "checkout")
        kc = w.write_kubeconfig(tmp_path / "kc")
        assert "cockpit-drill" in kc.read_text()
        with urllib.request.urlopen(f"{w.url}/apis/apps/v1/namespaces/shop/deployments/checkout", timeout=5) as r:
            assert json.load(r)["metadata"]["name"] == "checkout"
        with urllib.request.urlopen(w.service_url("shop", "checkout") + "/version", timeout=5) as r:
            assert b"1.5.0" in r.read()
        with pytest.raises(NotFoundError):
            w.service_url("shop", "nope")
        pid = w.proc.pid
    finally:
        w.stop()
    assert w.proc.poll() is not None and not w.dir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unknown_scenario_is_a_clear_error() -> None:
    w = WorldProcess("no-such-scenario").start()
    try:
        with pytest.raises(ConfigError) as err:
            w.wait_ready()
        assert "no-such-scenario" in str(err.value) and "Traceback" not in str(err.value)
    finally:
        w.stop()
