"""Feature-flag services behind :class:`cockpit.flags.FlagService`: Unleash today.

A new service (LaunchDarkly, Flagsmith, flagd) is an adapter module with ``get``,
``list_flags`` and ``set_enabled``, and one entry in :data:`PROVIDERS`; the use case, the
journal, readonly, reconcile and the command and step kinds are shared.
"""
from __future__ import annotations

from typing import Any

PROVIDERS = ("unleash",)


def open_service(provider: str = "unleash", *, url: str | None = None, readonly: bool = False, **kw: Any) -> Any:
    """The adapter for ``provider`` (its client library imported here, not at import time)."""
    from cockpit.errors import ConfigError

    if provider == "unleash":
        from backends.flags.unleash import UnleashService

        return UnleashService.from_env(url=url, readonly=readonly, **kw)
    raise ConfigError(f"unknown flag provider {provider!r}; known: {', '.join(PROVIDERS)}")
