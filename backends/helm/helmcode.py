"""Running Helm's own code for the writes — never a re-implementation of its logic.

* the ``helm`` binary where the bastion has one (``COCKPIT_HELM_BIN``, else ``helm`` on PATH);
* else Helm v4's Go library, in a Python 3.12 venv (``COCKPIT_HELM_PYTHON``, default
  ``/opt/helmpy/bin/python``, made by ``scripts/install-helm.sh``) run as a subprocess since
  the cockpit runs on 3.11. The rollback goes through ``helm-python-sdk`` (its
  ``Config.rollback`` is Helm's ``action.Rollback`` with a wait strategy): ``helm-sdkpy``
  0.1.32's ``Rollback`` leaves every rollback ``pending-rollback`` ("unable to get waiter:
  wait strategy not set") because its shim never sets Helm v4's ``WaitStrategy``.

Every call has an argv (no shell), a timeout, and Helm's own error as one sanitised line.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError, ConfigError, ConflictError, NotFoundError, UnreachableError
from cockpit.text import sanitize

DEFAULT_PYTHON = "/opt/helmpy/bin/python"

_ROLLBACK_PY = r"""
import json, sys
try:
    import helm_python as hp
except ImportError as e:
    print(json.dumps({"error": f"helm-python-sdk is not installed: {e}", "kind": "missing"})); sys.exit(3)
req = json.loads(sys.argv[1])
opts = {k: v for k, v in (("kubeconfig_path", req.get("kubeconfig")), ("kube_context", req.get("context"))) if v}
try:
    cfg = hp.Config(namespace=req["namespace"], **opts)
    cfg.rollback(req["release"], version=req["revision"], timeout=int(req["timeout"]), wait=req["wait"])
except Exception as e:  # one line for the cockpit, whatever Helm raised
    kind = "notfound" if type(e).__name__ == "HelmNotFoundError" else "helm"
    print(json.dumps({"error": str(e), "kind": kind})); sys.exit(1)
print(json.dumps({"ok": True}))
"""


_UPGRADE_PY = r"""
import json, sys
try:
    import helm_python as hp
except ImportError as e:
    print(json.dumps({"error": f"helm-python-sdk is not installed: {e}", "kind": "missing"})); sys.exit(3)
req = json.loads(sys.stdin.read())
opts = {k: v for k, v in (("kubeconfig_path", req.get("kubeconfig")), ("kube_context", req.get("context"))) if v}
try:
    cfg = hp.Config(namespace=req["namespace"], **opts)
    out = cfg.upgrade(req["chart"], req["release"], req["values"], timeout=int(req["timeout"]), wait=req["wait"])
except Exception as e:
    kind = "notfound" if type(e).__name__ == "HelmNotFoundError" else "helm"
    print(json.dumps({"error": str(e), "kind": kind})); sys.exit(1)
