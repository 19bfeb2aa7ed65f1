"""The decision matrix and the decision tree: one merged :class:`Sample` → a :class:`Verdict`
with :class:`Reason` s. Pure, stateless; :mod:`cockpit.decision` folds ticks around it.

Every threshold comes from the settings (:class:`cockpit.config.DecisionConfig`); the screens
place values in the matrix with the same :func:`band` (one banding function for the house).

**Matrix** (runbook 003). Boundaries follow the runbook's wording — *"> 5 %"* roll back now,
*"2–5 %"* consider, *"1–2 %"* monitor — so the roll-back bound is **strict** and the lower
bands are **inclusive** at both ends, the higher band winning where two touch:

=============  ==============  ==============  ==============  =========
metric         ROLLBACK_NOW    CONSIDER        MONITOR         OK
=============  ==============  ==============  ==============  =========
error rate     > 5 %           2 % … 5 %       1 % … < 2 %     < 1 %
p95 latency    > 2000 ms       1000 … 2000     500 … < 1000    < 500 ms
pod restarts   > 3 in 5 min                    1 … 3           0
user reports                   > 10 in 5 min
health check                   failing
=============  ==============  ==============  ==============  =========

So 5.00 % is CONSIDER and 5.01 % ROLLBACK_NOW; 2000 ms is CONSIDER, 2001 ms ROLLBACK_NOW;
exactly 1 % / 500 ms is MONITOR (the runbooks' "after rollback" targets are "< 1 %" and
"< 500 ms"). The verdict is the worst level among the reasons.

**Decision tree** (runbook 000). Data loss, a security breach or errors > 50 % → immediate
rollback; > 10 % of users affected → standard rollback; otherwise a hotfix may do. Both
rollbacks make the verdict ROLLBACK_NOW (their reasons say which); "hotfix" is advice only.

**Missing data is never healthy**: :func:`evaluate` takes the reasons for what is missing
(INCONCLUSIVE); with any of them, OK and MONITOR become INCONCLUSIVE, while evidence of a
problem (CONSIDER, ROLLBACK_NOW) stands.

Imports nothing heavy (the settings models only for type checking), so screens can use it.
"""
from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from cockpit.durations import format_duration

if TYPE_CHECKING:
    from cockpit.config import DecisionConfig


class Verdict(str, Enum):
    OK = "OK"
    MONITOR = "MONITOR"
    CONSIDER = "CONSIDER"
    ROLLBACK_NOW = "ROLLBACK_NOW"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_RANK = {Verdict.OK: 0, Verdict.MONITOR: 1, Verdict.INCONCLUSIVE: 1, Verdict.CONSIDER: 2, Verdict.ROLLBACK_NOW: 3}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why: ``metric`` (``error_rate``, ``p95_ms``, ``crashes``, ``health``, ``user_reports``,
    ``tree``, ``trigger:<name>``, ``stale``, ``stabilizing``...), the level it argues for, the
    value, the threshold and the window (seconds) it was measured over, and one line of text."""

    metric: str
    level: Verdict
    text: str
    value: float | None = None
    threshold: float | None = None
    window_s: float | None = None

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "level": self.level.value,
            "value": self.value,
            "threshold": self.threshold,
            "window_s": self.window_s,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Sample:
    """The merged, fresh view of one service at one tick. ``None``: no fresh value."""

    at: float
    error_rate: float | None = None
    p95_ms: float | None = None
    request_rate: float | None = None
    health_ok: bool | None = None
    probe_ms: float | None = None
    version: str | None = None
    crashes: int | None = None
    window_s: float = 0.0
    crash_window_s: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """metric → the source its value came from."""


@dataclass(frozen=True, slots=True)
class OperatorInputs:
    """What the operator told us (journaled as ``operator_input``). ``None``: not asked yet."""

    data_loss: bool | None = None
    security_breach: bool | None = None
    users_affected: float | None = None
    """Fraction of users affected (0.15 = 15 %)."""
    user_reports: int | None = None
    """User reports in the last ``user_reports.window_s``."""

    KEYS = ("data_loss", "security_breach", "users_affected", "user_reports")

    def with_input(self, key: str, value: object) -> OperatorInputs:
        """Return a copy with ``key`` set (as folded from an ``operator_input`` event)."""
        if key not in self.KEYS:
            raise ValueError(f"unknown operator input {key!r}; expected one of {', '.join(self.KEYS)}")
        if key in ("data_loss", "security_breach"):
            v: object = None if value is None else _as_bool(value)
        elif key == "users_affected":
            v = None if value is None else _as_fraction(value)
        else:
            v = None if value is None else int(value)  # type: ignore[arg-type]
        return replace(self, **{key: v})


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("y", "yes", "true", "1", "on"):
            return True
        if low in ("n", "no", "false", "0", "off"):
            return False
        raise ValueError(f"expected yes or no, got {value!r}")
    return bool(value)


def _as_fraction(value: object) -> float:
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        value = float(text)
    f = float(value)  # type: ignore[arg-type]
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"expected a fraction 0..1 or a percentage like '15%', got {value!r}")
    return f


# --------------------------------------------------------------------------- formatting


def pct(x: float) -> str:
    """0.0501 → '5.01%'; trims trailing zeros but keeps the precision that matters at edges."""
    v = x * 100.0
    if v == 0:
        return "0%"
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def ms(x: float) -> str:
    return f"{x:.0f} ms" if x >= 10 or x == int(x) else f"{x:.1f} ms"


def clock(ts: float) -> str:
    return _time.strftime("%H:%M:%S", _time.localtime(ts))


# --------------------------------------------------------------------------- the matrix


DEFAULT_BANDS: dict[str, dict[str, float]] = {
    "error_rate": {"rollback_above": 0.05, "consider_from": 0.02, "monitor_from": 0.01},
    "p95_ms": {"rollback_above": 2000.0, "consider_from": 1000.0, "monitor_from": 500.0},
    "crashes": {"rollback_above": 3, "monitor_from": 1},
}
"""The runbooks' matrix (error rate > 5 % / 2–5 % / 1–2 %; p95 > 2000 / 1000–2000 / 500–1000 ms;
> 3 restarts): the settings' defaults (``cockpit.config`` reads them from here) and what a
screen shows before any configuration is loaded, without importing the settings machinery."""


def default_matrix() -> Any:
    """The default bands as plain attributes (``m.error_rate.rollback_above``), like the settings'."""
    from types import SimpleNamespace

    return SimpleNamespace(**{k: SimpleNamespace(**v) for k, v in DEFAULT_BANDS.items()})


