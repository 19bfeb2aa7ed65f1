"""MySQL / MariaDB backend (PyMySQL, mariadb-dump/mysqldump, mysqlbinlog): migration history,
backups, guarded restore, point-in-time recovery from the binary log, row counts, integrity
checks and long-running transactions.

Importing this package costs nothing: PyMySQL loads when a backend first connects. Step kinds
live in :mod:`backends.mysql.steps`, the headless commands in :mod:`backends.mysql.commands`.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MySQLBackend"]


def __getattr__(name: str) -> Any:
    if name == "MySQLBackend":
        from backends.mysql.client import MySQLBackend

        return MySQLBackend
    raise AttributeError(name)
