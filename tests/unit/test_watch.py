"""The headless watch loop (:class:`cockpit.watch.Watcher`) with an injected clock and sleep.

Metrics come from fake :class:`cockpit.ports.MetricsSource` objects (the core's port): they
read the *real* live image of the deployment from the simulated world, so "bad" means "the
bad revision is live" and a rollback really changes what they report. The rollout backend is
the real :class:`backends.kubernetes.backend.KubeBackend` against the world's API server in
every test: rollbacks are real PATCHes, counted in ``world.request_counts``. Time is a fake:
``sleep`` advances it, so intervals, stabilization and the countdown run instantly and no
assertion depends on wall-clock timing.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import backends.kubernetes.steps  # noqa: F401 — registers kubernetes.rollback (the composition root's job)
from backends.kubernetes.backend import KubeBackend, connect
from cockpit.config import DecisionConfig, TriggerConfig, WatchConfig
from cockpit.decision import Policy, Reading, Verdict
from cockpit.errors import Aborted, RolloutFailed, UnreachableError
from cockpit.journal import Journal
from cockpit.model import Revision, Target
from cockpit.ports import MetricsSource
from cockpit.watch import Watcher, choose_revision

T = Target("checkout", "shop")
BAD = "registry.example/shop/checkout:1.5.0"
GOOD = "registry.example/shop/checkout:1.4.2"


class FakeTime:
    """``time()`` / ``sleep()`` / ``monotonic()`` over one fake timeline; ``on_sleep`` hooks a sleep."""

    def __init__(self) -> None:
        self.t = time.time()  # the world's revisions are stamped with the real wall clock
        self.slept: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def time(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        self.slept.append(dt)
        if self.on_sleep is not None:
            self.on_sleep(dt)
        self.t += dt


class ImageSource:
    """A fake MetricsSource whose numbers follow the image that is live in the world."""

    def __init__(self, world, bad: set[str], name: str = "fake") -> None:
        self.world = world
        self.bad = bad
        self.name = name
        self.fail_with: Exception | None = None
        self.calls = 0
        self.resets = 0

    def live_image(self) -> str:
        d = self.world.store.require("deployments", "shop", "checkout")
        return d["spec"]["template"]["spec"]["containers"][0]["image"]

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        err = 0.30 if self.live_image() in self.bad else 0.002
        return Reading(self.name, at=now or 0.0, window_s=window_s, error_rate=err, p95_ms=120.0, request_rate=30.0)

    def reset(self) -> None:
        self.resets += 1


def policy(triggers: dict | None = None, **watch) -> Policy:
    w = dict(interval_s=5, window_s=60, countdown_s=3, stabilization_s=20, verify_timeout_s=120)
    w.update(watch)
    return Policy(decision=DecisionConfig(triggers=TriggerConfig(**(triggers or {}))), watch=WatchConfig(**w))


def backend(world, readonly: bool = False) -> KubeBackend:
    return connect(str(world.kubeconfig_path), readonly=readonly)


def live(b: KubeBackend) -> Revision:
    return next(r for r in b.history(T) if r.live)


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for the world's controller (a real thread) to catch up; not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"the world never reached: {what}")
        time.sleep(0.02)


def make(world, ft: FakeTime, source, *, out: list[str], **kw) -> Watcher:
    kw.setdefault("policy", policy())
    kw.setdefault("backend", backend(world))
    return Watcher(T, [source], kw.pop("backend"), out=out.append, clock=ft.time, sleep=ft.sleep,
                   monotonic=ft.time, **kw)


def patches(world) -> int:
    return world.request_counts.get("PATCH", 0)


def types(j: Journal) -> list[str]:
    return [r["type"] for r in j.read()]


# --------------------------------------------------------------------------- the port


def test_sources_implement_the_core_port():
    from backends.metrics.crashes import CrashSource
    from backends.metrics.probe import ProbeSource
    from backends.metrics.scrape import ScrapeSource

    for s in (ScrapeSource("http://127.0.0.1:9/metrics"), ProbeSource("http://127.0.0.1:9"), CrashSource(None, T)):
        assert isinstance(s, MetricsSource)
    import cockpit.watch

    assert cockpit.watch.MetricsSource is MetricsSource  # the old import path still works


# --------------------------------------------------------------------------- the happy path


def test_trigger_journals_why_counts_down_rolls_back_to_previous_and_verifies(world, tmp_path):
    w0 = world("bad-image")
    ft, out = FakeTime(), []
    src = ImageSource(w0, bad={BAD})
    j = Journal.open(tmp_path / "j.jsonl")
    watcher = make(w0, ft, src, out=out, journal=j, auto_rollback=True)
    assert watcher.run(exit_when_verified=True, duration=3600) == 0
    text = "\n".join(out)

    # trigger → why → countdown → rollback to the previous revision (none was seen healthy)
    assert "TRIGGER trigger: error rate 30% > 5% for 5 consecutive checks (limit 5)" in text
    assert (f"AUTO-ROLLBACK in 3s: rollback of shop/checkout to revision 2 ({GOOD}); revision 2 is the previous one "
            "(no revision was seen healthy). Press Ctrl-C to abort.") in text
    assert out.index(next(x for x in out if "AUTO-ROLLBACK in" in x)) < out.index(next(x for x in out if "rolled back" in x))
    assert [x.strip() for x in out if x.startswith("  … ")] == ["… 2s", "… 1s"]
    assert "rolled back shop/checkout: revision 3 → 2" in text and text.count("rolled back shop/checkout") == 1
    assert patches(w0) == 1
    assert live(backend(w0)).images == (GOOD,)

    # then it stabilizes (no judging) and verifies
    assert "INCONCLUSIVE shop/checkout — stabilizing after rollback to revision 2" in text
    assert "VERIFIED shop/checkout: OK" in text
    assert watcher.verified is True and src.resets >= 1
    # no source keeps history and the watch never saw it healthy: said so, not invented
    assert "before/after: no baseline" in text and watcher.comparison is None

    t = types(j)
    assert t.index("trigger") < t.index("phase") < t.index("revision_chosen") < t.index("intent") < t.index("outcome")
    trig = next(r for r in j.read() if r["type"] == "trigger")
    assert trig["auto"] is True and trig["name"] == "error_rate" and trig["to_revision"] == 2
    assert "> 5%" in trig["reason"] and "previous" in trig["why"]
    outcome = next(r for r in j.read() if r["type"] == "outcome")
    assert outcome["ok"] is True and outcome["result"]["to_revision"] == 2
    assert [r["value"] for r in j.read() if r["type"] == "verdict"][-1] == "OK"
    # the countdown slept the whole countdown (in 1 s steps) before the PATCH
    assert ft.slept.count(1.0) >= 3


def test_last_stable_revision_comes_from_the_journal(world, tmp_path):
    """An OK verdict journaled for revision 1's template (e.g. by an earlier watch) wins over 'previous'."""
    w0 = world("bad-image")
    b = backend(w0)
    rev1 = next(r for r in b.history(T) if r.number == 1)
    j = Journal.open(tmp_path / "j.jsonl")
    j.append("verdict", value="OK", target=str(T), revision=1, template_hash=rev1.template_hash)
    j.append("verdict", value="OK", target="shop/other", revision=2,
             template_hash=next(r for r in b.history(T) if r.number == 2).template_hash)  # another target: ignored
    ft, out = FakeTime(), []
    watcher = make(w0, ft, ImageSource(w0, bad={BAD}), out=out, journal=j, auto_rollback=True, backend=b)
    watcher.run(exit_when_verified=True, duration=3600)
    text = "\n".join(out)
    assert "to revision 1 (registry.example/shop/checkout:1.4.1); revision 1 was last seen healthy" in text
    assert live(b).images == ("registry.example/shop/checkout:1.4.1",)
    assert next(r for r in j.read() if r["type"] == "trigger")["to_revision"] == 1


