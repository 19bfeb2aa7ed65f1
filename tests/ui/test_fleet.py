"""Pilot tests of the fleet on the bad-image drill (the real embedded world: checkout's live
revision fails ~30% of requests, cart is healthy with one revision): the target list shows
each target's verdict once sampled (ROLLBACK_NOW for checkout, OK for cart); ``space`` marks
two targets; ``r`` plans them and the one confirmation lists both (checkout 3 → 2 with its
images, cart skipped with why); ``y`` runs the fleet and its screen shows each target to done;
one rollback PATCH reaches the world. Readonly: no marks, ``r`` is the rollback screen, the
controller refuses, and nothing but GETs reaches the world."""
from __future__ import annotations

import asyncio

import pytest

from cockpit.errors import ReadonlyError
from cockpit.fleet import is_fleet_journal
from cockpit.journal import read_journal
from cockpit.model import Target
from cockpit.world.world import World
from tests.ui.fakes import args
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow
CHECKOUT, CART = "shop/checkout", "shop/cart"


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "state"


def drill_app(world, *, readonly: bool = False):
    from cockpit.app import CockpitApp

    app = CockpitApp(args(drill=True, scenario="bad-image", readonly=readonly), settings=settings(),
                     world_factory=lambda *a, **k: world)
    app.fleet.interval = 1.0  # the verdict poll (10 s in use): two scrapes make a rate
    return app


def prompt(app, key: str) -> str:
    """What the target list shows for ``key`` (plain)."""
    return app.screen.query_one("#targets").get_option(key).prompt.plain


def listed(app, key: str) -> str:
    """What the target list shows for ``key`` ("" while the list or its option is not there yet)."""
    from textual.widgets.option_list import OptionDoesNotExist

    if not app.screen.query("#targets"):
        return ""
    try:
        return prompt(app, key)
    except OptionDoesNotExist:
        return ""


def on_checkout(app) -> bool:
    """The target list is shown with the drill's checkout highlighted (space marks it)."""
    ol = app.screen.query("#targets")
    return bool(ol) and ol.first().highlighted_option is not None and ol.first().highlighted_option.id == CHECKOUT


def verdict(app, key: str) -> str | None:
    v = app.data.fleet.verdicts.get(key)
    return v.value if v is not None else None


def patches(world) -> int:
    return sum(1 for m, p in world.request_log if m == "PATCH" and "/deployments/" in p)


