"""Snapshots of the fleet rollback — its screen mid-run (one target done, one skipped, one
rolling out, one failed) and its confirmation — at 80x24 and 120x40, dark and light, and the
dashboard's list with verdicts and marks; over fixed data with a frozen clock. And the pure
renders (what each line says; hostile text inert). Update with
``pytest tests/snapshots/test_fleet.py --snapshot-update``."""
from __future__ import annotations

import pytest

from cockpit import events as ev
from cockpit.controllers.fleet import FleetView, TargetVerdict
from cockpit.fleet import FleetPlan, PlanEntry, Scope, fold
from screens import render_fleet
from tests.ui.fakes import HOSTILE, T, StaticCockpit, freeze_tz, ts

freeze_tz()

SIZES = [(80, 24), (120, 40)]
THEMES = ["dark", "light"]
CTX = "prod-eu"
BAD, GOOD = "registry.example/shop/checkout:1.5.0", "registry.example/shop/checkout:1.4.2"


def plan(hostile: str | None = None) -> FleetPlan:
    h = hostile
    return FleetPlan(Scope(names=("api", "cart", "checkout", "orders"), namespaces=("payments", "shop"), contexts=(CTX,)), (
        PlanEntry(CTX, "payments", "api", "rollback", from_revision=7, from_images=(h or "registry.example/pay/api:2.0",),
                  to_revision=6, images=("registry.example/pay/api:1.9",)),
        PlanEntry(CTX, "shop", "cart", "skip", why=h or "no earlier revision to roll back to",
                  from_revision=1, from_images=("registry.example/shop/cart:3.1.0",)),
        PlanEntry(CTX, "shop", "checkout", "rollback", from_revision=3, from_images=(BAD,), to_revision=2,
                  images=(GOOD,)),
        PlanEntry(CTX, "shop", "orders", "rollback", from_revision=5, from_images=("registry.example/shop/orders:8.1",),
                  to_revision=4, images=("registry.example/shop/orders:8.0",)),
    ))


def journal(p: FleetPlan, hostile: str | None = None) -> list[dict]:
    """The fleet's journal mid-run: checkout done, cart skipped, api rolling out, orders failed."""
    events = [
        p.event(parallel=4, keep_going=True),
        ev.FleetTarget(member=f"{CTX}/shop/cart", status="skipped"),
        ev.FleetTarget(member=f"{CTX}/payments/api", status="started"),
        ev.FleetTarget(member=f"{CTX}/shop/checkout", status="started"),
        ev.FleetTarget(member=f"{CTX}/shop/orders", status="started"),
        ev.FleetTarget(member=f"{CTX}/shop/checkout", status="ok", from_revision=3, to_revision=2, images=(GOOD,)),
        ev.FleetTarget(member=f"{CTX}/shop/orders", status="failed", error_title="Unreachable",
                       error_message=hostile or "the API server of prod-eu did not answer (timed out after 10s)",
                       exit_code=4),
    ]
    return [{"seq": i + 1, "ts": ts(-60 + i), "actor": "alice@bastion", "type": e.type, "v": 1, **e.to_record()}
            for i, e in enumerate(events)]


def view(hostile: str | None = None) -> FleetView:
    p = plan(hostile)
    return FleetView(
        verdicts={"shop/cart": TargetVerdict("OK", "", T), "shop/checkout": TargetVerdict("ROLLBACK_NOW", "", T),
                  f"payments/{hostile or 'api'}": TargetVerdict("INCONCLUSIVE", "", T)},
        selected=["shop/checkout", "shop/cart"], plan=p, state=fold(journal(p, hostile)), busy="running",
        lines={f"{CTX}/payments/api": hostile or "Waiting for rollout to finish: 2 of 3 updated replicas are available..."},
        context=CTX, journal="/var/lib/cockpit/incidents/20240501T121400Z-fleet-api-checkout-orders.jsonl")


class FleetCockpit(StaticCockpit):
    """The static cockpit with a fleet rollback under way (``data.fleet``), on ``screen``."""

    def __init__(self, screen: str = "dashboard", **kw) -> None:
        super().__init__("dashboard", **kw)
        self.fleet_screen = screen == "fleet"

    def setup(self) -> None:
        from screens.fleet import FleetScreen

        super().setup()
        self.data.fleet = view(self.hostile)
        if self.fleet_screen:
            if not self.is_screen_installed("fleet"):
                self.install_screen(FleetScreen(self.data), "fleet")
            self.switch_screen("fleet")