def test_last_stable_revision_comes_from_the_health_history_and_stabilization_after_deploys(world, tmp_path):
    """The watch saw revision 3 OK; revision 4 was only ever seen while stabilizing, so when
    revision 5 goes bad the rollback goes to 3 (last seen healthy), not 4 (the previous one)."""
    w0 = world("bad-image")
    b = backend(w0)
    ft, out = FakeTime(), []
    ft.t -= 60  # the fake timeline must not run ahead of the world's (real) revision timestamps
    src = ImageSource(w0, bad={"registry.example/shop/checkout:9.0.1"})  # 1.5.0 is fine in this test
    watcher = make(w0, ft, src, out=out, auto_rollback=True, backend=b, journal=Journal.open(tmp_path / "j.jsonl"))
    for _ in range(3):
        assert watcher.tick().verdict is Verdict.OK
        ft.sleep(5)
    rev3 = live(b)
    assert rev3.number == 3 and rev3.template_hash in watcher.healthy

    def deploy(image: str, number: int) -> None:
        w0.apply_template("shop", "checkout", image)
        wait_until(lambda: b.deployment(T).revision == number, f"revision {number}")

    deploy("registry.example/shop/checkout:9.0.0", 4)
    d = watcher.tick()
    assert d.verdict is Verdict.INCONCLUSIVE and d.stabilizing
    assert "stabilizing after deploy of revision 4" in d.line()
    ft.sleep(5)
    assert watcher.tick().stabilizing  # 9.0.0 looks fine but is not judged yet
    deploy("registry.example/shop/checkout:9.0.1", 5)
    # bad numbers during stabilization: never a trigger, however many checks
    for _ in range(3):
        ft.sleep(5)
        d = watcher.tick()
        assert d.stabilizing and d.trigger is None and d.counters.error_high == 0
    assert watcher.run(exit_when_verified=True, duration=3600) == 0
    text = "\n".join(out)
    assert "revision changed: 3 → 4" in text and "revision changed: 4 → 5" in text
    assert "rollback of shop/checkout to revision 3 (registry.example/shop/checkout:1.5.0); revision 3 was last seen healthy" in text
    assert live(b).images == ("registry.example/shop/checkout:1.5.0",)
    assert patches(w0) == 1
    # the baseline is what this watch saw healthy before the release (no source keeps history)
    assert "before/after: before the release (this watch" in text
    assert watcher.comparison is not None and watcher.comparison.before.error_rate == pytest.approx(0.002)


