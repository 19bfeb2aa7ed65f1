"""Messages screens post to the app: named for what the operator asked for (attributes go
down, messages go up). The app routes them to workers; screens never do the I/O."""
from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from cockpit.model import Revision, Target


@dataclass
class TargetPicked(Message):
    target: Target


@dataclass
class DiffWanted(Message):
    target: Target
    revision: int


@dataclass
class RollbackConfirmed(Message):
    target: Target
    from_revision: int
    to_revision: int
    images: tuple[str, ...]


@dataclass
class CheckTicked(Message):
    id: str
    ok: bool
    note: str = ""


@dataclass
class ExtendMonitoring(Message):
    on: bool


@dataclass
class ResolveWanted(Message):
    """Resolve the incident. ``open_checks``: the checks the operator was told are open and
    chose to resolve anyway (ids; ``()``: none were open; None: not asked)."""

    open_checks: tuple[str, ...] | None = None


@dataclass
class ArmToggled(Message):
    pass


@dataclass
class AbortAuto(Message):
    pass


@dataclass
class CancelRun(Message):
    pass


@dataclass
class HistoryWanted(Message):
    target: Target


@dataclass
class CommsWanted(Message):
    """The operator asked to ``send``, ``edit`` (then send) or ``skip`` a comms item
    (``update`` / ``escalation:<n>``; None: the next one due)."""

    action: str
    item: str | None = None


@dataclass
class ReportWanted(Message):
    pass


@dataclass
class RedisCountWanted(Message):
    """Dry run: how many keys match ``pattern`` (nothing is deleted)."""

    pattern: str


@dataclass
class InvalidateConfirmed(Message):
    pattern: str


@dataclass
class CancelInvalidate(Message):
    pass


@dataclass
class IncidentArrived(Message):
    """Records of the followed journal arrived (posted from its tail thread, once per burst)."""


__all__ = ["CancelInvalidate", "CommsWanted", "IncidentArrived", "InvalidateConfirmed", "RedisCountWanted", "ReportWanted",
           "AbortAuto", "ArmToggled", "CancelRun", "CheckTicked", "DiffWanted", "ExtendMonitoring",
           "HistoryWanted", "ResolveWanted", "Revision", "RollbackConfirmed", "TargetPicked"]
