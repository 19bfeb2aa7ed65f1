"""Durations: the one parser and the one formatter of the cockpit (stdlib only, pure).

- :func:`parse_duration` — ``90``, ``"90s"``, ``"5m"``, ``"1h"``, ``"1m30s"``, ``"500ms"``
  → seconds. Runbook fields (:data:`cockpit.runbook.Duration`) and command-line
  flags (:func:`duration_arg`) use it.
- :func:`format_duration` — seconds → ``45s``, ``4m 05s``, ``1h 02m`` (reports, messages,
  verdict reasons, countdowns).

Two fixed-width displays sit beside it, each for one kind of column: :func:`format_timer`
(a stopwatch, ``1:15`` / ``1:02:05``, for elapsed-against-budget columns) and
:func:`format_age` (kubectl's ``AGE`` column: ``45s``, ``12m``, ``5h``, ``3d``).

The simulated world (``cockpit/world``) keeps its own copies on purpose: it is an independent
program that imports nothing of the cockpit but ``cockpit.errors``. PromQL's duration syntax
(``backends/metrics/prometheus.py``) is a wire format, not a display.
"""
from __future__ import annotations

import argparse
import re
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_EXPECTED = "expected a duration such as 30s, 5m or 1h"


def parse_duration(value: Any, *, allow_zero: bool = False) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h"``, ``"1m30s"``, ``"500ms"``.

    A bare number is seconds. Spaces are ignored (``"1m 30s"``). Raises ``ValueError`` for
    anything else, and for zero or less (zero is allowed with ``allow_zero``).
    """
    if isinstance(value, bool):
        raise ValueError(_EXPECTED)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"{_EXPECTED}, got {value!r}")
    else:
        raise ValueError(_EXPECTED)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"{_EXPECTED}, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be positive" if not allow_zero else "a duration cannot be negative")
    return seconds


def duration_arg(text: str) -> float:
    """``argparse`` type for a duration flag (``--timeout 5m``); zero is allowed."""
    try:
        return parse_duration(text, allow_zero=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 5m, 1h)") from None


def format_duration(seconds: float | None) -> str:
    """``45s``, ``4m 05s``, ``1h 02m`` (rounded to the second; the sign is dropped: callers say
    "in" or "overdue"). ``None`` → ``—``."""
    if seconds is None:
        return "—"
    s = int(round(abs(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def format_timer(seconds: float) -> str:
    """A stopwatch: ``75`` → ``1:15``; ``3725`` → ``1:02:05`` (negative → ``0:00``)."""
    s = int(max(0, seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def format_age(seconds: float | None) -> str:
    """kubectl's age column: ``45s``, ``12m``, ``5h``, ``3d`` (``<unknown>`` for None)."""
    if seconds is None:
        return "<unknown>"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"