def band(value: float, rollback_above: float, consider_from: float | None, monitor_from: float | None) -> Verdict:
    """The matrix rule for one value: strict above ``rollback_above``, inclusive below."""
    if value > rollback_above:
        return Verdict.ROLLBACK_NOW
    if consider_from is not None and value >= consider_from:
        return Verdict.CONSIDER
    if monitor_from is not None and value >= monitor_from:
        return Verdict.MONITOR
    return Verdict.OK


def _window(w: float | None) -> str:
    return f" over {format_duration(w)}" if w else ""


def _band_reason(metric: str, label: str, fmt: Callable[[float], str], b: Any, value: float,
                 window_s: float | None) -> Reason:
    """A reason for a value in a three-band matrix row (error rate, p95)."""
    level = band(value, b.rollback_above, b.consider_from, b.monitor_from)
    v = fmt(value)
    if level is Verdict.ROLLBACK_NOW:
        text, th = f"{label} {v} > {fmt(b.rollback_above)}", b.rollback_above
    elif level is Verdict.CONSIDER:
        text, th = f"{label} {v} within {fmt(b.consider_from)}–{fmt(b.rollback_above)} (consider)", b.consider_from
    elif level is Verdict.MONITOR:
        text, th = f"{label} {v} within {fmt(b.monitor_from)}–{fmt(b.consider_from)} (monitor)", b.monitor_from
    else:
        text, th = f"{label} {v} < {fmt(b.monitor_from)}", b.monitor_from
    return Reason(metric, level, text + _window(window_s), value, th, window_s)


def error_rate_reason(value: float, cfg: DecisionConfig, window_s: float | None) -> Reason:
    return _band_reason("error_rate", "error rate", pct, cfg.matrix.error_rate, value, window_s)


def p95_reason(value: float, cfg: DecisionConfig, window_s: float | None) -> Reason:
    return _band_reason("p95_ms", "p95", ms, cfg.matrix.p95_ms, value, window_s)