print(json.dumps({"ok": True}))
"""


@dataclass(frozen=True)
class HelmRunner:
    """Which Helm code runs the writes: ``binary`` (a path) or ``python`` (a venv's python)."""

    binary: str | None
    python: str | None

    @property
    def describe(self) -> str:
        return f"helm ({self.binary})" if self.binary else f"Helm v4 library (helm-python-sdk, {self.python})"


def find_runner() -> HelmRunner:
    binary = os.environ.get("COCKPIT_HELM_BIN") or shutil.which("helm")
    if binary:
        return HelmRunner(binary, None)
    python = os.environ.get("COCKPIT_HELM_PYTHON") or DEFAULT_PYTHON
    if Path(python).exists():
        return HelmRunner(None, python)
    raise ConfigError("no Helm to run the rollback with: neither a helm binary nor the Helm library venv "
                      f"({python})", hint="install helm, or run scripts/install-helm.sh")


def _fail(message: str, kind: str = "helm") -> CockpitError:
    line = sanitize((message.strip().splitlines() or ["(no message)"])[-1], max_len=400)
    if kind == "notfound" or "not found" in line:
        return NotFoundError(f"helm: {line}")
    if "another operation" in line or "in progress" in line:
        return ConflictError(f"helm: {line}")
    if "connection refused" in line or "no such host" in line or "i/o timeout" in line:
        return UnreachableError(f"helm: {line}")
    return CockpitError(f"helm: {line}", title="Helm failed")


def _python_call(runner: HelmRunner, script: str, req: dict, limit: float, what: str,
                 stdin: str | None = None) -> None:
    try:
        p = subprocess.run([str(runner.python), "-c", script, *([] if stdin is not None else [json.dumps(req)])],
                           input=stdin, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        raise CockpitError(f"{what} did not finish within {limit:g}s", title="Helm timed out") from None
    if p.returncode != 0:
        try:
            err = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise _fail(p.stderr or p.stdout or f"exit status {p.returncode}") from None
        if err.get("kind") == "missing":
            raise ConfigError(sanitize(err.get("error", ""), max_len=300), hint="run scripts/install-helm.sh")
        raise _fail(str(err.get("error", "")), str(err.get("kind", "helm")))


def upgrade(runner: HelmRunner, *, release: str, namespace: str, chart: str, values_file: Path, timeout: float,
            wait: str = "hookOnly", kubeconfig: str | None = None, context: str | None = None) -> None:
    """``helm upgrade RELEASE CHART -f VALUES -n NAMESPACE`` with Helm's code (its merge of the
    chart's defaults and the file, never ours); raises on failure."""
    limit = timeout + 30
    if runner.binary:
        argv = [runner.binary, "upgrade", release, chart, "-f", str(values_file), "--namespace", namespace,
                "--timeout", f"{int(timeout)}s"]
        if kubeconfig:
            argv += ["--kubeconfig", kubeconfig]
        if context:
            argv += ["--kube-context", context]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            raise CockpitError(f"helm upgrade of {release} did not finish within {limit:g}s",
                               title="Helm timed out") from None
        if p.returncode != 0:
            raise _fail(p.stderr or p.stdout)
        return
    import yaml

    values = yaml.safe_load(values_file.read_text(encoding="utf-8")) or {}
    req = {"release": release, "namespace": namespace, "chart": chart, "values": values, "timeout": timeout,
           "wait": wait, "kubeconfig": kubeconfig, "context": context}
    _python_call(runner, _UPGRADE_PY, req, limit, f"helm upgrade of {release}", stdin=json.dumps(req, default=str))


def helmfile_sync(helmfile: Path, *, timeout: float = 600.0, kubeconfig: str | None = None) -> None:
    """``helmfile --file HELMFILE sync`` (helmfile runs helm itself)."""
    binary = os.environ.get("COCKPIT_HELMFILE_BIN") or shutil.which("helmfile")
    if not binary:
        raise ConfigError("helmfile is not installed", hint="install helmfile, or pass --release and --chart to "
                                                            "upgrade with Helm directly")
    env = {**os.environ, **({"KUBECONFIG": kubeconfig} if kubeconfig else {})}
    try:
        p = subprocess.run([binary, "--file", str(helmfile), "sync"], capture_output=True, text=True,
                           timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise CockpitError(f"helmfile sync did not finish within {timeout:g}s", title="helmfile timed out") from None
    if p.returncode != 0:
        raise _fail(p.stderr or p.stdout)


def rollback(runner: HelmRunner, *, release: str, namespace: str, revision: int, timeout: float,
             wait: str = "hookOnly", kubeconfig: str | None = None, context: str | None = None) -> None:
    """``helm rollback RELEASE REVISION -n NAMESPACE`` with Helm's code; raises on failure."""
    limit = timeout + 30
    try:
        if runner.binary:
            argv = [runner.binary, "rollback", release, str(revision), "--namespace", namespace,
                    "--timeout", f"{int(timeout)}s"]
            if kubeconfig:
                argv += ["--kubeconfig", kubeconfig]
            if context:
                argv += ["--kube-context", context]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
            if p.returncode != 0:
                raise _fail(p.stderr or p.stdout)
            return
        req = {"release": release, "namespace": namespace, "revision": revision, "timeout": timeout,
               "wait": wait, "kubeconfig": kubeconfig, "context": context}
        p = subprocess.run([str(runner.python), "-c", _ROLLBACK_PY, json.dumps(req)], capture_output=True,
                           text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        raise CockpitError(f"helm rollback of {release} did not finish within {limit:g}s",
                           title="Helm timed out", hint="the release's newest revision says whether it took effect "
                                                       "(cockpit helm history)") from None
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot run Helm: {sanitize(exc, max_len=200)}") from None
    if p.returncode != 0:
        try:
            err = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise _fail(p.stderr or p.stdout or f"exit status {p.returncode}") from None
        if err.get("kind") == "missing":
            raise ConfigError(sanitize(err.get("error", ""), max_len=300), hint="run scripts/install-helm.sh")
        raise _fail(str(err.get("error", "")), str(err.get("kind", "helm")))
