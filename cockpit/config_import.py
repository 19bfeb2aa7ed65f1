"""``cockpit config import``: a runbook's ``rollback-config.json`` → our settings (a nested dict).

Only thresholds are imported (the trigger bounds, the check interval, the stabilization
period); everything else is named in the notes. The result is validated against
:class:`cockpit.config.Settings`, and errors name the runbook's key, not ours.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.config import _build
from cockpit.errors import ConfigError

_RUNBOOK_KEYS = {
    ("triggers", "autoRollback", "errorRate"): (("decision", "triggers", "error_rate_above"), "a fraction 0..1 (0.1 = 10 %)"),
    ("triggers", "autoRollback", "responseTime"): (("decision", "triggers", "p95_ms_above"), "milliseconds > 0"),
    ("triggers", "autoRollback", "availability"): (("decision", "triggers", "success_rate_below"), "a fraction 0..1 (0.95 = 95 %)"),
    ("recovery", "healthCheckInterval"): (("watch", "interval_s"), "seconds > 0"),
    ("recovery", "stabilizationPeriod"): (("watch", "stabilization_s"), "seconds >= 0"),
}


def import_rollback_config(path: str | os.PathLike) -> tuple[dict, list[str]]:
    """Translate a runbook ``rollback-config.json`` into our settings (a nested dict).

    Mapping: ``triggers.autoRollback.errorRate`` → ``decision.triggers.error_rate_above``;
    ``responseTime`` → ``decision.triggers.p95_ms_above``; ``availability`` →
    ``decision.triggers.success_rate_below``; ``recovery.healthCheckInterval`` →
    ``watch.interval_s``; ``recovery.stabilizationPeriod`` → ``watch.stabilization_s``.
    Returns ``(overrides, notes)``; notes name the keys not imported (``strategies``,
    ``notifications``: other areas). Raises ConfigError naming the file, key and expectation.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level")
    out: dict = {}
    notes: list[str] = []
    for src, (dst, expected) in _RUNBOOK_KEYS.items():
        node: Any = data
        for part in src:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        key = ".".join(src)
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise ConfigError(f"{path}: {key}: expected {expected}, got {node!r}")
        cur = out
        for p in dst[:-1]:
            cur = cur.setdefault(p, {})
        cur[dst[-1]] = node
    known_leaves = {k for k in _RUNBOOK_KEYS}

    def walk(node: Any, prefix: tuple) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, prefix + (k,))
        elif prefix not in known_leaves:
            notes.append(f"{'.'.join(prefix)} not imported (not a threshold; configure it in its own section)")

    walk(data, ())
    try:
        _build(out)
    except ValidationError as exc:
        reverse = {".".join(map(str, v[0])): (".".join(k), v[1]) for k, v in _RUNBOOK_KEYS.items()}
        msgs = []
        for e in exc.errors(include_url=False):
            ours = ".".join(str(p) for p in e["loc"])
            theirs, expected = reverse.get(ours, (ours, e["msg"]))
            msgs.append(f"{path}: {theirs}: expected {expected}, got {e.get('input')!r}")
        raise ConfigError("; ".join(msgs)) from None
    return out, notes
