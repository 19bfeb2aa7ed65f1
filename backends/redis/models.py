"""Facts the Redis backend returns: small frozen dataclasses, key names sanitized."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvalidateProgress:
    """One step of a pattern invalidation (or of a dry-run count when ``dry_run``)."""

    pattern: str
    scan_calls: int
    matched: int
    """Keys SCAN returned so far (a key may come back twice while the table rehashes)."""
    deleted: int
    """Keys UNLINK actually removed so far (0 for a dry run)."""
    elapsed: float
    dbsize_before: int
    dry_run: bool = False
    done: bool = False
    remaining: int | None = None
    """Set on the final item: keys still matching after the run (the verification)."""
    dbsize_after: int | None = None

    @property
    def rate(self) -> float:
        """Keys per second (deleted, or matched for a dry run)."""
        n = self.matched if self.dry_run else self.deleted
        return n / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class CountResult:
    pattern: str
    matched: int
    dbsize: int
    scan_calls: int
    elapsed: float
    sample: tuple[str, ...] = ()
    """A few matching key names (sanitized), for the operator to eyeball."""


@dataclass(frozen=True)
class FlushResult:
    target: str
    scope: str
    """``db`` (FLUSHDB) or ``all`` (FLUSHALL)."""
    dbsize_before: int
    dbsize_after: int
    elapsed: float
