"""PostgreSQL backend (psycopg 3, pg_dump/pg_restore): migration history, backups, restore,
row counts, integrity checks and long-running transactions.

Import cost is kept low: psycopg is imported when a backend first connects. Step kinds live in
:mod:`backends.postgres.steps` (imported by the composition root), the headless commands in
:mod:`backends.postgres.commands`.
"""
from __future__ import annotations

from backends.postgres.models import (
    BackupInfo,
    BackupProgress,
    CountDiff,
    IntegrityResult,
    LongTransaction,
    Migration,
    MigrationDiff,
    MigrationHistory,
    RestoreProgress,
)

__all__ = [
    "BackupInfo",
    "BackupProgress",
    "CountDiff",
    "IntegrityResult",
    "LongTransaction",
    "Migration",
    "MigrationDiff",
    "MigrationHistory",
    "PostgresBackend",
    "RestoreProgress",
]


def __getattr__(name: str):
    if name == "PostgresBackend":
        from backends.postgres.client import PostgresBackend

        return PostgresBackend
    raise AttributeError(name)
