"""Step kind ``exec``: run a command (an argv list, never a shell string), stream its output.

.. code-block:: yaml

    - kind: exec
      params: {argv: [./smoke.sh, --quick], cwd: /srv/app, timeout: 60s, env: {TOKEN: s3cr3t}}

stdout and stderr are merged (so their order is kept) and every line goes, sanitized,
through ``ctx.log``. A non-zero exit raises ``CockpitError`` titled "Command failed" with
the exit code and the last lines. Timeout and ``ctx.cancel`` kill the whole process group
(SIGTERM, then SIGKILL after a grace period). ``env`` values are ``SecretStr``: they are
never journaled (``model_dump`` masks them) and any occurrence of one in the output is
masked before it is logged; so are URL passwords and bearer/basic credentials the command
prints (:func:`cockpit.text.redact_secrets`), before the line is shown or journaled.

The kind is mutating (a command may change anything); readonly refuses it before spawning.
``reconcile`` cannot know whether a command took effect, so it returns ``None`` (the
command runs again on resume): write idempotent commands.
"""
from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from typing import Any

from pydantic import Field, SecretStr

from cockpit.errors import Aborted, CockpitError, ConfigError, NotFoundError, ReadonlyError
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams, step_kind
from cockpit.text import redact_secrets, sanitize

KILL_GRACE = 3.0
TAIL_LINES = 10


class ExecParams(StepParams):
    argv: list[str] = Field(min_length=1, description="program and arguments; no shell")
    cwd: str | None = None
    env: dict[str, SecretStr] = Field(default_factory=dict, description="added to the environment")
    timeout: Duration = 300.0


@step_kind
class ExecStep(Step):
    kind = "exec"
    mutating = True
    Params = ExecParams

    def describe(self, params: ExecParams) -> str:
        return "run " + " ".join(sanitize(a, max_len=80) for a in params.argv)

    def run(self, ctx: StepContext, params: ExecParams) -> dict[str, Any]:
        if ctx.readonly:
            raise ReadonlyError(f"not running {params.argv[0]!r}: the cockpit is readonly")
        secrets = [v.get_secret_value() for v in params.env.values()]
        secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        env = {**os.environ, **{k: v.get_secret_value() for k, v in params.env.items()}}
        try:
            proc = subprocess.Popen(
                params.argv,
                cwd=params.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so we can kill all of it
            )
        except FileNotFoundError:
            where = f" (cwd {params.cwd})" if params.cwd else ""
            raise NotFoundError(f"cannot run {params.argv[0]!r}: no such program or directory{where}") from None
        except PermissionError:
            raise ConfigError(f"cannot run {params.argv[0]!r}: permission denied (is it executable?)") from None

        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
        reader.start()
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        deadline = time.monotonic() + params.timeout
        count = 0
        why = None
        while True:
            try:
                raw = lines.get(timeout=0.05)
            except queue.Empty:
                raw = ""
            if raw is None:
                break
            if raw:
                line = redact_secrets(_mask(sanitize(raw.rstrip("\r\n")), secrets))
                tail.append(line)
                count += 1
                ctx.log(line)
            if why is None and ctx.cancel.is_set():
                why = "cancelled"
            elif why is None and time.monotonic() > deadline:
                why = "timeout"
            if why:
                _kill_group(proc)
                break
        reader.join(timeout=KILL_GRACE)
        code = proc.wait()
        name = sanitize(params.argv[0], max_len=120)
        if why == "cancelled":
            raise Aborted(f"{name} was cancelled (process group killed)")
        if why == "timeout":
            raise CockpitError(
                f"{name} did not finish within {params.timeout:g}s and was killed" + _last(tail),
                title="Command timed out",
            )
        if code != 0:
            raise CockpitError(f"{name} exited with code {code}" + _last(tail), title="Command failed")
        return {"exit_code": code, "lines": count}


def _pump(proc: subprocess.Popen, out: queue.Queue) -> None:
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        out.put(raw.decode("utf-8", errors="replace"))
    proc.stdout.close()
    out.put(None)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after the grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure nothing else in the group survives
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def _mask(line: str, secrets: list[str]) -> str:
    for secret in secrets:
        line = line.replace(secret, "***")
    return line


def _last(tail: deque[str]) -> str:
    return "; last lines: " + " | ".join(tail) if tail else ""
