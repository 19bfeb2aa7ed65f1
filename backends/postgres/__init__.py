"""PostgreSQL backend (psycopg 3, pg_dump/pg_restore): migration history, backups, restore,
row counts, integrity checks and long-running transactions.

Importing this package costs nothing (``cockpit redis ...`` builds the whole parser, which
imports :mod:`backends.postgres.commands`): the names below load on first use. psycopg loads
when a backend first connects. Step kinds live in :mod:`backends.postgres.steps` (imported by
the composition root), the headless commands in :mod:`backends.postgres.commands`.
"""
from __future__ import annotations

from typing import Any

_MODELS = ("BackupInfo", "BackupProgress", "CountDiff", "IntegrityResult", "LongTransaction", "Migration",
           "MigrationDiff", "MigrationHistory", "RestoreProgress")

__all__ = [*_MODELS, "PostgresBackend"]


def __getattr__(name: str) -> Any:
    if name == "PostgresBackend":
        from backends.postgres.client import PostgresBackend

        return PostgresBackend
    if name in _MODELS:
        from backends.postgres import models

        return getattr(models, name)
    raise AttributeError(name)