# --------------------------------------------------------------------------- once per incident


def test_never_triggers_twice_for_one_incident_nor_after_a_restart(world, tmp_path):
    w0 = world("bad-image")
    b = backend(w0)
    ft, out = FakeTime(), []
    src = ImageSource(w0, bad={BAD, GOOD})  # the rollback does not help: still bad afterwards
    j = Journal.open(tmp_path / "j.jsonl")
    watcher = make(w0, ft, src, out=out, journal=j, auto_rollback=True, backend=b,
                   policy=policy(verify_timeout_s=200))
    with pytest.raises(RolloutFailed, match="not verified"):
        watcher.run(duration=3600)
    text = "\n".join(out)
    assert text.count("AUTO-ROLLBACK in") == 1 and text.count("rolled back shop/checkout") == 1
    assert "NOT VERIFIED shop/checkout: still ROLLBACK_NOW" in text
    assert patches(w0) == 1
    # after the stabilization the bad numbers came back for > 5 checks: ROLLBACK_NOW, no trigger
    assert watcher.engine.state.counters.error_high > 5

    # a restarted watch on the same incident journal does not roll back again
    out2: list[str] = []
    again = make(w0, FakeTime(), src, out=out2, journal=j, auto_rollback=True, backend=b)
    for _ in range(6):
        again.tick()
        again.sleep(5)
    assert any("auto-rollback already used for this incident; not again" in x for x in out2)
    assert not any("AUTO-ROLLBACK in" in x for x in out2)
    assert patches(w0) == 1
    assert [r["type"] for r in j.read()].count("intent") == 1


