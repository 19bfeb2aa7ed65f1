"""What a controller needs from the UI that hosts it (the Textual app implements it).

Threads: controllers' methods run on the host's event loop unless their docstring says
*thread*; ``run_in_thread`` and ``call_from_thread`` cross between the two.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Host(Protocol):
    def mark(self, *parts: str) -> None:
        """Redraw these parts of the active screen (coalesced: one redraw per burst)."""

    def notify(self, message: str, *, severity: str = "information", timeout: float | None = None) -> Any:
        """A toast (the app's; plain text)."""

    def run_in_thread(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in a thread; an exception it raises is shown (a titled modal), never raised."""

    def call_from_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """From a thread: run ``fn(*args)`` on the event loop and return its result."""

    def set_timer(self, delay: float, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` on the event loop after ``delay`` seconds."""

    def poll(self, name: str, fetch: Callable[[], Any], deliver: Callable[[Any], Any], interval: float, *,
             on_error: Callable[[BaseException], Any] | None = None, active: Callable[[], bool] | None = None,
             start: bool = True) -> Any:
        """(Re)start the poll ``name``: ``fetch`` in a thread → ``deliver`` on the event loop →
        the next one ``interval`` seconds later (never overlapping; failures back off and go
        to ``on_error``; skipped while ``active()`` is false). ``start=False``: prepared only."""

    def polling(self, name: str) -> bool:
        """Is there a poll ``name``?"""

    def fetch(self, group: str, fn: Callable[[], Any], deliver: Callable[[Any], Any],
              failed: Callable[[BaseException], Any] | None = None) -> None:
        """``fn()`` in a thread (one at a time per ``group``), ``deliver(result)`` on the event
        loop; an exception goes to ``failed`` (default: a titled modal)."""

    def first_live_frame(self) -> None:
        """The first snapshot arrived: draw it now, then start what could wait (the metrics poll)."""

    def set_interval(self, interval: float, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` on the event loop every ``interval`` seconds."""

    def incident_arrived(self) -> None:
        """From the journal's tail thread, without blocking: have the event loop call
        :meth:`cockpit.controllers.incident.Incident.drain` soon."""
