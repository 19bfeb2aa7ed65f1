"""Pilot tests of the comms panel and the incident report against the real embedded world,
with the local HTTP receiver (tests/fixtures/receiver.py) standing in for the Slack webhook:
browsing opens no incident, the first send opens the incident for the target on screen, a
send arrives and is journaled, an edited send carries the operator's text, a skip is
journaled, readonly offers no send and the backend refuses, the webhook URL never reaches
the screen or the journal, and resolving offers the report (written next to the journal,
with its timeline and the dashboard's screenshot)."""
from __future__ import annotations

import asyncio
import re

import pytest

from cockpit.errors import ReadonlyError
from cockpit.journal import read_journal
from screens import messages as msg
from tests.ui.fakes import args
from tests.ui.test_flows import TARGET, settings, state_home, until, world  # noqa: F401 — fixtures

pytestmark = pytest.mark.slow
SECRET = "T0SECRET/B0SECRET/xoxbS3cretToken"


def notify_env(receiver) -> dict[str, str]:
    return {"COCKPIT_NOTIFY__SLACK_WEBHOOK_URL": receiver.url(f"/services/{SECRET}"), "COCKPIT_NOTIFY__ATTEMPTS": "1"}


def app_for(world, receiver=None, *, drill: bool | None = None, **kw):
    """With a Slack receiver: a real cockpit against the world's API (a drill never sends to a
    real channel: it has its own outbox, tests/ui/test_drill_score_flow.py); else a drill."""
    import tempfile
    from pathlib import Path

    from cockpit.app import CockpitApp

    if drill if drill is not None else receiver is None:
        return CockpitApp(args(drill=True, scenario="bad-image", **kw), settings=settings(), world_factory=lambda *a, **k: world)
    kubeconfig = world.write_kubeconfig(Path(tempfile.mkdtemp(prefix="comms-")) / "kubeconfig")
    env = notify_env(receiver) if receiver is not None else {}
    return CockpitApp(args(kubeconfig=str(kubeconfig), **kw), settings=settings(**env))


