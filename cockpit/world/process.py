"""The drill world in a child process (``python -m cockpit world serve``).

``cockpit --drill`` starts it before Textual is even imported, so the world's imports and
start-up run on the other core while the UI loads, and its API server, controller and traffic
threads never share a GIL with the UI afterwards. The app talks to it exactly as to a real
cluster: over HTTP, through the kubeconfig the child writes. It is stopped by PID on exit.

A drill's world lives in a directory of its own (``home``: the composition root gives
``<state>/drills/worlds``) with ``world.json`` (pid, scenario, API URL, goal, and the journal
of the incident the drill opened, once one is) and a ``keepalive`` file its cockpit touches
every two seconds. When the cockpit crashes the world outlives it for ``grace_s`` (then stops
by itself), so the next ``cockpit --drill`` can offer to resume the drill's incident against
the very same world (:func:`leftover_worlds`, :meth:`WorldProcess.adopt`). Without ``home``
(tests, ``cockpit world serve``) the child simply dies with its parent (``PR_SET_PDEATHSIG``).
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
import time
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

    def __init__(self, scenario: str = "bad-image", speed: float = 1.0, forbid: tuple[str, ...] = (),
                 home: Path | None = None, grace_s: float = 300.0) -> None:
        self.scenario_name = scenario
        self.speed = speed
        self.forbid = tuple(forbid)  # resources the world refuses with 403 (``world serve --forbid``)
        self.home, self.grace_s = home, grace_s
        if home is not None:
            Path(home).mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="world-" if home else "cockpit-drill-", dir=home))
        self.kubeconfig_path = self.dir / "kubeconfig"
        self.keepalive = self.dir / "keepalive"
        self.pid: int | None = None
        self.journal: str | None = None
        self._alive = threading.Event()
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
        outlive = self.home is not None
        if outlive:
            self.keepalive.touch()
            argv += ["--keepalive", str(self.keepalive), "--grace", str(self.grace_s)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=outlive,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" and not outlive else None)
        self.pid = self.proc.pid
        threading.Thread(target=self._read_ready, name="drill-world-ready", daemon=True).start()
        if outlive:
            self._keep_alive()
        return self

    # ---- outliving a crashed cockpit

    def _keep_alive(self) -> None:
        def beat() -> None:
            while not self._alive.wait(2.0):
                try:
                    os.utime(self.keepalive)
                except OSError:
                    return

        threading.Thread(target=beat, name="drill-world-keepalive", daemon=True).start()

    def _describe(self) -> None:
        if self.home is None:
            return
        info = {"pid": self.pid, "scenario": self.scenario_name, "speed": self.speed, "url": self.url,
                "goal": list(self.goal) if self.goal else None, "journal": self.journal}
        tmp = self.dir / "world.json.tmp"
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.dir / "world.json")

    def claim(self, journal: str | os.PathLike) -> None:
        """The drill's incident journal: a crashed cockpit's successor finds it here."""
        self.journal = str(journal)
        if self._ready.is_set() and not self._error:
            self._describe()

    @classmethod
    def adopt(cls, found: dict) -> WorldProcess:
        """Take over a world a crashed cockpit left running (``found``: from :func:`leftover_worlds`)."""
        w = cls(found["scenario"], speed=float(found.get("speed") or 1.0), home=None)
        shutil.rmtree(w.dir, ignore_errors=True)
        w.home, w.dir = Path(found["dir"]).parent, Path(found["dir"])
        w.kubeconfig_path, w.keepalive = w.dir / "kubeconfig", w.dir / "keepalive"
        w.pid, w.url, w.journal = int(found["pid"]), str(found["url"]), found.get("journal")
        w.goal = tuple(found["goal"]) if found.get("goal") else None  # type: ignore[assignment]
        os.utime(w.keepalive)
        w._ready.set()
        w._keep_alive()
        return w

    def _read_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if line.startswith("world ready") and "api" in fields:
            self.url = fields["api"]
            self.goal = _goal(self.scenario_name)
            try:
                self._describe()
            except OSError:
                pass
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
        self._alive.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        elif self.proc is None and self.pid is not None:  # an adopted world: not our child
            stop_pid(self.pid)
        shutil.rmtree(self.dir, ignore_errors=True)


def _is_world(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"world" in cmd and b"serve" in cmd


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM a world that is not our child and wait (bounded) until it is gone."""
    if not _is_world(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    end = time.monotonic() + timeout
    while _is_world(pid) and time.monotonic() < end:
        time.sleep(0.05)


def leftover_worlds(home: Path, *, owned_within_s: float = 6.0) -> list[dict]:
    """Worlds under ``home`` whose cockpit is gone (keepalive untouched for ``owned_within_s``)
    and which still run, each ``world.json`` plus ``dir``; the directories of worlds that no
    longer run are removed. A world another running cockpit keeps alive is not listed."""
    found = []
    for info_path in sorted(Path(home).glob("*/world.json")) if Path(home).is_dir() else ():
        d = info_path.parent
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            pid = int(info["pid"])
            untouched = time.time() - (d / "keepalive").stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _is_world(pid):
            shutil.rmtree(d, ignore_errors=True)
        elif untouched > owned_within_s and info.get("url") and info.get("scenario"):
            found.append({**info, "dir": str(d)})
    return found
