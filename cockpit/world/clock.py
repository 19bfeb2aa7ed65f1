"""Simulated time. ``sim()`` runs ``speed`` times faster than the wall; ``wall()`` is the
timestamp clock for objects (it only runs ahead of real time while a scenario's history is being
built in the past, and never beyond now)."""
from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._sim = 0.0
        self._last = time.monotonic()
        self._wall_offset = 0.0  # seconds added to time.time() for timestamps (<= 0)
        self._lock = threading.Lock()

    def sim(self) -> float:
        """Simulated seconds since the world began (advanced by :meth:`tick`)."""
        return self._sim

    def tick(self) -> float:
        """Advance simulated time by the real time elapsed since the last tick × speed."""
        with self._lock:
            now = time.monotonic()
            self._sim += (now - self._last) * self.speed
            self._last = now
            return self._sim

    def fast_forward(self, seconds: float) -> None:
        """Advance simulated time (and backdated wall time) without waiting."""
        with self._lock:
            self._sim += seconds
            self._wall_offset = min(0.0, self._wall_offset + seconds)
            self._last = time.monotonic()

    def backdate(self, seconds_ago: float) -> None:
        """Make :meth:`wall` report ``seconds_ago`` in the past (used while building history)."""
        with self._lock:
            self._wall_offset = -max(0.0, seconds_ago)

    def wall(self) -> float:
        return time.time() + self._wall_offset
