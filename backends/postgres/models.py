"""Facts the PostgreSQL backend returns: small frozen dataclasses, no markup, text sanitized."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Migration:
    framework: str
    """django, rails, alembic, knex, flyway, prisma, efcore, golang-migrate, generic."""
    name: str
    applied_at: datetime | None = None
    detail: str = ""
    """Framework-specific extra (Flyway/Prisma success or failure, Knex batch...)."""


@dataclass(frozen=True)
class MigrationHistory:
    framework: str
    table: str
    """Schema-qualified table the history was read from."""
    migrations: tuple[Migration, ...]
    """Most recent first."""
    total: int


@dataclass(frozen=True)
class MigrationDiff:
    added: tuple[Migration, ...] = ()
    removed: tuple[Migration, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass(frozen=True)
class CountDiff:
    table: str
    before: int | None
    after: int | None

    @property
    def delta(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class IntegrityResult:
    name: str
    violations: int
    builtin: bool = False
    detail: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.violations == 0


@dataclass(frozen=True)
class LongTransaction:
    pid: int
    age_seconds: float
    state: str
    user: str
    application: str
    client: str
    query: str
    """Sanitized (inert) query text, capped."""
    wait_event: str = ""
    xact_start: datetime | None = None


@dataclass(frozen=True)
class BackupProgress:
    """One step of a running pg_dump: a verbose line and the bytes written so far."""

    message: str
    bytes_written: int
    elapsed: float
    done: bool = False
    backup: "BackupInfo | None" = None


@dataclass(frozen=True)
class RestoreProgress:
    message: str
    elapsed: float
    done: bool = False


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    sha256: str
    database: str = ""
    created: datetime | None = None
    verified: bool | None = None
    """None: not checked; True: the file matches its recorded checksum; False: it does not."""
    dsn: str = ""
    """Redacted DSN of the database that was dumped."""
    duration: float | None = None
    extra: dict = field(default_factory=dict)
