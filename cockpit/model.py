"""Facts the cockpit reasons about. Plain dataclasses: no markup, no colour, no I/O.

Every string field that came from outside has already passed :func:`cockpit.text.sanitize`
(backends do that at the boundary).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


@dataclass(frozen=True, slots=True)
class Target:
    """A workload: ``kind`` is ``deployment`` (Kubernetes) or ``container`` (Docker)."""

    name: str
    namespace: str = "default"
    kind: str = "deployment"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.kind == "deployment" else self.name

    @classmethod
    def parse(cls, text: str, namespace: str = "default") -> Target:
        """``"shop/checkout"`` → ``Target("checkout", "shop")``; a bare name takes ``namespace``.
        The one parser of target strings (journals, the CLI, the screens)."""
        ns, sep, name = str(text).partition("/")
        return cls(name, ns) if sep else cls(ns, namespace)


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of a rollout history (one ReplicaSet)."""

    number: int
    images: tuple[str, ...]
    change_cause: str = ""
    created: datetime | None = None
    replicaset: str = ""
    template_hash: str = ""
    live: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    name: str
    namespace: str
    replicas: int
    updated: int
    ready: int
    available: int
    revision: int
    images: tuple[str, ...]
    paused: bool = False


@dataclass(frozen=True, slots=True)
class RolloutProgress:
    """One observation of a rollout, as ``kubectl rollout status`` would judge it."""

    desired: int
    updated: int
    ready: int
    available: int
    total: int
    observed: bool
    complete: bool = False
    failed: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class PodInfo:
    name: str
    phase: str
    ready: bool
    restarts: int
    reason: str = ""
    image: str = ""
    node: str = ""
    created: datetime | None = None
    last_restart: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventInfo:
    type: str
    reason: str
    object: str
    message: str
    count: int = 1
    last_seen: datetime | None = None


class RollbackResult(Enum):
    ROLLED_BACK = "rolled-back"
    SKIPPED = "skipped"  # the template already matches (kubectl: "skipped rollback")


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    result: RollbackResult
    from_revision: int
    to_revision: int
    images: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True)
class TemplateDiff:
    """A unified diff of two pod templates, as lines (no markup)."""

    left: str
    right: str
    lines: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.lines