def test_a_watch_without_the_journal_never_undoes_the_cockpits_rollback(world, tmp_path):
    """A restarted pod or a new leader has neither the journal nor the first watch's memory:
    when the rolled-back-to revision is bad too, "the previous revision" is the release rolled
    back from. The note on the deployment says so: the trigger is journaled, nothing is sent."""
    w0 = world("bad-image")
    b = backend(w0)
    src = ImageSource(w0, bad={BAD, GOOD})
    first = make(w0, FakeTime(), src, out=[], journal=Journal.open(tmp_path / "a.jsonl"), auto_rollback=True,
                 backend=b, policy=policy(verify_timeout_s=200))
    with pytest.raises(RolloutFailed, match="not verified"):
        first.run(duration=3600)
    assert patches(w0) == 1 and src.live_image() == GOOD
    out: list[str] = []
    j = Journal.open(tmp_path / "b.jsonl")
    fresh = make(w0, FakeTime(), src, out=out, journal=j, auto_rollback=True, backend=b)
    for _ in range(8):
        fresh.tick()
        fresh.sleep(5)
    text = "\n".join(out)
    assert "auto-rollback NOT sent: the live revision 4 is what" in text, text
    assert "(from revision 3); an automatic rollback to revision 3 would bring back the release rolled back from" in text
    assert "`cockpit rollback checkout -n shop --to-revision N`" in text
    assert text.count("auto-rollback NOT sent") == 1 and "AUTO-ROLLBACK in" not in text
    assert patches(w0) == 1 and src.live_image() == GOOD
    trig = [r for r in j.read() if r["type"] in ("trigger", "trigger_aborted")]
    assert [r["type"] for r in trig] == ["trigger", "trigger_aborted"] and trig[0]["auto"] is True
    assert trig[1]["reason"].startswith("not sent: the live revision 4")
    assert "intent" not in types(j)


# --------------------------------------------------------------------------- inconclusive data


def test_never_triggers_on_inconclusive_data_a_gap_resets_the_count(world, tmp_path):
    w0 = world("bad-image")
    ft, out = FakeTime(), []
    src = ImageSource(w0, bad={BAD})
    # only the consecutive error-rate rule here (the share-of-passed-checks rule is not about gaps)
    watcher = make(w0, ft, src, out=out, auto_rollback=True, policy=policy(triggers={"success_min_checks": 100}),
                   journal=Journal.open(tmp_path / "j.jsonl"))

    def ticks(n: int) -> list:
        ds = []
        for _ in range(n):
            ds.append(watcher.tick())
            ft.sleep(5)
        return ds

    assert all(d.trigger is None for d in ticks(4))  # 4 consecutive bad checks
    src.fail_with = UnreachableError("metrics endpoint did not answer")
    gap = ticks(1)[0]
    src.fail_with = None
    ds = ticks(4)
    assert all(d.trigger is None for d in ds)  # 4 more: the gap reset the count
    assert patches(w0) == 0
    # no traffic: no error rate, no p95 -> INCONCLUSIVE; and never a trigger
    src.sample = lambda window_s, now=None: Reading("fake", at=now or 0.0, window_s=window_s, request_rate=0.0)
    for d in ticks(8):
        assert d.verdict is Verdict.INCONCLUSIVE and d.trigger is None
    assert patches(w0) == 0 and not any("TRIGGER" in x for x in out)
    del src.sample
    # ... while 5 consecutive conclusive bad checks do fire
    ds = []
    for _ in range(5):
        ds.append(watcher.tick())
        if ds[-1].trigger is not None:
            break
        ft.sleep(5)
    assert gap.counters.error_high == 0
    assert ds[-1].trigger is not None and len(ds) == 5
    assert patches(w0) == 1