class ConfirmCockpit(StaticCockpit):
    def setup(self) -> None:
        from screens.fleet import FleetConfirm

        super().setup()
        self.data.fleet = view()
        self.push_screen(FleetConfirm(plan(), ascii=self.data.ascii))


async def _settle(pilot) -> None:
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fleet_screen(snap_compare, size, theme):
    assert snap_compare(FleetCockpit("fleet", theme=theme), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fleet_confirm(snap_compare, size, theme):
    assert snap_compare(ConfirmCockpit("dashboard", theme=theme), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_verdicts_and_marks(snap_compare, size):
    assert snap_compare(FleetCockpit("dashboard"), terminal_size=size, run_before=_settle)


def test_fleet_screen_ascii(snap_compare):
    assert snap_compare(FleetCockpit("fleet", ascii=True, theme="mono"), terminal_size=(80, 24), run_before=_settle)


# --------------------------------------------------------------------------- the pure renders


def test_the_rows_say_where_each_target_stands():
    v = view()
    rows = render_fleet.plan_rows(v.plan, v.state, v.lines).plain.splitlines()
    assert rows[0] == ("… payments/api  rev 7 → 6  rolling back: Waiting for rollout to finish: 2 of 3 updated "
                       "replicas are available...")
    assert rows[1] == "    registry.example/pay/api:2.0 → registry.example/pay/api:1.9"
    assert rows[2] == "· shop/cart  rev 1  skipped: no earlier revision to roll back to"
    assert rows[4] == "✓ shop/checkout  rev 3 → 2  done: rolled back to revision 2"
    assert rows[5] == f"    {BAD} → {GOOD}"
    assert rows[6] == ("✗ shop/orders  rev 5 → 4  FAILED: Unreachable: the API server of prod-eu did not answer "
                       "(timed out after 10s)")
    summary = render_fleet.summary(v.plan, v.state, "running").plain
    assert summary == "running: 1 rolled back, 1 running, 0 waiting, 1 skipped, 1 failed, 0 not started"
    assert render_fleet.head(v.plan, "running").plain.startswith(
        "Fleet rollback (running) of api, cart, checkout, orders in namespace payments, shop of context prod-eu")


def test_before_the_journal_the_rows_are_the_plan():
    p = plan()
    rows = render_fleet.plan_rows(p, None).plain
    assert "✓" not in rows and sum(line.endswith("  to roll back") for line in rows.splitlines()) == 3
    assert render_fleet.summary(p, None).plain.startswith("not started yet: 0 rolled back, 0 running, 3 waiting")
    assert "no fleet rollback in this incident" in render_fleet.plan_rows(None).plain


def test_the_confirmation_names_each_target_its_revisions_and_images_whole():
    body = render_fleet.confirm_body(plan()).plain
    assert body.startswith("Roll back 3 deployments in context prod-eu, 1 skipped:")
    assert f"\n  shop/checkout\n    from revision 3  {BAD}\n      to revision 2  {GOOD}\n  shop/orders" in body
    assert "skipped (nothing is sent to them):\n  · shop/cart: no earlier revision to roll back to" in body
    changed = render_fleet.confirm_body(plan(), changed=True, ascii=True).plain
    assert changed.startswith("The plan changed since it was shown") and "  - shop/cart" in changed


def test_the_list_row_has_the_mark_and_the_verdict():
    assert render_fleet.target_prompt("shop/checkout", TargetVerdict("ROLLBACK_NOW"), True).plain == \
        "◆ shop/checkout\n  ROLLBACK_NOW"
    assert render_fleet.target_prompt("shop/cart", None, False, ascii=True).plain == "  shop/cart\n  ."


@pytest.mark.parametrize("hostile", HOSTILE[:6])
def test_hostile_text_is_inert(hostile):
    v = view(hostile)
    shown = "\n".join([render_fleet.plan_rows(v.plan, v.state, v.lines).plain,
                       render_fleet.confirm_body(v.plan).plain,
                       render_fleet.target_prompt(f"payments/{hostile}", TargetVerdict(hostile), True).plain])
    for bad in ("\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\x00"):
        assert bad not in shown
