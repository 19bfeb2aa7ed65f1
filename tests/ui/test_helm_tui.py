"""The history screen offers Helm when the target deployment belongs to a release, against
Helm's own code driving the world: a chart (Deployment + Service) installed by helm-sdkpy and
upgraded to a bad image; the history of ``shop/hweb`` names release ``hweb``; ``m`` lists the
release's revisions (status, chart, app version, images); ``enter`` + ``y`` roll the release
back through the executor (``helm.rollback``, Helm's code) in the incident, journaled like the
Kubernetes rollback. Helm's own History then shows "Rollback to 1" and the Deployment runs the
good image. Before that, the diff pane under the revisions shows what rolling back to revision 1
would change against the deployed bad revision: the image tag in the values and the image in
the manifest, ``-``/``+`` coloured. A readonly observer sees the release and its revisions and can change nothing; a
deployment outside any release is not offered Helm. Also: a Pilot check of the rollback
screen's traffic line over a journal with a shift in it."""
from __future__ import annotations

import asyncio

import pytest

from cockpit.errors import ReadonlyError
from cockpit.journal import read_journal
from cockpit.model import Target
from tests.fixtures.helm import helm_call, helm_py, install_chart, write_chart
from tests.ui.fakes import args
from tests.ui.test_comms import screen_text
from tests.ui.test_flows import settings, until

pytestmark = pytest.mark.slow
NS = "shop"
HWEB = Target("hweb", NS)


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COCKPIT_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("COCKPIT_HELM_BIN", raising=False)
    return tmp_path / "state"


@pytest.fixture
def released(world, tmp_path):
    """A world with release ``hweb`` at revision 2 (web:2-bad); revision 1 ran web:1."""
    python = helm_py()
    w = world("healthy")
    chart = write_chart(tmp_path / "chart")
    install_chart(python, w.kubeconfig_path, "hweb", chart, NS, tag="1")
    helm_call(python, w.kubeconfig_path, "upgrade", NS, "hweb", str(chart), {"image": {"tag": "2-bad"}})
    return w, python


def helm_app(w, *, readonly: bool = False):
    """The cockpit against the world, with the Helm controller wired as ``compose.wire_controllers``
    wires it (done here until the composition root does)."""
    from cockpit import compose
    from cockpit.app import CockpitApp
    from cockpit.controllers.helm import HelmController
    from screens.helm_host import HelmHost

    cls = CockpitApp if issubclass(CockpitApp, HelmHost) else type("HelmApp", (HelmHost, CockpitApp), {})
    app = cls(args(kubeconfig=str(w.kubeconfig_path), readonly=readonly), settings=settings())
    if getattr(app, "helm", None) is None:
        from backends.helm.releases import HelmReleases, release_of

        app.helm = HelmController(
            app, app.data, app.incident,
            release_of=lambda t: release_of(app.session.backend.get_deployment(t)),
            history=lambda rel, ns: HelmReleases(app.session.backend.t, ns).history(rel, ns),
            access=lambda: {"kubeconfig": str(w.kubeconfig_path), "context": None},
            prepare=compose.load_step_kinds, readonly=readonly)
    if app.helm.diff is None:  # until compose.wire_controllers passes ``diff`` (compose.helm_diff)
        from backends.helm.releases import HelmReleases, diff

        def helm_diff(rel, ns, rev):
            if hasattr(compose, "helm_diff"):
                return compose.helm_diff(app.session, rel, ns, rev)
            return diff(HelmReleases(app.session.backend.t, ns).history(rel, ns), rev)

        app.helm.diff = helm_diff
        app.helm.view.request_diff = app.helm.want_diff
    return app


def image(w) -> str:
    return w.store.require("deployments", NS, "hweb")["spec"]["template"]["spec"]["containers"][0]["image"]


async def to_history(app, pilot, target=HWEB):
    await until(pilot, lambda: app.session is not None and getattr(app, "cluster", None) is not None)
    app.cluster.pick(target)
    await until(pilot, lambda: app.data.target == target)
    await pilot.press("h")
    await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen" and app.screen.query("#hist-title"),
                what="the history composed")