def test_a_broken_source_raises_one_alert_and_neither_triggers_nor_hides(world, tmp_path):
    w0 = world("bad-image")
    ft, out = FakeTime(), []
    src = ImageSource(w0, bad={BAD})
    src.fail_with = UnreachableError("Prometheus at http://127.0.0.1:9 did not answer: connection refused")
    j = Journal.open(tmp_path / "j.jsonl")
    watcher = make(w0, ft, src, out=out, journal=j, auto_rollback=True)
    decisions = []
    for _ in range(12):
        decisions.append(watcher.tick())
        ft.sleep(5)
    alerts = [x for x in out if "ALERT" in x]
    assert len(alerts) == 1 and "metrics source fake failed 3 times in a row" in alerts[0]
    assert decisions[2].alerts and not decisions[1].alerts and not decisions[3].alerts
    assert all(d.verdict is Verdict.INCONCLUSIVE and d.trigger is None for d in decisions)
    last = decisions[-1].line()
    assert "fake stale since" in last and "did not answer" in last  # shown stale, not hidden
    assert "trigger" not in types(j) and patches(w0) == 0


def test_failed_health_checks_do_trigger_unlike_a_broken_source(world):
    """Contrast: a probe that answers 'unhealthy' (ok reading, health_ok=False) is a check that failed."""
    w0 = world("bad-image")
    ft, out = FakeTime(), []

    class Probe:
        name = "probe"

        def sample(self, window_s, now=None):
            return Reading("probe", at=now or 0.0, health_ok=False, error="health HTTP 503")

    metrics = ImageSource(w0, bad=set())
    watcher = Watcher(T, [metrics, Probe()], backend(w0), policy=policy(), out=out.append, clock=ft.time,
                      sleep=ft.sleep, monotonic=ft.time, auto_rollback=False)
    fired = []
    for _ in range(4):
        d = watcher.tick()
        fired.append(d.trigger)
        ft.sleep(5)
    assert [f is not None for f in fired] == [False, False, True, False]
    assert fired[2].name == "health"
    assert any("TRIGGER trigger: 3 consecutive health checks failed" in x and "auto-rollback is not armed" in x for x in out)
    assert patches(w0) == 0  # not armed: reports only


# --------------------------------------------------------------------------- readonly and abort


def test_readonly_only_reports_what_it_would_do(world):
    w0 = world("bad-image")
    ft, out = FakeTime(), []

    def no_journal():
        raise AssertionError("readonly must not open a journal")

    watcher = make(w0, ft, ImageSource(w0, bad={BAD}), out=out, journal=no_journal, auto_rollback=True, readonly=True,
                   backend=backend(w0, readonly=True))
    watcher.run(duration=120)
    text = "\n".join(out)
    assert ("readonly: would start rollback of shop/checkout to revision 2 (registry.example/shop/checkout:1.4.2); "
            "revision 2 is the previous one (no revision was seen healthy). Nothing was sent.") in text
    assert text.count("TRIGGER") == 1 and "AUTO-ROLLBACK in" not in text and "rolled back" not in text
    assert patches(w0) == 0 and w0.request_counts.get("GET", 0) > 0
    assert live(backend(w0)).number == 3


