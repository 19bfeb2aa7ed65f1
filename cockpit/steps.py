"""The registry of runbook step kinds.

A step kind is a class with a pydantic ``Params`` model and a ``run`` method. Backends
register their kinds with :func:`step_kind` (``backends/exec.py`` registers ``exec``,
``backends/kubernetes.py`` the ``kubernetes.*`` kinds, later ``postgres.*``, ``redis.*``,
``docker.rollback``, ``notify.*``); the composition root imports those modules, the core
never does.

``run`` streams human-readable lines through ``ctx.log`` (journaled as ``log`` events),
returns a JSON-able dict (the outcome's data) and raises CockpitError on failure. A kind that
mutates the world sets ``mutating = True``: the executor journals an fsynced *intent* before
``run`` and an *outcome* after. On resume, the executor calls ``reconcile`` for an intent
that has no outcome: it inspects the world and returns the outcome data if the write already
took effect (so it is not issued twice), or ``None`` to run the step again.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class StepParams(BaseModel):
    """Base for step parameter models: unknown keys are errors (typos must not pass)."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class StepContext:
    """What a step gets to work with."""

    backends: dict[str, Any]
    """Backends by name: ``kubernetes``, ``postgres``, ``redis``, ``docker``, ``notify``..."""
    log: Callable[[str], None] = print
    cancel: threading.Event = field(default_factory=threading.Event)
    readonly: bool = False
    evidence_dir: Path | None = None
    namespace: str = "default"
    journal: Any = None
    """The :class:`cockpit.journal.Journal`, for steps that record extra events."""
    target: Any = None
    """The runbook's :class:`cockpit.model.Target`, the default for steps that name none."""
    step_index: int | None = None
    """Index of the running step in its runbook (set by the executor)."""
    prepared: dict[str, Any] = field(default_factory=dict)
    """What :meth:`Step.prepare` returned (set by the executor before ``run``)."""
    ask: Callable[[str], str] | None = None
    """Ask the operator a question mid-step and wait for the answer (the full-screen cockpit
    shows a modal; called from the step's worker thread, blocking it). A step names the
    answers it accepts in the question (``traffic.shift``: ``continue`` or ``abort``) and
    treats any other answer as its safe default. None where nobody can answer (CLI, tests)."""

    def backend(self, name: str) -> Any:
        from cockpit.errors import ConfigError

        try:
            return self.backends[name]
        except KeyError:
            raise ConfigError(
                f"this step needs the {name} backend, which is not configured",
                hint=f"configure {name} (see README) or remove the step",
            ) from None


class Step:
    """Base class for a step kind."""

    kind: ClassVar[str] = ""
    mutating: ClassVar[bool] = True
    Params: ClassVar[type[StepParams]] = StepParams

    def run(self, ctx: StepContext, params: Any) -> dict[str, Any]:
        raise NotImplementedError

    def is_mutating(self, params: Any) -> bool:
        """Whether this call may change the world (``mutating`` unless a kind knows better,
        e.g. ``http`` GET/HEAD are reads). Mutating calls get an intent and are refused
        readonly."""
        return self.mutating

    def prepare(self, ctx: StepContext, params: Any) -> dict[str, Any] | None:
        """Reads and records that come *before* the intent (resolve what the write will do,
        capture evidence, journal the choice). The dict is added to the intent — so resume
        reconciles against exactly what was chosen — and handed to ``run`` as ``ctx.prepared``.
        Raising here fails the step with no intent written (nothing was about to be sent)."""
        return None

    def reconcile(self, ctx: StepContext, params: Any, intent: dict[str, Any]) -> dict[str, Any] | None:
        """After a crash between intent and outcome: the outcome if it took effect, else None."""
        return None

    def describe(self, params: Any) -> str:
        return self.kind


REGISTRY: dict[str, type[Step]] = {}


def step_kind(cls: type[Step]) -> type[Step]:
    """Class decorator: register a step kind under ``cls.kind``."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    REGISTRY[cls.kind] = cls
    return cls


def get_step(kind: str) -> type[Step]:
    from cockpit.errors import ConfigError

    try:
        return REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "none registered"
        raise ConfigError(f"unknown step kind {kind!r}; known kinds: {known}") from None
