"""Pilot tests of the Redis invalidation in the data panel against a real redis-server
(tests/fixtures/redis.py): dry run first, then the one confirmation naming host, database
and pattern, progress streamed, keys outside the pattern untouched, journaled write-ahead
(an intent, then its outcome) in the incident it opens for the target on screen; hostile
key names inert; the URL's password never on screen; readonly: no invalidate, the backend
refuses, nothing deleted or journaled."""
from __future__ import annotations

import asyncio
import re

import pytest

from cockpit.errors import ReadonlyError
from cockpit.journal import read_journal
from tests.fixtures.redis import ACL_PASSWORD
from tests.ui.fakes import HOSTILE, args
from tests.ui.test_comms import screen_text
from tests.ui.test_flows import TARGET, settings, state_home, until, world  # noqa: F401 — fixtures

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("redis")]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
EVIL_KEY = "moshimoshi:" + HOSTILE[0] + HOSTILE[2] + HOSTILE[4]


@pytest.fixture
def seeded(redis_server, redis_url):
    c = redis_server.client()
    c.mset({f"moshimoshi:{i}": "x" for i in range(300)})
    c.mset({f"keep:{i}": "y" for i in range(40)})
    c.set(EVIL_KEY, "z")
    return redis_server


async def open_data(app, pilot, pattern: str) -> None:
    await until(pilot, lambda: app.session is not None)
    await pilot.press("D")
    await until(pilot, lambda: app.is_screen_installed("data") and app.screen is app.get_screen("data")
                and app.screen.query("#pattern"), what="the data panel composed")
    await pilot.press("slash")
    await until(pilot, lambda: app.screen.query_one("#pattern").has_focus, what="the pattern input focused")
    app.screen.query_one("#pattern").value = pattern
    await pilot.press("enter")
    await until(pilot, lambda: app.data.redis_count is not None)


def test_dry_run_confirm_invalidate(world, state_home, seeded):  # noqa: F811
    url = seeded.url_with_password()

    async def go():
        from cockpit.app import CockpitApp
        from screens.modals import ConfirmInvalidate

        app = CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(COCKPIT_DATA__REDIS_URL=url),
                         world_factory=lambda *a, **k: world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
            await open_data(app, pilot, "moshimoshi:*")
            assert app.session.journal is None  # browsing and a dry run open no incident
            assert app.data.redis_count.matched == 301 and seeded.client().dbsize() == 341  # dry run: nothing gone
            await until(pilot, lambda: "301 keys match" in screen_text(app), what="the dry run on screen")
            shown = screen_text(app)
            assert "301 keys match" in shown and ACL_PASSWORD not in shown and "cockpit_acl:***@" in shown
            assert not CONTROL.search(shown.replace("\n", ""))
            await pilot.click("#redis-status")
            assert app.is_running

            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, ConfirmInvalidate) and app.screen.query("#invalidate-body"),
                        what="the invalidate confirmation composed")
            await until(pilot, lambda: "301 matching keys" in screen_text(app), what="the confirmation on screen")
            confirm = screen_text(app)
            assert f"127.0.0.1:{seeded.port}" in confirm and "database 0" in confirm and "moshimoshi:*" in confirm
            assert "301 matching keys" in confirm
            await pilot.press("y")
            await until(pilot, lambda: app.data.redis_progress is not None and app.data.redis_progress.done
                        and not app.data.redis_running, timeout=20)
            p = app.data.redis_progress
            assert p.deleted == 301 and p.remaining == 0
            await until(pilot, lambda: "0 still matching" in screen_text(app), what="the invalidation's result on screen")
            path = app.session.journal_path
        c = seeded.client()
        assert c.dbsize() == 40 and all(c.exists(f"keep:{i}") for i in range(40))  # outside the pattern: untouched
        recs = read_journal(path)
        assert recs[0]["type"] == "incident_opened" and recs[0]["target"] == "shop/checkout"
        intent = next(r for r in recs if r["type"] == "intent" and r["action"] == "redis.invalidate")
        assert intent["pattern"] == "moshimoshi:*" and intent["server"] == f"127.0.0.1:{seeded.port}" and intent["db"] == 0
        outcome = next(r for r in recs if r["type"] == "outcome" and r["id"] == intent["id"])
        assert outcome["ok"] is True and outcome["deleted"] == 301 and outcome["remaining"] == 0
        assert intent["seq"] < outcome["seq"] and not any(r["type"] == "redis_invalidate" for r in recs)
        assert ACL_PASSWORD not in path.read_text()

    asyncio.run(go())


def test_readonly_no_invalidate(world, state_home, seeded, tmp_path):  # noqa: F811
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")

    async def go():
        from cockpit.app import CockpitApp
        from screens.modals import ConfirmInvalidate

        app = CockpitApp(args(readonly=True, kubeconfig=str(kubeconfig)),
                         settings=settings(COCKPIT_DATA__REDIS_URL=seeded.url))
        async with app.run_test(size=(120, 40)) as pilot:
            await open_data(app, pilot, "moshimoshi:*")  # a dry run is read-only: allowed
            assert app.data.redis_count.matched == 301
            assert app.screen.check_action("invalidate", ()) is False
            await until(pilot, lambda: "301 keys match" in screen_text(app), what="the dry run on screen")
            app.screen.query_one("#migrations").focus()
            await pilot.press("i")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, ConfirmInvalidate)
            assert "Invalidate" not in screen_text(app)
            with pytest.raises(ReadonlyError):
                app.datalayer.redis.invalidate("moshimoshi:*")
            with pytest.raises(ReadonlyError):
                app.datalayer.invalidate_now("moshimoshi:*", None, lambda p: None, target=TARGET)
            assert app.session.journal is None
        assert seeded.client().dbsize() == 341

    asyncio.run(go())
