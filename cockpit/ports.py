"""The contracts backends implement. The core and the screens only know these.

Backends are synchronous (the kubernetes, docker, psycopg and redis clients are); every call
has a timeout and raises :class:`cockpit.errors.CockpitError` subclasses with an actionable
message. Long operations take a ``cancel`` :class:`threading.Event`. The app calls them from
thread workers.

Optional capabilities are separate ``runtime_checkable`` protocols: a screen offers an action
only when ``isinstance(backend, CanRollback)``. A backend built readonly raises
:class:`~cockpit.errors.ReadonlyError` from every mutating method before sending anything and
reports ``readonly = True``.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cockpit.model import (
    DeploymentInfo,
    EventInfo,
    PodInfo,
    Revision,
    RollbackOutcome,
    RolloutProgress,
    Target,
    TemplateDiff,
)

if TYPE_CHECKING:
    from cockpit.decision import Reading


@runtime_checkable
class RolloutBackend(Protocol):
    """Read side of a workload platform (Kubernetes)."""

    readonly: bool

    def list_deployments(self, namespace: str | None = None) -> list[DeploymentInfo]:
        """All deployments, in ``namespace`` or across namespaces when ``None``."""

    def deployment(self, target: Target) -> DeploymentInfo:
        """One deployment. Raises NotFoundError."""

    def history(self, target: Target) -> list[Revision]:
        """Revisions oldest first, the live one marked. Raises NotFoundError."""

    def diff(self, target: Target, revision: int, against: int | None = None) -> TemplateDiff:
        """Pod-template diff of ``revision`` against ``against`` (default: the live template)."""

    def progress(self, target: Target) -> RolloutProgress:
        """One observation of the rollout, judged as ``kubectl rollout status`` does."""

    def watch_progress(
        self, target: Target, *, cancel: threading.Event | None = None, timeout: float = 600.0
    ) -> Iterator[RolloutProgress]:
        """Yield progress until complete (last item ``complete``), failed, cancelled or timed out."""

    def pods(self, target: Target) -> list[PodInfo]:
        """The deployment's pods."""

    def events(self, target: Target, limit: int = 50) -> list[EventInfo]:
        """Recent events about the deployment, its ReplicaSets and pods."""


@runtime_checkable
class CanRollback(Protocol):
    def rollback(self, target: Target, to_revision: int = 0) -> RollbackOutcome:
        """Roll back as ``kubectl rollout undo`` does (0 = previous revision)."""


@runtime_checkable
class CanScale(Protocol):
    def scale(self, target: Target, replicas: int) -> None: ...


@runtime_checkable
class CanSetImage(Protocol):
    def set_image(self, target: Target, container: str, image: str) -> None: ...


@runtime_checkable
class CanPause(Protocol):
    def pause(self, target: Target) -> None: ...

    def resume(self, target: Target) -> None: ...


@runtime_checkable
class CanSwitchSelector(Protocol):
    def switch_selector(self, namespace: str, service: str, selector: dict[str, str]) -> dict[str, str]:
        """Point a Service at other pods (blue-green); returns the previous selector."""


@runtime_checkable
class MetricsSource(Protocol):
    """A source of :class:`~cockpit.decision.Reading` s for one service (``backends/metrics``).

    ``sample(window_s, now)`` measures rates and quantiles over the last ``window_s`` seconds
    and stamps the reading ``now`` (epoch seconds; the source's own clock when ``None``).
    It never raises for a failed fetch: it returns ``Reading(ok=False, error=...)`` so the
    engine can mark the source *stale since T*; only a :class:`~cockpit.errors.ConfigError`
    (a query the operator must fix) propagates. Optional extras, looked up by the watch:
    ``describe() -> str``, ``reset()`` (forget history after a rollback), ``close()``.
    """

    name: str

    def sample(self, window_s: float, now: float | None = None) -> Reading: ...


@runtime_checkable
class HasHistory(Protocol):
    """A metrics source that can read back the last ``span_s`` seconds (Prometheus: its
    ``query_range``) as ``[(t, error_rate, p95_ms)]``, oldest first, each point measured over
    ``rate_window_s``; raises :class:`~cockpit.errors.CockpitError` when it cannot."""

    def history(self, span_s: float, now: float | None = None, step_s: float | None = None, *,
                rate_window_s: float = 60.0) -> list[tuple[float, float | None, float | None]]: ...


if TYPE_CHECKING:
    from cockpit.locks import TargetLock, Warn


@runtime_checkable
class TargetLocker(Protocol):
    """Takes "one operator per target" where every operator sees it (Kubernetes: a Lease).

    ``acquire`` raises :class:`~cockpit.errors.LockedError` naming the holder and since when,
    :class:`~cockpit.errors.ReadonlyError` before any request when built readonly, and calls
    ``warn`` with one sentence when it must fall back to a weaker lock (the host-wide lock
    file of :mod:`cockpit.locks` when the platform forbids its own). See :mod:`cockpit.locks`.
    """

    def acquire(self, target: Target, *, actor: str, warn: Warn | None = None) -> TargetLock: ...


if TYPE_CHECKING:
    from collections.abc import Sequence

    from cockpit.mirror import MirroredIncident


@runtime_checkable
class MirrorStore(Protocol):
    """Where the journal's mirror copies records (``backends/mirror``: PostgreSQL, Redis
    Streams). One record per (incident, seq): a replay never duplicates. Every call is
    bounded by timeouts and raises :class:`~cockpit.errors.UnreachableError` when the store
    does not answer; a store built readonly refuses ``append`` and ``heartbeat`` with
    :class:`~cockpit.errors.ReadonlyError` before anything is sent, and at its transport.
    ``display`` is the URL without its secrets (all that is ever shown or journaled).
    """

    readonly: bool
    display: str

    def append(self, incident: str, records: Sequence[dict], *, after: int) -> int:
        """Store ``records`` (increasing ``seq``), which follow the record ``after`` in the
        journal: only when the store has the incident up to ``after`` (else nothing is
        written), and only those above its last ``seq``. Updates the incident's index and
        wakes followers. Returns the incident's last ``seq`` in the store."""

    def last_seq(self, incident: str) -> int:
        """The incident's last ``seq`` in the store (0: none)."""

    def heartbeat(self, incident: str) -> None:
        """The operator's mirror is alive (idle): stamp the incident's index."""

    def incidents(self, *, open_only: bool = False, ids: Sequence[str] | None = None,
                  limit: int = 200) -> list[MirroredIncident]:
        """The index: incidents newest first (only open ones, or only ``ids``)."""

    def wait(self, incident: str, after: int, timeout: float) -> list[dict]:
        """The incident's records after ``after`` in ``seq`` order (a page); when there are
        none, waits up to ``timeout`` seconds for the operator's mirror to send some."""

    def close(self) -> None: ...
