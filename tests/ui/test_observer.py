"""Issue 12, "Observers anywhere": ``cockpit --readonly --follow JOURNAL`` with no kubeconfig and
no metrics shows the incident from the journal alone — target, phase, the verdict and its
reasons (marked as the journal's), the panes from journaled samples, the rollback log — and
``cockpit --readonly`` finds open incidents, a drill's too.

The journal is a real one written through :class:`cockpit.journal.Journal` with the typed
events the operator's cockpit writes; the app runs under Pilot with a kubeconfig path that
does not exist (and ``KUBECONFIG`` pointing nowhere)."""
from __future__ import annotations

import asyncio
import time

import pytest

from cockpit import events as ev
from cockpit.journal import Journal
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow


def operator_journal(path, now: float) -> Journal:
    j = Journal.open(path, actor="alice@bastion")
    j.write(ev.IncidentOpened(target="shop/checkout", kind="deployment", reason="rollback to revision 2", who="alice@bastion"))
    j.write(ev.Phase("declare"))
    for i, er in enumerate((0.02, 0.31, 0.34, 0.33)):
        j.write(ev.MetricSample(target="shop/checkout", error_rate=er, p95_ms=400.0 + 100 * i,
                                error_rate_at=now - 40 + 10 * i, p95_at=now - 40 + 10 * i))
    j.write(ev.VerdictChanged(value="ROLLBACK_NOW", reasons=("error rate 33% > 5% (roll back now)",),
                              details=({"metric": "error_rate", "level": "ROLLBACK_NOW", "value": 0.33, "threshold": 0.05},),
                              target="shop/checkout", revision=3, error_rate=0.33, p95_ms=700.0))
    j.write(ev.Phase("execute"))
    j.append("run_started", runbook="roll back", from_step=0, resume=False)
    j.append("step_started", index=0, kind="kubernetes.rollback", name="Roll back checkout to revision 2", budget=300)
    j.append("log", step=0, line="rolling back shop/checkout to revision 2 (registry.example/shop/checkout:1.4.2)")
    j.append("log", step=0, line='deployment "checkout" successfully rolled out')
    j.append("step_finished", index=0, kind="kubernetes.rollback", ok=True, status="ok", elapsed=20.0, over_budget=False)
    j.append("run_finished", ok=True, status="ok")
    return j


def test_an_observer_with_no_cluster_shows_the_verdict_panes_and_rollback_from_the_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere" / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    j = operator_journal(tmp_path / "incident.jsonl", time.time())

    async def go():
        from cockpit.app import CockpitApp
        from screens.modals import ErrorModal

        app = CockpitApp(args(readonly=True, follow=j.path, kubeconfig=str(tmp_path / "no-such-kubeconfig")),
                         settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.state.run_status == "ok" and app.data.decision is not None)
            assert not isinstance(app.screen, ErrorModal)
            assert app.session.backend is None and "no cluster" in app.session.cluster_note
            assert str(app.data.target) == "shop/checkout"
            # the redraw is coalesced (one per burst): wait for it, then read what it shows
            await until(pilot, lambda: app.screen.query("#verdict")
                        and "ROLLBACK_NOW" in str(app.screen.query_one("#verdict").render()))
            verdict = str(app.screen.query_one("#verdict").render())
            assert "ROLLBACK_NOW" in verdict and "error rate 33%" in verdict
            # the four samples, then the verdict's own reading
            assert [round(v, 2) for _, v in app.data.error_rate.points] == [0.02, 0.31, 0.34, 0.33, 0.33]
            assert app.data.decision.source == "journal" and app.data.decision.sample.error_rate == 0.33
            await pilot.press("h")  # no cluster, no history: said, and nothing breaks
            await pilot.pause(0.3)
            assert not isinstance(app.screen, ErrorModal) and app.screen is app.get_screen("dashboard")
            await pilot.press("r")
            await until(pilot, lambda: app.screen is app.get_screen("rollback") and app.screen.query("#log")
                        and "successfully rolled out" in "\n".join(str(line) for line in app.screen.query_one("#log").lines),
                        what="the rollout log on screen")
            assert app.session.journal is None  # an observer never opens the journal for writing

            j.write(ev.Phase("verify"))  # the operator goes on: the observer follows
            await until(pilot, lambda: app.data.state.phase == "verify")

    asyncio.run(go())
    j.close()


def test_readonly_without_follow_lists_the_open_incidents_drills_included_and_follows_the_chosen(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere" / "config"))
    now = time.time()
    real = operator_journal(state / "cockpit" / "incidents" / "20261202T100000Z-shop-checkout.jsonl", now)
    drill = Journal.open(state / "cockpit" / "drills" / "incidents" / "20261202T110000Z-shop-cart.jsonl")
    drill.write(ev.IncidentOpened(target="shop/cart", kind="deployment", reason="drill", drill=True))
    drill.write(ev.Phase("identify"))
    closed = Journal.open(state / "cockpit" / "incidents" / "20261202T090000Z-shop-old.jsonl")
    closed.write(ev.IncidentOpened(target="shop/old", kind="deployment", reason="done"))
    closed.append("incident_resolved", summary="done")

    async def go():
        from cockpit.app import CockpitApp
        from screens.incident_picker import IncidentPicker

        app = CockpitApp(args(readonly=True, kubeconfig=str(tmp_path / "no-such-kubeconfig")), settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, IncidentPicker) and app.screen.query("#incidents"))  # composed, not only pushed
            ids = [app.screen.query_one("#incidents").get_option_at_index(i).id for i in range(2)]
            assert [p.rsplit("/", 1)[-1] for p in ids] == ["20261202T110000Z-shop-cart.jsonl",
                                                          "20261202T100000Z-shop-checkout.jsonl"]  # newest first
            await pilot.press("down", "enter")
            await until(pilot, lambda: app.data.state.target == "shop/checkout")
            assert app.data.observer_of.endswith("20261202T100000Z-shop-checkout.jsonl")

    asyncio.run(go())
    for j in (real, drill, closed):
        j.close()