def test_history_offers_the_release_and_rolls_it_back_with_helm(released, state_home):
    from screens.helm_history import HelmConfirm, HelmHistoryScreen

    w, python = released

    async def go():
        app = helm_app(w)
        async with app.run_test(size=(140, 40)) as pilot:
            await to_history(app, pilot)
            await until(pilot, lambda: app.data.helm.release(HWEB) == ("hweb", NS))
            await until(pilot, lambda: "Helm release hweb in shop" in app.screen.query_one("#hist-title").render().plain)
            await until(pilot, lambda: "m: its revisions and a rollback with Helm" in screen_text(app),
                        what="the release's offer on screen")

            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, HelmHistoryScreen) and app.screen.query("#helm-revisions"),
                        what="the Helm history composed")
            table = app.screen.query_one("#helm-revisions")
            await until(pilot, lambda: table.row_count == 2)
            await until(pilot, lambda: "deployed: revision 2" in screen_text(app), what="the deployed revision on screen")
            rows = {str(table.get_row_at(i)[0].plain).split()[0]: [c.plain for c in table.get_row_at(i)]
                    for i in range(2)}
            assert rows["2"][1:4] == ["deployed", "web-0.1.0", "1.0"] and rows["2"][5] == "web:2-bad"
            assert rows["1"][1] == "superseded" and rows["1"][5] == "web:1"
            assert rows["1"][6] == "Install complete" and rows["2"][6] == "Upgrade complete"
            assert app.screen.selected().revision == 1  # Helm's "previous" offered first

            # the diff pane: revision 1 against the deployed revision 2 (the bad image)
            box = app.screen.query_one("#helm-diff")
            await until(pilot, lambda: "manifest" in box.render().plain, timeout=30)
            shown = box.render()
            lines = shown.plain.splitlines()
            assert lines[0].startswith("revision 1 against deployed revision 2")
            values = lines[lines.index("values") + 1:lines.index("manifest")]
            assert any(ln.startswith("-") and "2-bad" in ln for ln in values)
            assert any(ln.startswith("+") and "tag:" in ln and "1" in ln for ln in values)
            manifest = lines[lines.index("manifest") + 1:]
            removed = [ln for ln in manifest if ln.startswith("-") and not ln.startswith("---")]
            added = [ln for ln in manifest if ln.startswith("+") and not ln.startswith("+++")]
            assert any("image:" in ln and "web:2-bad" in ln for ln in removed)
            assert any("image:" in ln and "web:1" in ln and "2-bad" not in ln for ln in added)
            styles = {shown.plain[sp.start:sp.end]: str(sp.style) for sp in shown.spans}
            assert "$error" in styles[next(ln for ln in removed if "web:2-bad" in ln)]
            assert "$success" in styles[next(ln for ln in added if "web:1" in ln)]
            await pilot.press("up")  # the deployed revision: nothing to diff
            await until(pilot, lambda: "is the deployed one: nothing to diff" in box.render().plain)
            await pilot.press("down")
            await until(pilot, lambda: app.screen.selected().revision == 1 and "manifest" in box.render().plain)

            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, HelmConfirm) and app.screen.query("#confirm-body"),
                        what="the Helm confirmation composed")
            body = app.screen.query_one("#confirm-body").render().plain
            assert "Roll back Helm release hweb in namespace shop" in body
            assert "from revision 2 (web:2-bad)" in body and "to   revision 1 (web:1)" in body
            assert image(w) == "web:2-bad"  # nothing sent before y
            await pilot.press("y")
            await until(pilot, lambda: type(app.screen).__name__ == "RollbackScreen")
            await until(pilot, lambda: app.data.state.rolled_back is not None, timeout=120)
            await until(pilot, lambda: any(r.revision == 3 for r in app.data.helm.history), timeout=30)
            path = app.session.journal_path
        return path

    path = asyncio.run(go())
    assert image(w) == "web:1"
    history = [(r["version"], r["info"]["status"], r["info"]["description"])
               for r in helm_call(python, w.kubeconfig_path, "history", NS, "hweb")]
    assert history[-1] == (3, "deployed", "Rollback to 1")
    records = list(read_journal(path))
    types = [r["type"] for r in records]
    assert types[0] == "incident_opened" and records[0]["target"] == "shop/hweb"
    assert types.index("runbook") < types.index("revision_chosen") < types.index("intent") \
        < types.index("outcome")
    intent = next(r for r in records if r["type"] == "intent")
    assert intent["action"] == "helm.rollback" and intent["to_revision"] == 1 and intent["newest_before"] == 2
    outcome = next(r for r in records if r["type"] == "outcome")
    assert outcome["ok"] and outcome["result"]["revision"] == 3 and outcome["result"]["images"] == ["web:1"]
    phases = [r["phase"] for r in records if r["type"] == "phase"]
    assert phases[-2:] == ["execute", "verify"]


