"""Fixed, deterministic data for screen tests and snapshots (no world, no clock, no I/O)."""
from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timedelta, timezone

from cockpit.app import CockpitApp
from cockpit.decision import Counters, Decision, Reason, Sample, Verdict
from cockpit.model import DeploymentInfo, EventInfo, PodInfo, Revision, RolloutProgress, Target, TemplateDiff
from cockpit.runbook import DEFAULT_CHECKLIST
from cockpit.session import Snapshot
from cockpit.state import replay

NOW = datetime(2024, 5, 1, 12, 15, 0, tzinfo=timezone.utc)
T = NOW.timestamp()
TARGET = Target("checkout", "shop")

HOSTILE = [
    "[@click=app.quit]click me[/]",
    "[bold red]markup[/bold red] [link=http://x]l[/link]",
    "esc\x1b[31mred\x1b[0m osc\x1b]0;pwned\x07 title",
    "c1\x9b31m csi \x9d8;;http://evil\x9c",
    "bidi \u202eevil\u202c \u2066iso\u2069",
    "nul\x00bel\x07bs\x08",
    "long " + "x" * 5000,
]


def args(**kw) -> argparse.Namespace:
    base = dict(kubeconfig=None, context=None, namespace=None, readonly=False, journal=None, output="text",
                drill=False, scenario=None, follow=None, theme=None, ascii=False)
    base.update(kw)
    return argparse.Namespace(**base)


