"""Snapshot: an observer with no cluster (``cockpit --readonly --follow JOURNAL`` and no
kubeconfig): the dashboard drawn from the journal alone — the verdict and its reasons marked
as the operator's, the panes from journaled samples — over fixed records and a frozen clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cockpit.observed import journal_decision, journal_points
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.state import replay
from tests.ui.fakes import NOW, T, TARGET, StaticCockpit, freeze_tz, journal_records, ts

freeze_tz()


def observed_records() -> list[dict]:
    recs = journal_records()[:4]  # opened, declare, identify, execute
    seq = 100
    for i in range(36):  # six minutes of thinned samples: healthy, then the bad release
        at = T - 420 + 10 * i
        bad = i >= 12
        seq += 1
        recs.append({"seq": seq, "ts": ts(at - T), "actor": "alice@bastion", "type": "metrics", "v": 1,
                     "target": "shop/checkout", "error_rate": 0.31 if bad else 0.003, "p95_ms": 420.0 if bad else 130.0,
                     "error_rate_at": at, "p95_at": at})
    recs.append({"seq": seq + 1, "ts": ts(-60), "actor": "alice@bastion", "type": "verdict", "v": 1,
                 "value": "ROLLBACK_NOW", "reasons": ["error rate 31% > 5% (roll back now)"], "target": "shop/checkout",
                 "error_rate": 0.31, "p95_ms": 420.0})
    return recs


class JournalOnlyObserver(StaticCockpit):
    def __init__(self, theme: str | None = None) -> None:
        super().__init__("dashboard", readonly=True, theme=theme)

    def setup(self) -> None:
        from screens import SCREENS, screen_class

        d = self.data
        d.now, d.readonly = T, True
        d.observer_of = "/var/lib/cockpit/incidents/20240501T120500Z-shop_checkout.jsonl"
        d.target = TARGET
        d.state = replay(observed_records())
        d.decision = journal_decision(d.state)
        d.error_rate.points[:], d.p95.points[:] = journal_points(d.state)
        d.metrics_note = "from the journal only (no cluster: Bad configuration: no kubeconfig found)"
        d.checklist_items = DEFAULT_CHECKLIST
        for name in SCREENS:
            self.install_screen(screen_class(name)(d), name)
        self.push_screen(self.start_screen)


async def _settle(pilot) -> None:
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


def test_observer_without_a_cluster(snap_compare):
    assert NOW + timedelta(0) == datetime.fromtimestamp(T, timezone.utc)
    assert snap_compare(JournalOnlyObserver(theme="dark"), terminal_size=(120, 40), run_before=_settle)