@pytest.mark.parametrize("how", ["sigint", "cancel"])
def test_countdown_abort_changes_nothing_and_is_journaled(world, tmp_path, how):
    w0 = world("bad-image")
    ft, out = FakeTime(), []
    j = Journal.open(tmp_path / "j.jsonl")
    watcher = make(w0, ft, ImageSource(w0, bad={BAD}), out=out, journal=j, auto_rollback=True,
                   policy=policy(countdown_s=10))

    def on_sleep(dt: float) -> None:
        if any("AUTO-ROLLBACK in" in x for x in out) and any(x.startswith("  … ") for x in out):
            if how == "sigint":
                raise KeyboardInterrupt  # what SIGINT does to the main thread in a sleep
            watcher.cancel.set()

    ft.on_sleep = on_sleep
    with pytest.raises(Aborted, match="nothing was changed"):
        watcher.run(duration=3600)
    assert any("auto-rollback ABORTED by the operator; nothing was changed" in x for x in out)
    aborted = [r for r in j.read() if r["type"] == "trigger_aborted"]
    assert len(aborted) == 1 and aborted[0]["target"] == "shop/checkout"
    assert "intent" not in types(j) and patches(w0) == 0
    assert live(backend(w0)).number == 3


# --------------------------------------------------------------------------- runbook and the pure bits


def test_a_failed_runbook_run_is_a_rollout_failure(world, tmp_path):
    """The runbook runner is a recording fake here (the real executor runs in the e2e test)."""
    w0 = world("bad-image")
    ft, out = FakeTime(), []
    calls = []

    class Result:
        ok = False

    def runner(journal):
        calls.append(journal)
        return Result()

    j = Journal.open(tmp_path / "j.jsonl")
    watcher = make(w0, ft, ImageSource(w0, bad={BAD}), out=out, journal=j, auto_rollback=True, runbook_runner=runner)
    with pytest.raises(RolloutFailed, match="runbook"):
        watcher.run(duration=3600)
    assert calls == [j]
    assert any("AUTO-ROLLBACK in 3s: the runbook" in x for x in out)
    assert patches(w0) == 0


def rev(n: int, h: str, live: bool = False) -> Revision:
    return Revision(n, (f"img:{n}",), template_hash=h, live=live)


def test_choose_revision():
    hist = [rev(1, "a"), rev(2, "b"), rev(3, "c"), rev(4, "d", live=True)]
    assert choose_revision(hist, set())[0] == 3
    assert choose_revision(hist, {"a"}) == (1, "revision 1 was last seen healthy")
    assert choose_revision(hist, {"a", "b"})[0] == 2
    assert choose_revision(hist, {"d"})[0] == 3  # the live template itself does not count
    # an older revision with the live template is skipped (it is the same release)
    assert choose_revision([rev(1, "d"), rev(2, "b"), rev(3, "d", live=True)], {"d"})[0] == 2
    with pytest.raises(RolloutFailed):
        choose_revision([rev(1, "a", live=True)], set())


def test_ctrl_c_while_the_rollback_is_sent_is_not_a_quiet_stop(world, tmp_path):
    """A recording fake wraps the real backend only to raise KeyboardInterrupt inside
    ``rollback`` (a real PATCH cannot be interrupted on cue); everything else is the real one."""
    w0 = world("bad-image")
    real = backend(w0)

    class Interrupted:
        def __getattr__(self, name):
            return getattr(real, name)

        def rollback(self, target, to_revision=0, **kw):
            raise KeyboardInterrupt

    ft, out = FakeTime(), []
    j = Journal.open(tmp_path / "j.jsonl")
    watcher = make(w0, ft, ImageSource(w0, bad={BAD}), out=out, journal=j, auto_rollback=True, backend=Interrupted())
    with pytest.raises(Aborted, match="may or may not have taken effect"):
        watcher.run(duration=3600)
    assert any("INTERRUPTED while the rollback was being sent" in x for x in out)
    assert not any(x.endswith(" stopped") for x in out)
    assert types(j).count("intent") == 1 and "outcome" not in types(j)  # resume/report see a dangling intent

    # a Ctrl-C while only watching is a quiet stop (exit 0)
    out2: list[str] = []
    quiet = make(w0, FakeTime(), ImageSource(w0, bad=set()), out=out2)

    def interrupt(dt):
        raise KeyboardInterrupt

    quiet.sleep = interrupt
    assert quiet.run(duration=3600) == 0 and out2[-1].endswith(" stopped")
