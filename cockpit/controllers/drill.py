"""A drill's score: the keys from its first frame, and its score card when it is resolved.

The app tells :class:`DrillScorer` when the drill's first frame is up (:meth:`start`: the
world is connected and the dashboard shows the drill's deployment) and about every key it
receives (:meth:`key`, with its time); once the drill's incident is resolved the app calls
:meth:`score`: in a thread, the card is computed from the journal and the scenario's goal
(:func:`cockpit.drill_score.score`), journaled as a ``drill_scored`` event (once per
incident) and handed to ``show(card, then)`` on the event loop (the score-card modal), which
calls ``then()`` when it is closed (the app offers the report). Outside a drill, or
readonly, :meth:`score` just calls ``then()``.

Keys count until the rollback's revision is chosen (the confirm); the journal's
``revision_chosen`` time tells which keys came before it (:func:`cockpit.drill_score.keys_before`).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

MAX_KEYS = 100_000
"""Key times kept (a stuck key must not grow the list forever)."""


class DrillScorer:
    def __init__(self, host: Any, data: Any, incident: Any, *, show: Callable[[Any, Callable[[], Any]], Any],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        """``show(card, then)``: show the :class:`cockpit.drill_score.ScoreCard` (event loop)
        and call ``then()`` when it is closed."""
        self.host, self.data, self.incident, self.show, self.clock = host, data, incident, show, clock
        self.started_at: datetime | None = None
        self.key_times: list[datetime] = []

    # ---- the event loop

    def start(self) -> None:
        """The drill's first frame: keys count from now (once; nothing outside a drill)."""
        if self.data.drill and self.started_at is None:
            self.started_at, self.key_times = self.clock(), []

    def key(self) -> None:
        """A key arrived (counted from the first frame until a rollback's revision is chosen)."""
        if self.started_at is None or self.data.state.chosen or len(self.key_times) >= MAX_KEYS:
            return
        self.key_times.append(self.clock())

    def score(self, then: Callable[[], Any] = lambda: None) -> None:
        """The drill's incident was resolved: score it, journal and show the card, then
        ``then()``. Outside a drill, readonly or without an open journal: ``then()`` at once."""
        session = getattr(self.incident, "session", None)
        journal = getattr(session, "journal", None)
        if not self.data.drill or self.data.readonly or journal is None:
            then()
            return
        scenario, policy = self.data.drill, self.data.comms_policy
        started, keys = self.started_at, list(self.key_times)

        def job() -> None:
            try:
                card = self.write(journal, scenario, started, keys, policy)
            except Exception:
                self.host.call_from_thread(then)  # the report is still offered; the error is shown
                raise
            self.host.call_from_thread(self.show, card, then)

        self.host.run_in_thread(job)

    # ---- threads

    @staticmethod
    def card(records: list[dict], scenario: str, started: datetime | None, key_times: list[datetime],
             policy: Any = None) -> Any:
        """The score card of the drill in ``records`` (pure: no journal writes)."""
        from cockpit.drill_score import keys_before, load_goal, score
        from cockpit.state import replay

        state = replay(records)
        keys = keys_before(key_times, state) if started is not None else None
        return score(records, load_goal(scenario), scenario=scenario, started_at=started, keystrokes=keys,
                     policy=policy)

    def write(self, journal: Any, scenario: str, started: datetime | None, key_times: list[datetime],
              policy: Any = None) -> Any:
        """*Thread.* Score the drill in ``journal`` and journal the card (unless it was already)."""
        from cockpit.drill_score import journaled_score
        from cockpit.state import replay

        records = journal.read()
        card = self.card(records, scenario, started, key_times, policy)
        if journaled_score(replay(records)) is None:
            journal.write(card.to_event())
        return card
