"""How a metrics source has been answering lately.

One failed check is a blip; a source that failed most of its last checks is not believed when
it does answer — four failures in five and the fifth answer would otherwise make the source
fresh for one tick, and that tick's verdict (OK, or evidence for a rollback) would rest on a
source that mostly does not work. :class:`Track` turns such an answer into a failed reading
("unreliable: 4 of the last 5 checks failed"), so the verdict stays INCONCLUSIVE and nothing
is triggered until most checks pass again.
"""
from __future__ import annotations

from collections import deque

from cockpit.decision import Reading

WINDOW = 5
"""How many of a source's last checks are weighed."""


class Track:
    """``track.judge(reading)``: the reading, or a failed one when the source is unreliable."""

    def __init__(self, window: int = WINDOW) -> None:
        self._seen: deque[bool] = deque(maxlen=window)
        self._last_error = ""

    def judge(self, reading: Reading) -> Reading:
        self._seen.append(reading.ok)
        if not reading.ok:
            self._last_error = reading.error
            return reading
        failed = self._seen.count(False)
        if failed * 2 <= len(self._seen):
            return reading
        return Reading(reading.source, at=reading.at, ok=False, cluster=reading.cluster,
                       error=f"unreliable: {failed} of the last {len(self._seen)} checks failed (last: "
                             f"{self._last_error or 'no answer'}); its answers count again once most checks pass")
