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
    pass


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


__all__ = ["AbortAuto", "ArmToggled", "CancelRun", "CheckTicked", "DiffWanted", "ExtendMonitoring",
           "HistoryWanted", "ResolveWanted", "Revision", "RollbackConfirmed", "TargetPicked"]