def screen_text(app) -> str:
    """What the terminal shows, as plain text (the same render as export_screenshot)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens, simplify=True))
    return console.export_text()


async def open_comms(app, pilot) -> None:
    """Browse (history, then the comms panel): nothing opens an incident yet."""
    if not app.data.drill:
        await until(pilot, lambda: app.session is not None)
        app.post_message(msg.TargetPicked(TARGET))  # a real cockpit starts on the list: enter on checkout
    await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
    await pilot.press("h")
    await until(pilot, lambda: app.data.history_for == TARGET)
    await pilot.press("t")
    await until(pilot, lambda: app.is_screen_installed("comms") and app.screen is app.get_screen("comms"))
    await until(pilot, lambda: "no incident is open" in screen_text(app), what="the comms panel on screen")
    assert app.session.journal is None and app.data.records == []


def test_send_edit_skip_and_report(world, state_home, receiver):  # noqa: F811
    async def go():
        app = app_for(world, receiver)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_comms(app, pilot)
            await pilot.press("s")  # send now: opens the incident for the target on screen, sends the next item
            await until(pilot, lambda: len(receiver.requests) == 1 and
                        any(r["type"] == "notification" for r in app.data.records))
            opened = next(r for r in app.data.records if r["type"] == "incident_opened")
            assert opened["target"] == "shop/checkout"
            await until(pilot, lambda: all(x in screen_text(app) for x in ("next update", "next escalation", "slack")),
                        what="the schedule on screen")
            shown = screen_text(app)
            # a live countdown to the 5-minute mark (the incident opened a moment ago)
            assert "OVERDUE" not in shown and re.search(r"periodic update due \d\d:\d\d:\d\d  in (4m \d\ds|5m 00s)", shown)
            sent = receiver.requests[0]
            assert sent.method == "POST" and sent.path == f"/services/{SECRET}"
            assert sent.headers["content-type"].startswith("application/json") and sent.json.get("text")
            note = next(r for r in app.data.records if r["type"] == "notification")
            assert note["channel"] == "slack" and note["ok"] is True

            await pilot.press("e")  # edit before sending: a modal prefilled from the template
            from screens.modals import EditMessage

            await until(pilot, lambda: isinstance(app.screen, EditMessage) and app.screen.query("#message"),
                        what="the edit modal composed")
            area = app.screen.query_one("#message")
            assert area.text.strip()  # the template's preview
            area.load_text("checkout: rolled back, watching\nEdited by the on-call: error rate falling 42")
            await pilot.press("ctrl+t")
            await until(pilot, lambda: len(receiver.requests) == 2)
            assert "error rate falling 42" in receiver.requests[1].body.decode()
            await until(pilot, lambda: any(r["type"] == "notification" and r.get("edited") for r in app.data.records))
            assert any(r["type"] == "comms" and r.get("action") == "edit" for r in app.data.records)

            pending = [k for k in ("update", "escalation:1", "escalation:2")]
            await pilot.press("k")  # skip the next item (journaled)
            await until(pilot, lambda: any(r["type"] == "comms" and r.get("action") == "skip" for r in app.data.records))
            skip = next(r for r in app.data.records if r["type"] == "comms" and r.get("action") == "skip")
            assert skip["item"] in pending and skip["due_at"]
            await until(pilot, lambda: "skip " + skip["item"] in screen_text(app) and "(edited)" in screen_text(app),
                        what="the skip and the edited send on screen")
            shown = screen_text(app)
            assert SECRET not in shown and "xoxb" not in shown

            app.post_message(msg.ResolveWanted())  # the checklist's R
            from screens.modals import ReportPrompt

            await until(pilot, lambda: isinstance(app.screen, ReportPrompt) and app.screen.query("#dialog"),
                        what="the report prompt composed")
            await pilot.press("y")
            await until(pilot, lambda: app.data.report_path is not None, timeout=10)
            await until(pilot, lambda: "Incident report written" in screen_text(app), what="the report's modal on screen")
            path = app.session.journal_path
        from pathlib import Path

        report = Path(app.data.report_path)
        assert report.parent == path.parent and report.name.endswith(".report.md")
        md = report.read_text()
        assert "## Timeline (UTC)" in md and "## Notifications" in md and "slack" in md
        svg = report.with_name(report.name.replace(".report.md", ".dashboard.svg"))
        assert svg.exists() and svg.name in md and "<svg" in svg.read_text()[:2000]
        journal_text = path.read_text()
        for text in (journal_text, md):
            assert SECRET not in text and "xoxb" not in text
        types = [r["type"] for r in read_journal(path)]
        assert types.count("notification") == 2 and types.count("incident_resolved") == 1

    asyncio.run(go())


def test_readonly_offers_no_send_and_the_backend_refuses(world, state_home, receiver, tmp_path):  # noqa: F811
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(readonly=True, kubeconfig=str(kubeconfig)), settings=settings(**notify_env(receiver)))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.session is not None and app.data.targets)
            await pilot.press("t")
            await until(pilot, lambda: app.is_screen_installed("comms") and app.screen is app.get_screen("comms"))
            await until(pilot, lambda: "sent and skipped" in screen_text(app), what="the comms panel on screen")
            for action in ("send", "edit", "skip", "report"):
                assert app.screen.check_action(action, ()) is False
                assert app.check_action(action, ()) is False
            keys = {b.binding.key for b in app.active_bindings.values() if b.enabled}
            assert not {"s", "e", "k", "w"} & keys
            await pilot.press("s", "e", "k")
            await pilot.pause(0.3)
            shown = screen_text(app)
            assert "Send now" not in shown and SECRET not in shown
            n = app.comms.notifier()
            with pytest.raises(ReadonlyError):
                n.send("slack", "progress", [])
            with pytest.raises(ReadonlyError):
                app.comms.skip(None, target=TARGET)
            assert app.session.journal is None  # nothing opened, nothing journaled
        assert receiver.requests == []  # not a byte left for the webhook

    asyncio.run(go())


def test_no_channel_configured_says_how(world, state_home):  # noqa: F811
    async def go():
        app = app_for(world, drill=False)  # (a drill always has its outbox)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_comms(app, pilot)
            await until(pilot, lambda: "COCKPIT_NOTIFY__SLACK_WEBHOOK_URL" in screen_text(app), what="the how-to on screen")
            shown = screen_text(app)
            assert "COCKPIT_NOTIFY__SLACK_WEBHOOK_URL" in shown and "channels: none" in shown
            await pilot.press("s")  # refused with a plain warning before anything is opened, nothing crashes
            await pilot.pause(0.3)
            assert app.is_running and app.session.journal is None
            await pilot.press("k")  # a skip needs no channel: the operator acted, the incident opens
            await until(pilot, lambda: any(r["type"] == "comms" for r in app.data.records))
            assert app.data.state.target == "shop/checkout"

    asyncio.run(go())
