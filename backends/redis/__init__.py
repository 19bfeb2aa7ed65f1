"""Redis backend (redis-py): pattern invalidation with streamed progress, guarded flush.

Inside this package ``import redis`` is redis-py (absolute imports; this package is
``backends.redis``). Importing this package is cheap: redis-py loads on first connect.
Step kinds live in :mod:`backends.redis.steps`, headless commands in
:mod:`backends.redis.commands`.
"""
from __future__ import annotations

from typing import Any

_MODELS = ("CountResult", "FlushResult", "InvalidateProgress")
__all__ = [*_MODELS, "RedisBackend"]


def __getattr__(name: str) -> Any:
    if name == "RedisBackend":
        from backends.redis.client import RedisBackend

        return RedisBackend
    if name in _MODELS:
        from backends.redis import models

        return getattr(models, name)
    raise AttributeError(name)