def crash_reason(value: int, cfg: DecisionConfig, window_s: float | None) -> Reason:
    b = cfg.matrix.crashes
    w = window_s or b.window_s
    level = band(value, b.rollback_above, None, b.monitor_from)
    if level is Verdict.ROLLBACK_NOW:
        text, th = f"{value} pod restarts > {b.rollback_above}", b.rollback_above
    elif level is Verdict.MONITOR:
        text, th = f"{value} pod restart{'s' if value != 1 else ''} (≤ {b.rollback_above}: monitor)", b.monitor_from
    else:
        text, th = "no pod restarts", b.monitor_from
    return Reason("crashes", level, text + _window(w), float(value), float(th), w)


def matrix_reasons(sample: Sample, cfg: DecisionConfig, inputs: OperatorInputs | None = None) -> list[Reason]:
    """One reason per known metric (and per operator input that the matrix judges)."""
    out: list[Reason] = []
    w = sample.window_s or None
    if sample.error_rate is not None:
        out.append(error_rate_reason(sample.error_rate, cfg, w))
    if sample.p95_ms is not None:
        out.append(p95_reason(sample.p95_ms, cfg, w))
    if sample.crashes is not None:
        out.append(crash_reason(sample.crashes, cfg, sample.crash_window_s))
    if sample.health_ok is not None:
        if sample.health_ok:
            out.append(Reason("health", Verdict.OK, "health check passed"))
        else:
            out.append(Reason("health", Verdict.CONSIDER, "health check failed"))
    if inputs is not None and inputs.user_reports is not None:
        u = cfg.matrix.user_reports
        if inputs.user_reports > u.investigate_above:
            out.append(Reason("user_reports", Verdict.CONSIDER,
                              f"{inputs.user_reports} user reports > {u.investigate_above} (investigate){_window(u.window_s)}",
                              float(inputs.user_reports), float(u.investigate_above), u.window_s))
        else:
            out.append(Reason("user_reports", Verdict.OK,
                              f"{inputs.user_reports} user reports ≤ {u.investigate_above}{_window(u.window_s)}",
                              float(inputs.user_reports), float(u.investigate_above), u.window_s))
    return out


def decision_tree(inputs: OperatorInputs | None, error_rate: float | None, cfg: DecisionConfig,
                  window_s: float | None = None) -> tuple[str | None, Reason | None]:
    """Runbook 000's tree. Returns (path, reason); path None when nothing is known."""
    t = cfg.tree
    i = inputs or OperatorInputs()
    if i.data_loss:
        return "immediate", Reason("tree", Verdict.ROLLBACK_NOW, "operator: data loss → immediate rollback", 1.0)
    if i.security_breach:
        return "immediate", Reason("tree", Verdict.ROLLBACK_NOW, "operator: security breach → immediate rollback", 1.0)
    if error_rate is not None and error_rate > t.critical_error_rate_above:
        return "immediate", Reason("tree", Verdict.ROLLBACK_NOW,
                                   f"error rate {pct(error_rate)} > {pct(t.critical_error_rate_above)} (critical) → immediate rollback{_window(window_s)}",
                                   error_rate, t.critical_error_rate_above, window_s)
    if i.users_affected is not None and i.users_affected > t.users_affected_above:
        return "standard", Reason("tree", Verdict.ROLLBACK_NOW,
                                  f"operator: {pct(i.users_affected)} of users affected > {pct(t.users_affected_above)} → standard rollback",
                                  i.users_affected, t.users_affected_above)
    if i.data_loss is None and i.security_breach is None and i.users_affected is None:
        return None, None
    return "hotfix", Reason("tree", Verdict.OK, "operator inputs: not critical, few users affected → consider a hotfix")


def evaluate(sample: Sample, cfg: DecisionConfig, inputs: OperatorInputs | None = None,
             missing: Sequence[Reason] = ()) -> tuple[Verdict, list[Reason], str | None]:
    """The stateless verdict for one merged sample (matrix + tree + the missing-data rule)."""
    reasons = matrix_reasons(sample, cfg, inputs)
    path, tree_reason = decision_tree(inputs, sample.error_rate, cfg, sample.window_s or None)
    if tree_reason is not None:
        reasons.insert(0, tree_reason)
    worst = max((r.level.rank for r in reasons), default=-1)
    if worst >= Verdict.CONSIDER.rank:
        verdict = Verdict.ROLLBACK_NOW if worst == Verdict.ROLLBACK_NOW.rank else Verdict.CONSIDER
    elif missing or worst < 0:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.MONITOR if worst == Verdict.MONITOR.rank else Verdict.OK
    # Order: the reasons that made the verdict first, then the rest, missing data last.
    reasons.sort(key=lambda r: -r.level.rank)
    return verdict, reasons + list(missing), path
