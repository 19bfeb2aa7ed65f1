"""Issue 14, "The incident shared across hosts": ``cockpit --readonly --follow postgresql://…`` on
another host — no journal file, no cluster — lists the open incidents mirrored there, follows
the one chosen from the store (the verdict and the rollback log from its records), keeps
following as the operator writes, and says how far behind the operator it is.

The operator's journal is a real one mirrored by the real mirror into the suite's PostgreSQL;
the observer's app runs under Pilot with a kubeconfig path that does not exist."""
from __future__ import annotations

import asyncio
import time

import pytest

from backends.mirror import build_mirror, open_store
from cockpit import events as ev
from cockpit.journal import Journal
from cockpit.mirror import incident_id, set_store_opener
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until
from tests.ui.test_observer import operator_journal

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]


def test_an_observer_on_another_host_follows_the_incident_from_the_mirror(tmp_path, monkeypatch, pg_password_dsn):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "observer-state"))  # nothing local to find
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere" / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    set_store_opener(open_store)  # what cockpit.cli does for the process
    url = pg_password_dsn
    operator = tmp_path / "operator"
    older = Journal.open(operator / "20261202T090000Z-shop_cart.jsonl", actor="bob@bastion2")
    older_mirror = build_mirror(url, older, False)
    older.write(ev.IncidentOpened(target="shop/cart", kind="deployment", reason="slow", who="bob@bastion2"))
    j = operator_journal(operator / "20261202T100000Z-shop_checkout.jsonl", time.time())
    mirror = build_mirror(url, j, False)
    assert mirror.wait_caught_up(10) and older_mirror.wait_caught_up(10)

    async def go():
        from cockpit.app import CockpitApp
        from screens.incident_picker import IncidentPicker

        app = CockpitApp(args(readonly=True, follow=url, kubeconfig=str(tmp_path / "no-such-kubeconfig")),
                         settings=settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, IncidentPicker) and app.screen.query("#incidents"))  # composed, not only pushed
            ids = [app.screen.query_one("#incidents").get_option_at_index(i).id for i in range(2)]
            assert ids == [incident_id(j.path), incident_id(older.path)]  # newest first
            await pilot.press("enter")
            await until(pilot, lambda: app.data.state.run_status == "ok" and app.data.decision is not None)
            assert str(app.data.target) == "shop/checkout" and app.data.state.phase == "execute"
            assert app.data.decision.source == "journal"
            assert incident_id(j.path) in app.data.observer_of and "***" in app.data.observer_of
            assert "s3cr3t" not in app.data.observer_of
            await until(pilot, lambda: getattr(app.data, "mirror_line", "").startswith("following the mirror: record"))

            j.write(ev.Phase("verify"))  # the operator goes on, on their host: the observer follows
            await until(pilot, lambda: app.data.state.phase == "verify")
            await until(pilot, lambda: f"record {j.seq}," in app.data.mirror_line)
            assert app.session.journal is None  # an observer writes nothing

    asyncio.run(go())
    j.close()
    older.close()
