"""Headless output: aligned text tables for people, JSON for scripts (``--output json``).

Handlers return data; these helpers print it. Strings are sanitized on the way out as a
second line of defence (backends already sanitize at the boundary).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TextIO

from cockpit.durations import format_age
from cockpit.text import sanitize


def jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, sort_keys=False, ensure_ascii=False)


def print_json(value: Any, out: TextIO | None = None) -> None:
    print(to_json(value), file=out or sys.stdout)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An aligned plain-text table (kubectl style: upper-case headers, two-space gaps)."""
    cells = [[sanitize(h, max_len=200) for h in headers]]
    cells += [[sanitize("" if c is None else c, max_len=200) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def emit(args: Any, data: Any, headers: Sequence[str] | None = None, rows: Iterable[Sequence[Any]] | None = None) -> None:
    """Print ``data`` as JSON when ``--output json``, else the table (or ``str(data)``)."""
    if getattr(args, "output", "text") == "json":
        print_json(data)
    elif headers is not None and rows is not None:
        print(table(headers, rows))
    else:
        print(sanitize(data, keep_newlines=True, max_len=1_000_000))


def age(when: datetime | None, now: datetime | None = None) -> str:
    """kubectl-style age: 45s, 12m, 5h, 3d (:func:`cockpit.durations.format_age`)."""
    if when is None:
        return "<unknown>"
    now = now or datetime.now(timezone.utc)
    return format_age((now - when).total_seconds())
