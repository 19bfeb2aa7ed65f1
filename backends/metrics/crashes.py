"""Pod crash counts from the rollout backend: restarts within the last ``window_s`` (5 min).

``PodInfo.restarts`` is cumulative, so the source keeps each pod's count over time and
reports the increase within the window. A pod seen for the first time whose last restart
falls inside the window counts as one restart (a lower bound: we cannot know more).

Its readings are marked ``cluster=True``: they come through the Kubernetes API, so the
decision engine also learns from them whether the API answers (health checks count only then).
"""
from __future__ import annotations

import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

from cockpit.decision import Reading
from cockpit.errors import CockpitError
from cockpit.model import PodInfo, Target


class CrashSource:
    def __init__(self, backend: Any, target: Target, *, window_s: float = 300.0, name: str = "pods") -> None:
        self.backend = backend
        self.target = target
        self.window_s = window_s
        self.name = name
        self._seen: dict[str, deque[tuple[float, int]]] = {}

    def describe(self) -> str:
        return f"pod restarts of {self.target}"

    def sample(self, window_s: float = 0.0, now: float | None = None) -> Reading:
        now = time.time() if now is None else now
        try:
            pods = self.backend.pods(self.target)
        except CockpitError as exc:
            return Reading(self.name, at=now, ok=False, error=f"{exc.title}: {exc}", cluster=True)
        return Reading(self.name, at=now, crashes=self.count(pods, now), crash_window_s=self.window_s,
                       cluster=True)

    def count(self, pods: list[PodInfo], now: float) -> int:
        total = 0
        live = set()
        for p in pods:
            live.add(p.name)
            hist = self._seen.get(p.name)
            if hist is None:
                first = p.restarts
                if p.restarts and p.last_restart is not None and _age(p.last_restart, now) <= self.window_s:
                    first = p.restarts - 1
                hist = self._seen[p.name] = deque([(now, first)])
            hist.append((now, p.restarts))
            while len(hist) > 1 and hist[1][0] <= now - self.window_s:
                hist.popleft()
            total += max(0, p.restarts - hist[0][1])
        for gone in set(self._seen) - live:
            del self._seen[gone]
        return total


def _age(when: datetime, now: float) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return now - when.timestamp()
