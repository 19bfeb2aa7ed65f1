"""The dolphie poll loop: fetch in a thread worker → deliver on the event loop → ``set_timer``
for the next poll. Polls never overlap (one exclusive worker per group), a slow server never
queues work, failures back off (doubling up to ``max_backoff``), and a poll can be paused
while its panel is hidden. The ``fetch`` callable does the I/O; this module only schedules."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.timer import Timer


class Poll:
    def __init__(self, app: App, name: str, fetch: Callable[[], Any], deliver: Callable[[Any], None],
                 interval: float, *, on_error: Callable[[BaseException], None] | None = None,
                 max_backoff: float = 30.0, active: Callable[[], bool] | None = None) -> None:
        self.app, self.name, self.fetch, self.deliver = app, name, fetch, deliver
        self.interval, self.on_error, self.max_backoff = interval, on_error, max_backoff
        self.active = active or (lambda: True)
        self.delay = interval
        self.failures = 0
        self.timer: Timer | None = None
        self.stopped = False
        self.last_ok: float | None = None
        self.generation = 0

    def start(self, now: bool = True) -> Poll:
        self.stopped = False
        self.generation += 1
        if self.timer is not None:
            self.timer.stop()
        if now:
            self._kick()
        else:
            self.timer = self.app.set_timer(self.interval, self._kick)
        return self

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.stop()
            self.timer = None

    def _kick(self) -> None:
        self.timer = None
        if self.stopped:
            return
        if not self.active():
            self.timer = self.app.set_timer(self.interval, self._kick)
            return
        gen = self.generation
        self.app.run_worker(lambda: self._work(gen), name=f"poll:{self.name}", group=f"poll:{self.name}",
                            thread=True, exclusive=True, exit_on_error=False)

    def _work(self, gen: int) -> None:
        try:
            result = self.fetch()
        except Exception as exc:  # noqa: BLE001 — handed to on_error, never a traceback
            self._call(self._failed, gen, exc)
            return
        self._call(self._succeeded, gen, result)

    def _call(self, fn: Callable, *args: Any) -> None:
        try:
            self.app.call_from_thread(fn, *args)
        except RuntimeError:
            pass  # the app is shutting down

    def _succeeded(self, gen: int, result: Any) -> None:
        if gen != self.generation:
            return  # a poll for a previous target: drop it
        self.failures, self.delay, self.last_ok = 0, self.interval, time.time()
        try:
            self.deliver(result)
        finally:
            self._next()

    def _failed(self, gen: int, exc: BaseException) -> None:
        if gen != self.generation:
            return
        self.failures += 1
        self.delay = min(self.max_backoff, max(self.interval, self.delay * 2))
        try:
            if self.on_error is not None:
                self.on_error(exc)
        finally:
            self._next()

    def _next(self) -> None:
        if not self.stopped and self.timer is None:
            self.timer = self.app.set_timer(self.delay, self._kick)
