"""The journal's mirror stores: PostgreSQL (``postgres.py``) and Redis Streams (``redis.py``).

:func:`open_store` turns a URL into a :class:`cockpit.ports.MirrorStore` (without connecting:
stores connect on first use, in the mirror's thread); :func:`build_mirror` attaches a mirror
to one journal; :func:`install` attaches one to every journal this process opens writable
(``--mirror URL`` / ``journal.mirror``). ``commands.py`` is ``cockpit incidents``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.errors import ConfigError
from cockpit.mirror import DEFAULT_CAPACITY, Mirror, Warn, attach, check_url, set_store_opener


def open_store(url: str, readonly: bool) -> Any:
    """The store at ``url`` (``postgresql://``/``postgres://`` or ``redis://``/``rediss://``),
    built readonly when asked. Does no I/O; ConfigError for a URL that is not one."""
    scheme = check_url(url).partition("://")[0].lower()
    if scheme in ("postgresql", "postgres"):
        from backends.mirror.postgres import PostgresMirror

        return PostgresMirror(url, readonly=readonly)
    if scheme in ("redis", "rediss"):
        from backends.mirror.redis import RedisMirror

        return RedisMirror(url, readonly=readonly)
    raise ConfigError(f"not a mirror URL scheme: {scheme}")  # unreachable: check_url


def build_mirror(url: str, journal: Any, readonly: bool, *, warn: Warn | None = None,
                 capacity: int = DEFAULT_CAPACITY, flush_s: float = 3.0) -> Mirror | None:
    """Mirror ``journal`` into the store at ``url`` (None for a readonly session or journal:
    observers write nothing). Returns at once; the store is reached from the mirror's thread."""
    if readonly or getattr(journal, "readonly", False):
        return None
    return attach(journal, open_store(url, False), capacity=capacity, flush_s=flush_s, warn=warn)


def install(url: str, *, warn: Warn | None = None, capacity: int = DEFAULT_CAPACITY,
            flush_s: float = 3.0) -> Callable[[], None]:
    """From now on, mirror every journal this process opens writable into ``url``; returns the
    function that stops attaching (mirrors already attached run until their journal closes).
    The URL is checked now (ConfigError, exit 2)."""
    from cockpit.journal import add_open_hook

    open_store(url, False)  # a malformed URL is refused before anything is opened
    set_store_opener(open_store)
    return add_open_hook(lambda journal: build_mirror(url, journal, False, warn=warn, capacity=capacity,
                                                      flush_s=flush_s))
