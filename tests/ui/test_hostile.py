"""Every widget that shows outside data, fed hostile strings: markup stays literal (the app
does not quit on ``[@click=app.quit]``), no escape, C1 or bidi control reaches the screen."""
from __future__ import annotations

import asyncio
import re

import pytest

from screens import render
from tests.ui.fakes import HOSTILE, StaticCockpit, events, history, pods
from tests.ui.test_flows import until

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(params=HOSTILE, ids=["click", "markup", "ansi-osc", "c1", "bidi", "c0", "long"])
def hostile(request):
    return request.param


def _plain(content) -> str:
    return content.plain if hasattr(content, "plain") else str(content)


def test_render_functions_are_inert(hostile):
    outs = [*render.pod_cells(pods(hostile)[0]), *render.event_cells(events(hostile)[1]),
            *render.revision_cells(history(hostile)[0], 0.0), *render.revision_cells(history(hostile)[2], 0.0),
            render.text(hostile), render.stale_line({"probe": 0.0}, {"probe": hostile}),
            render.auto_line(True, 3.0, hostile, False)]
    from datetime import datetime, timezone

    from screens import render_ops as ro
    from tests.ui.fakes import comms_records, data_layer

    snap, count, progress = data_layer(hostile)
    for _key, cells in (ro.sent_rows(comms_records(hostile)) + ro.migration_rows(list(snap.migrations))
                        + ro.long_tx_rows(list(snap.long_tx)) + ro.backup_rows(list(snap.backups))):
        outs.extend(cells)
    outs += [ro.redis_lines(count, progress, False, False), ro.invalidate_confirm_text(hostile, 0, hostile, 3),
             ro.report_line(hostile, True, False), ro.targets_line(hostile, hostile)]
    for c in outs:
        s = _plain(c)
        assert not CONTROL.search(s), repr(s[:80])
        assert len(s) <= 4100
    if hostile.startswith("[@click"):
        assert "[@click=app.quit]" in _plain(render.text(hostile))  # literal, not an action


@pytest.mark.parametrize("hostile_app", [HOSTILE[0], "".join(HOSTILE[1:-1]) + HOSTILE[-1]], ids=["click", "all"])
@pytest.mark.parametrize("screen", ["dashboard", "history", "rollback", "checklist", "comms", "data"])
def test_screens_with_hostile_data(screen, hostile_app):
    hostile = hostile_app
    async def go():
        app = StaticCockpit(screen, hostile=hostile)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query("#bar"), what="the screen composed")
            await pilot.pause(0.2)
            await pilot.click("#bar")  # a click on anything must not trigger data-borne actions
            await pilot.pause(0.1)
            assert app.is_running
            if hostile.startswith("[@click"):  # the hostile text is on screen (as text)
                await until(pilot, lambda: "@click=app.quit" in app.export_screenshot().replace("&#160;", " "),
                            what="the hostile text on screen")
            svg = app.export_screenshot()
            assert "\x1b" not in svg and "\u202e" not in svg and "\x9b" not in svg
            if hostile.startswith("[@click"):
                assert "@click=app.quit" in svg.replace("&#160;", " ")
            return True

    assert asyncio.run(go())


def test_toasts_of_outside_text_are_not_markup():
    """Toasts carry errors and delivery details from servers: a notification's text stays
    literal (a malformed tag would raise MarkupError, an action tag would be live)."""
    async def go():
        app = StaticCockpit("dashboard")
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await pilot.pause(0.1)
            app.notify("webhook: not delivered ([@click=app.quit]click me[/] [bold unclosed)", severity="error")
            await until(pilot, lambda: "[bold unclosed" in app.export_screenshot().replace("&#160;", " "),
                        what="the toast on screen")
            svg = app.export_screenshot().replace("&#160;", " ")
            assert "[@click=app.quit]click me[/]" in svg and "[bold unclosed" in svg
            assert app.is_running

    asyncio.run(go())