def test_the_list_shows_verdicts_marks_two_and_rolls_them_back(state_home):
    from screens.fleet import FleetConfirm, FleetScreen

    world = World("bad-image", speed=20).start()

    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.target == Target("checkout", "shop"))
            await until(pilot, lambda: verdict(app, CHECKOUT) == "ROLLBACK_NOW" and verdict(app, CART) == "OK",
                        timeout=40)
            await until(pilot, lambda: listed(app, CHECKOUT).split() == ["shop/checkout", "ROLLBACK_NOW"]
                        and listed(app, CART).split() == ["shop/cart", "OK"], what="the verdicts in the list")
            assert prompt(app, CHECKOUT).split() == ["shop/checkout", "ROLLBACK_NOW"]
            assert prompt(app, CART).split() == ["shop/cart", "OK"]

            # space marks the highlighted target (the drill's checkout), then cart
            ol = app.screen.query_one("#targets")
            assert ol.highlighted_option.id == CHECKOUT
            await pilot.press("space")
            await pilot.press("up")
            await pilot.press("space")
            await until(pilot, lambda: app.data.fleet.selected == [CHECKOUT, CART] and listed(app, CART).startswith("◆"),
                        what="both marked")
            assert app.data.fleet.selected == [CHECKOUT, CART]
            assert prompt(app, CHECKOUT).startswith("◆ shop/checkout") and prompt(app, CART).startswith("◆ shop/cart")
            world.clear_request_log()

            # r: the plan, asked once
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, FleetConfirm) and app.screen.query("#fleet-confirm-body"),
                        timeout=20, what="the fleet confirmation composed")
            body = app.screen.query_one("#fleet-confirm-body").render().plain
            assert "Roll back 1 deployment in context" in body and "1 skipped" in body
            assert "shop/checkout" in body and "from revision 3  registry.example/shop/checkout:1.5.0" in body
            assert "to revision 2  registry.example/shop/checkout:1.4.2" in body
            assert "shop/cart: no earlier revision to roll back to" in body
            assert patches(world) == 0 and all(m == "GET" for m, _ in world.request_log)  # planning reads only

            # y: the fleet screen follows each target to done
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, FleetScreen) and app.screen.query("#fleet-summary"),
                        what="the fleet screen composed")
            await until(pilot, lambda: app.data.fleet.state is not None and app.data.fleet.state.finished is not None,
                        timeout=60)
            await until(pilot, lambda: "done: rolled back to revision 2" in app.screen.query_one("#fleet-rows").render().plain
                        and app.screen.query_one("#fleet-summary").render().plain.startswith("finished:"),
                        what="the finished fleet on screen")
            rows = app.screen.query_one("#fleet-rows").render().plain
            lines = rows.splitlines()
            checkout = next(line for line in lines if "shop/checkout" in line)
            cart = next(line for line in lines if "shop/cart" in line)
            assert "rev 3 → 2" in checkout and "done: rolled back to revision 2" in checkout
            assert "skipped: no earlier revision to roll back to" in cart
            assert "checkout:1.5.0 → registry.example/shop/checkout:1.4.2" in rows
            summary = app.screen.query_one("#fleet-summary").render().plain
            assert summary.startswith("finished: 1 rolled back") and "1 skipped, 0 failed" in summary
            assert patches(world) == 1
            d = world.store.get("deployments", "shop", "checkout")
            assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/shop/checkout:1.4.2"

            # the fleet's own journal, closed; the drill's one-target incident was not opened by it
            path = app.data.fleet.journal
            assert is_fleet_journal(path) and read_journal(path)[-1]["type"] == "incident_closed"
            assert app.session.journal is None

    try:
        asyncio.run(go())
    finally:
        world.stop()


def test_readonly_offers_no_marks_and_the_controller_refuses(state_home):
    from screens.rollback import RollbackScreen

    world = World("bad-image", speed=20).start()

    async def go():
        app = drill_app(world, readonly=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.targets)
            await until(pilot, lambda: verdict(app, CHECKOUT) is not None, timeout=20)  # reads: shown to observers
            await until(pilot, lambda: on_checkout(app) and verdict(app, CHECKOUT) in listed(app, CHECKOUT),
                        what="the verdict in the list")
            world.clear_request_log()
            await pilot.press("space")
            await pilot.pause(0.2)
            assert app.data.fleet.selected == []
            assert not prompt(app, CHECKOUT).startswith("◆")
            with pytest.raises(ReadonlyError):
                app.fleet.toggle(CHECKOUT)
            with pytest.raises(ReadonlyError):
                app.fleet.want()
            await pilot.press("r")  # no marks to roll back: the rollback screen, as everywhere
            await until(pilot, lambda: isinstance(app.screen, RollbackScreen), what="the rollback screen")
            assert {m for m, _ in world.request_log} <= {"GET"}

    try:
        asyncio.run(go())
    finally:
        world.stop()


def test_a_target_that_cannot_be_planned_is_named_and_nothing_is_sent(state_home):
    from screens.modals import ErrorModal

    world = World("bad-image", speed=20).start()

    async def go():
        app = drill_app(world)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.data.snapshot is not None and app.data.targets)
            await until(pilot, lambda: on_checkout(app), what="the list on the drill's checkout")
            await pilot.press("space")  # the drill's checkout
            await until(pilot, lambda: app.data.fleet.selected == [CHECKOUT], what="checkout marked")
            world.forbid("replicasets", ["list"])  # RBAC: its history cannot be read
            world.clear_request_log()
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, ErrorModal) and app.screen.query("#error-body"), timeout=20,
                        what="the error modal composed")
            shown = app.screen.query_one("#error-body").render().plain
            assert app.screen.title_text == "Fleet rollback not planned"
            assert shown.startswith("cannot plan ") and "shop/checkout" in shown and "Forbidden" in shown
            assert app.data.fleet.busy == "" and app.data.fleet.plan.failed
            assert {m for m, _ in world.request_log} <= {"GET"}  # nothing locked, nothing sent

    try:
        asyncio.run(go())
    finally:
        world.stop()