def ts(offset_s: float) -> str:
    return (NOW + timedelta(seconds=offset_s)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def journal_records(hostile: str | None = None) -> list[dict]:
    recs = [
        ("incident_opened", -600, {"target": "shop/checkout", "reason": "bad deploy", "who": "alice@bastion"}),
        ("phase", -600, {"phase": "declare"}),
        ("phase", -540, {"phase": "identify"}),
        ("phase", -420, {"phase": "execute"}),
        ("run_started", -420, {"runbook": "roll back", "from_step": 0, "resume": False}),
        ("step_started", -420, {"index": 0, "kind": "kubernetes.rollback", "name": "Roll back checkout to revision 2", "budget": 300}),
        ("revision_chosen", -419, {"step": 0, "revision": 2, "images": ["registry.example/shop/checkout:1.4.2"]}),
        ("log", -419, {"step": 0, "line": "rolling back shop/checkout to revision 2 (registry.example/shop/checkout:1.4.2)"}),
        ("log", -418, {"step": 0, "line": "deployment.apps/checkout rolled back"}),
        ("log", -410, {"step": 0, "line": 'Waiting for deployment "checkout" rollout to finish: 2 out of 4 new replicas have been updated...'}),
        ("log", -400, {"step": 0, "line": 'deployment "checkout" successfully rolled out'}),
        ("step_finished", -400, {"index": 0, "kind": "kubernetes.rollback", "ok": True, "status": "ok", "elapsed": 20.0, "over_budget": False}),
        ("run_finished", -400, {"ok": True, "status": "ok"}),
        ("phase", -400, {"phase": "verify"}),
        ("check", -380, {"id": "rollout_complete", "ok": True, "who": "cockpit", "evidence": "4/4 updated, 4 available"}),
        ("check", -370, {"id": "pods_ready", "ok": True, "who": "cockpit", "evidence": "4/4 Running and Ready"}),
        ("check", -300, {"id": "smoke_tests", "ok": True, "who": "alice@bastion", "evidence": "ticked by hand", "note": "ran ./smoke.sh"}),
    ]
    if hostile is not None:
        recs.append(("log", -399, {"step": 0, "line": hostile}))
        recs.append(("check", -298, {"id": "payments", "ok": False, "who": hostile, "evidence": hostile, "note": hostile}))
    return [{"seq": i + 1, "ts": ts(o), "actor": "alice@bastion", "type": t, **d} for i, (t, o, d) in enumerate(recs)]


def comms_records(hostile: str | None = None) -> list[dict]:
    """What the comms panel shows as sent and skipped (after the fixture journal's records)."""
    recs = [
        ("notification", -590, {"channel": "slack", "ok": True, "purpose": "started", "detail": "Slack webhook accepted (200)", "attempts": 1, "status_code": 200}),
        ("notification", -290, {"channel": "webhook", "ok": False, "purpose": "escalation", "level": 1, "detail": hostile or "HTTP 500 after 4 attempts", "attempts": 4, "status_code": 500}),
        ("comms", -280, {"action": "skip", "item": "update", "due_at": ts(-300), "note": hostile or ""}),
        ("notification", -250, {"channel": "slack", "ok": True, "purpose": "progress", "edited": True, "detail": "Slack webhook accepted (200)", "attempts": 1, "status_code": 200}),
    ]
    return [{"seq": 100 + i, "ts": ts(o), "actor": hostile or "alice@bastion", "type": t, **d} for i, (t, o, d) in enumerate(recs)]


def data_layer(hostile: str | None = None):
    """A data snapshot, a dry-run count and a finished invalidation (backends' own models)."""
    from pathlib import Path

    from backends.postgres.models import BackupInfo, LongTransaction, Migration, MigrationHistory
    from backends.redis.models import CountResult, InvalidateProgress
    from cockpit.controllers.data_layer import DataSnapshot

    h = hostile
    migs = MigrationHistory("alembic", "public.alembic_version", (
        Migration("alembic", h or "3f2a1b_add_payment_client", NOW - timedelta(minutes=11)),
        Migration("alembic", "9c0d17_retry_budget", NOW - timedelta(days=2)),
    ), 2)
    django = MigrationHistory("django", "public.django_migrations", (
        Migration("django", "orders.0042_refund_reason", NOW - timedelta(minutes=12), detail="app orders"),), 1)
    backups = (BackupInfo(Path("/var/lib/cockpit/backups/shop-20240501T120300Z.dump"), 48_312_004, "9f2c1e7b3a40d1e2" * 4,
                          database="shop", created=NOW - timedelta(minutes=12)),)
    long_tx = (LongTransaction(4242, 754.0, "idle in transaction", "app", h or "checkout-worker", "10.0.0.7",
                               h or "UPDATE orders SET status = 'refunded' WHERE id = $1"),
               LongTransaction(4250, 61.0, "active", "report", "metabase", "10.0.0.9", "SELECT count(*) FROM orders"))
    snap = DataSnapshot(T, (migs, django), backups, long_tx, {})
    count = CountResult("moshimoshi:*", 200_000, 400_000, 41, 0.41, (h or "moshimoshi:user:1", "moshimoshi:user:2"))
    progress = InvalidateProgress("moshimoshi:*", 42, 200_000, 200_000, 0.49, 400_000, done=True, remaining=0,
                                  dbsize_after=200_000)
    return snap, count, progress


def history(hostile: str | None = None) -> list[Revision]:
    h = hostile
    return [
        Revision(1, ("registry.example/shop/checkout:1.4.1",), h or "release 1.4.1 (PR #4411)", NOW - timedelta(days=6), "checkout-5659b4869f", "5659b4869f"),
        Revision(2, ("registry.example/shop/checkout:1.4.2",), "release 1.4.2: retry budget (PR #4470)", NOW - timedelta(days=2), "checkout-669c96c7cd", "669c96c7cd"),
        Revision(3, (h or "registry.example/shop/checkout:1.5.0",), "release 1.5.0: new payment client (PR #4502)", NOW - timedelta(minutes=10), "checkout-5b8947c7c9", "5b8947c7c9", live=True),
    ]


DIFF = TemplateDiff("live", "revision 2", (
    "--- live", "+++ revision 2", "@@ -4,7 +4,7 @@", "     app: checkout", " spec:", "   containers:",
    "-  - image: registry.example/shop/checkout:1.5.0", "+  - image: registry.example/shop/checkout:1.4.2",
    "     imagePullPolicy: IfNotPresent", "     name: checkout"))


def pods(hostile: str | None = None) -> tuple[PodInfo, ...]:
    out = []
    for i, (phase, ready, restarts, reason) in enumerate([("Running", True, 0, ""), ("Running", True, 0, ""),
                                                          ("Running", False, 3, "CrashLoopBackOff"), ("Pending", False, 0, "ContainerCreating")]):
        out.append(PodInfo(hostile if (hostile and i == 0) else f"checkout-5b8947c7c9-{'abcd'[i]}x{i}q", phase, ready, restarts, reason,
                           "registry.example/shop/checkout:1.5.0", "drill-node-1", NOW - timedelta(minutes=9)))
    return tuple(out)


def events(hostile: str | None = None) -> tuple[EventInfo, ...]:
    return (
        EventInfo("Normal", "ScalingReplicaSet", "deployment/checkout", "Scaled up replica set checkout-5b8947c7c9 to 4", 1, NOW - timedelta(minutes=9)),
        EventInfo("Warning", "BackOff", "pod/checkout-5b8947c7c9-cx2q", hostile or "Back-off restarting failed container", 5, NOW - timedelta(minutes=1)),
    )


def decision() -> Decision:
    sample = Sample(T, error_rate=0.301, p95_ms=412.0, crashes=3, health_ok=True, window_s=60.0)
    reasons = (Reason("error_rate", Verdict.ROLLBACK_NOW, "error rate 30.1% > 5% over 60s", 0.301, 0.05, 60.0),
               Reason("p95_ms", Verdict.OK, "p95 412ms < 500ms over 60s", 412.0, 500.0, 60.0))
    return Decision(T, Verdict.ROLLBACK_NOW, reasons, False, sample, Counters())


class StaticCockpit(CockpitApp):
    """The real screens over fixed data: no session, no polls, a frozen clock."""

    def __init__(self, screen: str = "dashboard", *, readonly: bool = False, hostile: str | None = None,
                 theme: str | None = None, ascii: bool = False) -> None:
        super().__init__(args(readonly=readonly, theme=theme, ascii=ascii))
        self.start_screen = screen
        self.hostile = hostile

    def setup(self) -> None:  # no session: render the fixture, start nothing
        from cockpit.checklist import Evidence, MetricPoint, Probe, evaluate
        from screens import SCREENS, screen_class

        h = self.hostile
        d = self.data
        d.now = T
        d.readonly = self.args.readonly
        d.observer_of = "/var/lib/cockpit/incidents/x.jsonl" if d.readonly else None
        d.targets = [DeploymentInfo("cart", "shop", 2, 2, 2, 2, 1, ("cart:3.1.0",)),
                     DeploymentInfo("checkout", "shop", 4, 4, 2, 2, 3, ("checkout:1.5.0",)),
                     DeploymentInfo(h or "api", "payments", 3, 3, 3, 3, 7, ("api:2.0",))]
        d.target = TARGET
        d.snapshot = Snapshot(TARGET, T, d.targets[1], pods(h), events(h),
                              RolloutProgress(4, 2, 2, 2, 5, True, False, False, "2 of 4 updated"))
        d.progress = d.snapshot.progress
        for i in range(900, 0, -5):
            at = T - i
            bad = i < 600
            d.error_rate.add(at, 0.30 if bad else 0.002)
            d.p95.add(at, 410.0 if bad else 130.0)
        d.decision = decision()
        d.metrics_note = ""
        d.stale = {"probe": T - 42}
        d.errors = {"probe": h or "health: connection refused"}
        d.history, d.history_for = history(h), TARGET
        d.diffs = {2: DIFF}
        d.state = replay(journal_records(h))
        from cockpit.comms import CommsPolicy

        d.records = [r for r in journal_records(h) if r["type"] != "log"] + comms_records(h)
        d.comms_policy, d.comms_channels = CommsPolicy(), ["slack"]
        d.data_pg, d.data_redis = "postgresql://app:***@db.internal:5432/shop", "redis://:***@cache.internal:6379/0  (cache.internal:6379/0)"
        d.redis_server, d.redis_db = "cache.internal:6379", 0
        d.data_snapshot, d.redis_count, d.redis_progress = data_layer(h)
        d.redis_log = ["12:14:01 dry run moshimoshi:*", "12:14:01 dry run: 200000 of 400000 keys match",
                       h or "12:14:09 matched 200000 deleted 200000 (412,000/s) — done, 0 still matching"]
        d.checklist_items = DEFAULT_CHECKLIST
        ev = Evidence(now=T, since=T - 400, progress=RolloutProgress(4, 4, 4, 4, 4, True, True),
                      pods=pods()[:2], probes=(Probe(T - 30, True), Probe(T - 20, True)), version="1.4.2",
                      expected=("1.4.2",), samples=tuple(MetricPoint(T - i, 0.002, 130.0) for i in range(30)))
        d.auto_results = evaluate(ev)
        d.auto_armed = True
        d.auto_remaining = 7.0
        d.auto_reason = "trigger: error rate 30.1% > 5% for 5 consecutive checks"
        self.live.auto.armed = True
        for name in SCREENS:
            self.install_screen(screen_class(name)(d), name)
        self.push_screen(self.start_screen)


def freeze_tz() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