def test_readonly_sees_the_release_and_changes_nothing(released, state_home):
    from screens.helm_history import HelmHistoryScreen

    w, _python = released

    async def go():
        app = helm_app(w, readonly=True)
        async with app.run_test(size=(140, 40)) as pilot:
            await to_history(app, pilot)
            await until(pilot, lambda: app.data.helm.release(HWEB) == ("hweb", NS))
            w.clear_request_log()
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, HelmHistoryScreen) and app.screen.query("#helm-revisions")
                        and app.screen.query_one("#helm-revisions").row_count == 2, what="the Helm history's rows")
            await until(pilot, lambda: "deployed: revision 2" in screen_text(app), what="the Helm history's title on screen")
            assert "enter: roll back" not in screen_text(app)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert isinstance(app.screen, HelmHistoryScreen)  # no confirmation
            with pytest.raises(ReadonlyError):
                app.helm.roll_back(HWEB, "hweb", NS, 1)
            await pilot.pause(0.3)
        return [m for m, _p in w.request_log if m != "GET"]

    assert asyncio.run(go()) == []
    assert image(w) == "web:2-bad"


def test_a_deployment_outside_any_release_is_not_offered_helm(world, state_home):
    w = world("healthy")
    web = Target("web", "default")

    async def go():
        app = helm_app(w)
        async with app.run_test(size=(140, 40)) as pilot:
            await to_history(app, pilot, web)
            await until(pilot, lambda: str(web) in app.data.helm.releases)
            assert app.data.helm.release(web) is None
            await until(pilot, lambda: "live: revision" in screen_text(app), what="the history on screen")
            await pilot.press("m")
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "HistoryScreen"
            assert "Helm release" not in screen_text(app)

    asyncio.run(go())


def test_the_diff_pane_is_capped_plain_and_coloured():
    """Pure: each section capped (the rest counted), markup inert, +/- styled by theme variables."""
    from types import SimpleNamespace

    from screens.helm_history import diff_text

    d = SimpleNamespace(revision=1, against=2, values=(),
                        manifest=("--- revision 2 (deployed)", "+++ revision 1", "@@ -1 +1 @@",
                                  "-image: [bold]web:2-bad[/]", "+image: web:1")
                        + tuple(f"+line {i}" for i in range(20)))
    c = diff_text(d, max_lines=5)
    lines = c.plain.splitlines()
    assert lines[0].startswith("revision 1 against deployed revision 2")
    assert "values: no difference" in lines
    assert "-image: [bold]web:2-bad[/]" in lines  # shown as text, not parsed as markup
    assert "+line 0" not in lines and lines[-1] == "… 20 more lines of the manifest diff not shown"
    styles = {c.plain[s.start:s.end]: str(s.style) for s in c.spans}
    assert "$error" in styles["-image: [bold]web:2-bad[/]"] and "$success" in styles["+image: web:1"]
    assert "$accent" in styles["@@ -1 +1 @@"]
