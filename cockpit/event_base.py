"""The machinery of typed journal events: the :class:`Event` base class, strict (write) and
lenient (read) field checking, and the registry of event types by name. The event types
themselves are in :mod:`cockpit.events`.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from types import MappingProxyType, NoneType, UnionType
from typing import Any, ClassVar, Mapping

SCHEMA_VERSION = 1
ENVELOPE = ("seq", "ts", "actor", "type", "v")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EventShapeError(ValueError):
    """A field of an event has the wrong shape (strict: writing; lenient reads keep it unknown)."""


@dataclass(frozen=True)
class Event:
    """Base of every journal event. Subclasses set ``type`` (the record's ``type``)."""

    type: ClassVar[str] = ""
    version: ClassVar[int] = SCHEMA_VERSION
    durable: ClassVar[bool] = False
    """Fsynced on append: losing it would change what the cockpit decides or did."""

    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, kw_only=True)
    """Keys the record had that this version does not declare (kept, written back)."""

    def to_record(self) -> dict[str, Any]:
        """The event's data (no envelope): declared fields, then ``extra``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        for k, v in self.extra.items():
            if k not in out and k not in ENVELOPE:
                out[k] = v
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, strict: bool = True) -> Event:
        """Build from a record's data (envelope keys are ignored). ``strict`` refuses values of
        the wrong shape (:class:`EventShapeError`); otherwise they are coerced where harmless."""
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for k, v in data.items():
            if k in ENVELOPE:
                continue
            if k in hints and k != "extra":
                kwargs[k] = _coerce(hints[k], v, k, strict)
            else:
                extra[str(k)] = v
        if "extra" in data and isinstance(data["extra"], Mapping):
            extra.update(data["extra"])
        try:
            return cls(**kwargs, extra=MappingProxyType(extra) if extra else _EMPTY)
        except TypeError as exc:  # a required field is missing
            raise EventShapeError(f"{cls.type}: {exc}") from None


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _coerce(tp: Any, v: Any, name: str, strict: bool) -> Any:
    """Check (strict) or coerce (lenient) ``v`` to the annotation ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (UnionType, typing.Union):
        args = typing.get_args(tp)
        if v is None and NoneType in args:
            return None
        errors = []
        for arg in args:
            if arg is NoneType:
                continue
            try:
                return _coerce(arg, v, name, True)
            except EventShapeError as exc:
                errors.append(exc)
        if strict:
            raise errors[0] if errors else EventShapeError(f"{name}: unexpected {v!r}")
        return _coerce(next(a for a in args if a is not NoneType), v, name, False)
    if tp is Any or tp is object:
        return v
    if origin is tuple:
        if isinstance(v, (list, tuple)):
            (item,) = typing.get_args(tp)[:1] or (Any,)
            return tuple(_coerce(item, x, name, strict) for x in v)
        if strict or v is None:
            raise EventShapeError(f"{name}: expected a list, got {type(v).__name__}")
        return (_coerce(typing.get_args(tp)[0], v, name, False),)  # an old single value
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if isinstance(v, Mapping):
            return MappingProxyType(dict(v))
        raise EventShapeError(f"{name}: expected an object, got {type(v).__name__}")
    if tp is bool:
        if isinstance(v, bool):
            return v
        if strict:
            raise EventShapeError(f"{name}: expected true or false, got {v!r}")
        return bool(v)
    if tp is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if not strict and isinstance(v, (str, float)):
            try:
                return int(v)
            except ValueError:
                pass
        raise EventShapeError(f"{name}: expected an integer, got {v!r}")
    if tp is float:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        raise EventShapeError(f"{name}: expected a number, got {v!r}")
    if tp is str:
        if isinstance(v, str):
            return v
        if strict and not isinstance(v, (int, float)):
            raise EventShapeError(f"{name}: expected text, got {type(v).__name__}")
        return "" if v is None else str(v)
    return v


# --------------------------------------------------------------------------- registry

EVENT_TYPES: dict[str, type[Event]] = {}


def event(cls: type[Event]) -> type[Event]:
    """Register an event class under its ``type``."""
    assert cls.type and cls.type not in EVENT_TYPES, cls
    EVENT_TYPES[cls.type] = cls
    return cls


def event_class(type_: str) -> type[Event]:
    try:
        return EVENT_TYPES[type_]
    except KeyError:
        raise EventShapeError(f"unknown journal event type {type_!r}") from None


def build(type_: str, data: Mapping[str, Any]) -> Event:
    """The event of ``type_`` from keyword data, strictly (what ``Journal.append`` uses)."""
    clash = [k for k in data if k in ENVELOPE]
    if clash:
        raise EventShapeError(f"journal data may not use the reserved keys {clash}")
    return event_class(type_).from_data(data, strict=True)


def parse(record: Mapping[str, Any]) -> Event | None:
    """The event a record holds, or None when its type is unknown or its fields do not fit."""
    cls = EVENT_TYPES.get(record.get("type"))  # type: ignore[arg-type]
    if cls is None:
        return None
    try:
        return cls.from_data(record, strict=False)
    except (EventShapeError, TypeError, ValueError):
        return None
