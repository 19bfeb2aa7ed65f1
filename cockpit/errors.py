"""One error hierarchy for everything the cockpit can say went wrong.

Every error carries a short ``title`` (for a modal or the first word of a CLI line) and an
actionable ``message``. The CLI prints ``title: message`` and exits with ``exit_code``; the
app shows a titled modal. Nobody ever sees a traceback for one of these.
"""
from __future__ import annotations


class CockpitError(Exception):
    """Base class: ``CockpitError(message, title=...)``."""

    title = "Error"
    exit_code = 1

    def __init__(self, message: str, *, title: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(CockpitError):
    """A config, runbook or scenario file (or flag) is malformed. Names file, key, expected."""

    title = "Bad configuration"
    exit_code = 2


class NotFoundError(CockpitError):
    """A deployment, revision, container, table... does not exist."""

    title = "Not found"
    exit_code = 3


class UnreachableError(CockpitError):
    """A server (Kubernetes API, Prometheus, PostgreSQL, Redis, dockerd) did not answer."""

    title = "Unreachable"
    exit_code = 4


class ServerError(UnreachableError):
    """A server answered, but with a failure of its own (HTTP 5xx, or 429 Too Many Requests),
    and went on doing so through the retries. ``status`` and ``retry_after`` (seconds, from
    the ``Retry-After`` header) say what it answered. Exit code 4, as for no answer at all."""

    title = "Server error"
    status: int | None = None
    retry_after: float | None = None


class ReadonlyError(CockpitError):
    """A mutating call was attempted on a backend built readonly. Nothing was sent."""

    title = "Readonly"
    exit_code = 5


class ConflictError(CockpitError):
    """The world changed under us (409, paused deployment, lock held by someone else)."""

    title = "Conflict"
    exit_code = 6


class LockedError(ConflictError):
    """Another operator holds the incident lock on this target."""

    title = "Locked"


class RolloutFailed(CockpitError):
    """A rollout did not complete: deadline exceeded, cancelled or timed out."""

    title = "Rollout failed"
    exit_code = 7


class JournalError(CockpitError):
    """The journal cannot be written durably (fsync failed, disk full). Fatal, never retried."""

    title = "Journal"
    exit_code = 8


class Aborted(CockpitError):
    """The operator aborted (SIGINT during a countdown, 'no' at a confirmation)."""

    title = "Aborted"
    exit_code = 130


# Exit codes, documented in README.md ("Exit codes").
EXIT_OK = 0
EXIT_USAGE = 2
