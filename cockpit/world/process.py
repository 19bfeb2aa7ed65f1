"""The drill world in a child process (``python -m cockpit world serve``).

``cockpit --drill`` starts it before Textual is even imported, so the world's imports and
start-up run on the other core while the UI loads, and its API server, controller and traffic
threads never share a GIL with the UI afterwards. The app talks to it exactly as to a real
cluster: over HTTP, through the kubeconfig the child writes. The child dies with its parent
(``PR_SET_PDEATHSIG`` on Linux) and is stopped by PID on exit.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError, NotFoundError, UnreachableError

SERVICE_URL_ANNOTATION = "cockpit.drill/url"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 — not Linux: stop() and atexit still stop it
        pass


def _goal(scenario: str) -> tuple[str, str] | None:
    """The scenario's ``goal`` (namespace, deployment), read with plain YAML: the child has
    validated the file already, and the UI should not pay for the pydantic model."""
    import yaml

    path = Path(scenario)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = Path(__file__).parent / "scenarios" / f"{scenario}.yaml"
    try:
        goal = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("goal") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    if isinstance(goal, dict) and goal.get("deployment"):
        return (str(goal.get("namespace") or "default"), str(goal["deployment"]))
    return None


class WorldProcess:
    """A running ``world serve`` child: ``start()`` returns at once, ``wait_ready()`` blocks."""

    def __init__(self, scenario: str = "bad-image", speed: float = 1.0, forbid: tuple[str, ...] = ()) -> None:
        self.scenario_name = scenario
        self.speed = speed
        self.forbid = tuple(forbid)  # resources the world refuses with 403 (``world serve --forbid``)
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-drill-"))
        self.kubeconfig_path = self.dir / "kubeconfig"
        self.url = ""
        self.goal: tuple[str, str] | None = None
        """(namespace, deployment) the scenario's drill is about (read once the world is up)."""
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._error: str | None = None
        self._scenario: Any = None

    def start(self) -> WorldProcess:
        argv = [sys.executable, "-m", "cockpit", "world", "serve", "--kubeconfig", str(self.kubeconfig_path),
                "--scenario", self.scenario_name, "--speed", str(self.speed)]
        for resource in self.forbid:
            argv += ["--forbid", resource]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        threading.Thread(target=self._read_ready, name="drill-world-ready", daemon=True).start()
        return self

    def _read_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if line.startswith("world ready") and "api" in fields:
            self.url = fields["api"]
            self.goal = _goal(self.scenario_name)
        else:
            self.proc.wait()
            err = self.proc.stderr.read().strip().splitlines()
            self._error = err[-1] if err else f"the drill world exited with {self.proc.returncode}"
        self._ready.set()

    def wait_ready(self, timeout: float = 30.0) -> WorldProcess:
        if not self._ready.wait(timeout):
            self.stop()
            raise UnreachableError(f"the drill world did not start within {timeout:.0f}s")
        if self._error:
            msg = self._error.removeprefix("cockpit: ")
            raise ConfigError(msg.split(": ", 1)[-1] if msg.startswith("Bad configuration: ") else msg,
                              title="Drill world")
        return self

    @property
    def scenario(self) -> Any:
        """The scenario (loaded on first use: it costs a pydantic import)."""
        if self._scenario is None:
            from cockpit.world.scenario import load_scenario

            self._scenario = load_scenario(self.scenario_name)
        return self._scenario

    def write_kubeconfig(self, path: str | os.PathLike) -> Path:
        self.wait_ready()
        shutil.copyfile(self.kubeconfig_path, path)
        return Path(path)

    def service_url(self, namespace: str, deployment: str) -> str:
        """The simulated service's base URL, from its Service's annotation (as any client would)."""
        self.wait_ready()
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/namespaces/{namespace}/services/{deployment}",
                                        timeout=5) as resp:
                svc = json.load(resp)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise NotFoundError(f"no simulated service {namespace}/{deployment}") from None
            raise UnreachableError(f"the drill world answered HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise UnreachableError(f"the drill world at {self.url} did not answer: {exc}") from None
        url = ((svc.get("metadata") or {}).get("annotations") or {}).get(SERVICE_URL_ANNOTATION)
        if not url:
            raise NotFoundError(f"service {namespace}/{deployment} has no simulated endpoint")
        return str(url)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)
