"""The feature-flag port and the one "quick disable" use case (headless command and runbook
step alike).

A flag service (Unleash today; LaunchDarkly, Flagsmith, flagd later) implements
:class:`FlagService`: read one flag's state in one environment, list a project's flags (so an
unknown flag is an exit 3 naming what exists), and switch the flag on or off. Everything
else — readonly refusing before anything is sent, the state before and after journaled, the
intent fsynced before the write, reconcile after a crash — lives here, once, so a new service
is only its adapter.

No client library is imported here: adapters live in ``backends/flags/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cockpit.errors import NotFoundError, ReadonlyError
from cockpit.text import sanitize


@dataclass(frozen=True)
class FlagRef:
    """Which flag: ``feature`` in ``project`` (a service without projects uses ``default``),
    evaluated in ``environment``."""

    feature: str
    project: str
    environment: str

    def describe(self) -> str:
        """For messages: the names as typed or read, made inert."""
        return sanitize(f"{self.feature} in {self.project}/{self.environment}", max_len=300)


@dataclass(frozen=True)
class FlagState:
    ref: FlagRef
    enabled: bool
    environments: tuple[str, ...] = ()
    """The environments the flag exists in (what an unknown ``--env`` is told)."""


@dataclass(frozen=True)
class FlagChange:
    """What :func:`set_flag` did: the state before and after, and whether a write went out."""

    ref: FlagRef
    provider: str
    target_enabled: bool
    before: bool
    after: bool
    sent: bool

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "feature": self.ref.feature, "project": self.ref.project,
                "environment": self.ref.environment, "before": onoff(self.before), "after": onoff(self.after),
                "sent": self.sent}


@runtime_checkable
class FlagService(Protocol):
    """A feature-flag service. Built readonly, it refuses :meth:`set_enabled` before a byte is
    sent (and again at its transport). Unknown project, flag or environment raise
    :class:`~cockpit.errors.NotFoundError` naming what exists; credentials refused raise
    :class:`~cockpit.errors.ConfigError` naming where they came from, never the secret."""

    provider: str
    readonly: bool

    def target(self) -> str:
        """Where the service is (a URL without credentials), for messages and the journal."""
        ...

    def get(self, ref: FlagRef) -> FlagState: ...

    def list_flags(self, project: str) -> list[str]: ...

    def set_enabled(self, ref: FlagRef, enabled: bool) -> None: ...


def onoff(enabled: bool) -> str:
    return "on" if enabled else "off"


def action_name(enabled: bool) -> str:
    """The journal action and step kind: ``flag.enable`` / ``flag.disable``."""
    return "flag.enable" if enabled else "flag.disable"


def refuse_readonly(service: FlagService, ref: FlagRef, enabled: bool) -> None:
    if service.readonly:
        raise ReadonlyError(f"readonly: would switch {ref.describe()} {onoff(enabled)} on {service.provider}; "
                            f"nothing was sent")


def read_state(service: FlagService, ref: FlagRef) -> FlagState:
    """The flag's state; an unknown flag is exit 3 listing the project's flags."""
    try:
        return service.get(ref)
    except FlagNotFound as exc:
        known = exc.known if exc.known is not None else service.list_flags(ref.project)
        shown = ", ".join(known[:30]) + (f" (+{len(known) - 30} more)" if len(known) > 30 else "")
        raise NotFoundError(f"no flag {sanitize(ref.feature, max_len=120)!r} in project "
                            f"{sanitize(ref.project, max_len=80)!r} on {service.provider}; "
                            f"flags there: {shown or 'none'}", title="Unknown flag") from None


class FlagNotFound(NotFoundError):
    """Raised by an adapter's ``get`` for a flag that does not exist; :func:`read_state` turns
    it into the message listing the project's flags (``known`` when the adapter has them)."""

    title = "Unknown flag"

    def __init__(self, message: str, known: list[str] | None = None) -> None:
        super().__init__(message)
        self.known = known


def set_flag(service: FlagService, ref: FlagRef, enabled: bool, journal: Any = None) -> FlagChange:
    """Switch the flag to ``enabled``: readonly refuses first (nothing is sent, not even a
    read); the state is read; a flag already there is left alone (nothing written); otherwise
    an fsynced intent carrying the state before, the write, the state read back, the outcome."""
    refuse_readonly(service, ref, enabled)
    before = read_state(service, ref)
    if before.enabled == enabled:
        return FlagChange(ref, service.provider, enabled, before.enabled, before.enabled, sent=False)
    if journal is None:
        return _write(service, ref, enabled, before.enabled)
    with journal.action(action_name(enabled), **intent_data(service, ref, enabled, before.enabled)) as act:
        change = _write(service, ref, enabled, before.enabled)
        act.result = change.as_dict()
    return change


def intent_data(service: FlagService, ref: FlagRef, enabled: bool, before: bool) -> dict[str, Any]:
    return {"provider": service.provider, "service": service.target(), "feature": ref.feature,
            "project": ref.project, "environment": ref.environment, "before": onoff(before),
            "target_state": onoff(enabled)}


def _write(service: FlagService, ref: FlagRef, enabled: bool, before: bool) -> FlagChange:
    service.set_enabled(ref, enabled)
    after = read_state(service, ref).enabled
    if after != enabled:
        from cockpit.errors import ConflictError

        raise ConflictError(f"{ref.describe()} is still {onoff(after)} after switching it {onoff(enabled)} "
                            f"on {service.provider}", title="Flag unchanged")
    return FlagChange(ref, service.provider, enabled, before, after, sent=True)


def reconcile_flag(service: FlagService, ref: FlagRef, enabled: bool) -> dict[str, Any] | None:
    """After a crash between intent and outcome: the flag already in the target state means
    the write took effect (the outcome, nothing sent again); else ``None`` (send it)."""
    now = read_state(service, ref)
    if now.enabled != enabled:
        return None
    return {"provider": service.provider, "feature": ref.feature, "project": ref.project,
            "environment": ref.environment, "after": onoff(now.enabled), "sent": False, "reconciled": True}


def pending_intent(records: list[dict[str, Any]], ref: FlagRef) -> dict[str, Any] | None:
    """The last ``flag.enable|flag.disable`` intent for this flag with no outcome (a crash
    between the write and its record), from a journal's records."""
    closed = {r.get("id") for r in records if r.get("type") == "outcome"}
    for r in reversed(records):
        if (r.get("type") == "intent" and r.get("action") in ("flag.enable", "flag.disable")
                and (r.get("feature"), r.get("project"), r.get("environment")) == (ref.feature, ref.project, ref.environment)
                and r.get("id") not in closed):
            return r
    return None


def resume_pending(service: FlagService, ref: FlagRef, journal: Any, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Close a pending intent for this flag: reconciled (the flag is in the state that intent
    wanted → the outcome, nothing sent; returned) or superseded (it is not → closed as not
    applied, ``None``: the caller switches it again)."""
    rec = pending_intent(records, ref)
    if rec is None:
        return None
    wanted = rec.get("action") == "flag.enable"
    done = reconcile_flag(service, ref, wanted)
    if done is not None:
        done["before"] = rec.get("before")
        journal.outcome(rec["id"], True, resumed=True, result=done)
        return done
    journal.outcome(rec["id"], False, resumed=True, superseded=True, error_title="Not applied",
                    error_message=f"the flag was not {onoff(wanted)}; switching it again")
    return None
