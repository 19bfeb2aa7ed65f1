"""The composition module: builds the backends once, for the CLI and the full-screen app alike.

A composition root (with :mod:`cockpit.cli` and :mod:`cockpit.app`): the one place that knows
which backend serves which port. Everything here imports its backend inside the function
that needs it, so importing this module costs nothing a headless command or the first frame
should not pay:

- :func:`start_drill_world` — the drill's simulated world, started from here only (``cockpit
  --drill`` calls it before Textual is imported, so the world boots on the other core);
- :func:`kube_backend` — the Kubernetes backend from a kubeconfig (or the drill's);
- :func:`build_session` — the app's :class:`cockpit.session.Session` over it;
- :func:`build_data_backends`, :func:`notifier_factory`, :func:`build_metrics` — the data
  panel's PostgreSQL and Redis, the notifier, the live verdict's engine and sources;
- :func:`load_step_kinds`, :func:`make_backends`, :func:`runbook_runner` — what runbooks need.

Readonly is decided here, below the UI: every backend is built readonly when asked.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError
from cockpit.model import Target

# ---------------------------------------------------------------------- settings

_NOT_SETTINGS = {"COCKPIT_DRILL_SPEED", "COCKPIT_DRILL_INPROCESS", "COCKPIT_KUBE_CLIENT", "COCKPIT_KUBE_TIMEOUT",
                 "COCKPIT_PG_BINDIR"}


def config_present(env: dict[str, str] | None = None) -> bool:
    """Is there any configuration to read: a config file or a ``COCKPIT_`` settings variable?

    Without any, the settings are the defaults, which every consumer here also assumes for
    ``settings=None`` — so pydantic (~0.3 s) is not imported at all. With some, they are loaded
    before the TUI starts, so a bad value is one clear line on stderr (file, key, expected)
    and not a modal.
    """
    env = dict(os.environ if env is None else env)
    if any(k.startswith("COCKPIT_") and k not in _NOT_SETTINGS for k in env):
        return True  # includes COCKPIT_CONFIG_FILE
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return (Path(base) / "cockpit" / "config.yaml").exists()  # cockpit.config.default_config_file


def app_settings() -> tuple[Any, dict[str, str]]:
    """The full-screen app's settings (None when there is no configuration) and its keymap."""
    if not config_present():
        return None, {}
    from cockpit.config import load_settings

    settings = load_settings()  # ConfigError: one line on stderr, exit 2 (cli.main)
    return settings, dict(getattr(getattr(settings, "ui", None), "keys", None) or {})


def notify_settings(settings: Any) -> Any:
    """The ``notify`` section: from the loaded settings, else defaults ← file ← env."""
    ns = getattr(settings, "notify", None)
    if ns is None:
        from cockpit.comms import load_notify_settings

        ns = load_notify_settings()
    return ns


# ---------------------------------------------------------------------- the drill world


def drill_speed() -> float:
    return float(os.environ.get("COCKPIT_DRILL_SPEED", "1") or 1)


def start_drill_world(args: argparse.Namespace, world_factory: Any = None) -> Any:
    """The drill's world for ``args.scenario``, started once (kept on ``args.drill_world``).

    By default a child process (:class:`cockpit.world.process.WorldProcess`), so its threads
    never share a GIL with the UI; ``world_factory(scenario, speed=)`` builds one in this
    process instead (tests). Returns at once; the caller waits with ``wait_ready()``.
    """
    world = getattr(args, "drill_world", None)
    if world is not None:
        return world
    scenario = getattr(args, "scenario", None) or "bad-image"
    if world_factory is not None:
        world = world_factory(scenario, speed=drill_speed()).start()
    else:
        from cockpit.journal import state_dir
        from cockpit.world.process import WorldProcess

        world = WorldProcess(scenario, speed=drill_speed(), home=state_dir() / "drills" / "worlds").start()
    args.drill_world = world
    return world


@dataclass(frozen=True)
class LeftDrill:
    """A drill incident a crashed cockpit left open, with the world it ran against, still up."""

    journal: Path
    world: dict
    description: str


def drill_left_behind() -> bool:
    """Cheap (a glob): is a crashed drill's world still running with its incident?"""
    from cockpit.journal import state_dir
    from cockpit.world.process import leftover_worlds

    return any(w.get("journal") for w in leftover_worlds(state_dir() / "drills" / "worlds"))


def drill_leftovers() -> list[LeftDrill]:
    """*Blocking (files, signals).* Drill incidents a crashed cockpit left open whose world still
    runs (offered for resume); every other open drill incident is closed as abandoned (it never
    blocks a later drill), and a left-over world no incident needs is stopped."""
    from cockpit.events import IncidentClosed
    from cockpit.journal import Journal, find_open_incidents, state_dir
    from cockpit.session import describe_incident
    from cockpit.world.process import leftover_worlds, stop_pid

    root = state_dir() / "drills"
    orphans = leftover_worlds(root / "worlds")
    by_journal = {str(Path(w["journal"])): w for w in orphans if w.get("journal")}
    claimed_by_running = {str(Path(j)) for j in _running_world_journals(root / "worlds")}
    out: list[LeftDrill] = []
    for path in find_open_incidents(root):
        world = by_journal.pop(str(path), None)
        if world is not None:
            out.append(LeftDrill(path, world, f"{describe_incident(path)} — drill {world['scenario']}, its world still running"))
        elif str(path) not in claimed_by_running:  # another cockpit's drill in progress is left alone
            with Journal.open(path) as j:
                j.write(IncidentClosed(reason="drill abandoned: its cockpit stopped and its world is gone"))
    for w in orphans:
        if not any(d.world is w for d in out):
            stop_pid(int(w["pid"]))
    return out


def _running_world_journals(home: Path) -> list[str]:
    import json

    out = []
    for info in home.glob("*/world.json") if home.is_dir() else ():
        try:
            j = json.loads(info.read_text(encoding="utf-8")).get("journal")
        except (OSError, ValueError):
            continue
        if j:
            out.append(j)
    return out


def adopt_drill(args: argparse.Namespace, left: LeftDrill) -> None:
    """Resume ``left`` against its own world: the session connects to it as the drill's world."""
    from cockpit.world.process import WorldProcess

    args.drill, args.scenario = True, left.world["scenario"]
    args.drill_world = WorldProcess.adopt(left.world)
    args.journal = str(left.journal)


def abandon_drill(left: LeftDrill) -> None:
    """The operator starts a new drill instead: the old one's incident is closed, its world stopped."""
    from cockpit.events import IncidentClosed
    from cockpit.journal import Journal
    from cockpit.world.process import stop_pid

    with Journal.open(left.journal) as j:
        j.write(IncidentClosed(reason="drill abandoned: a new drill was started instead of resuming it"))
    stop_pid(int(left.world["pid"]))


def drill_goal(world: Any) -> Target | None:
    """The deployment the drill is about: a world process names it when it is ready; an
    in-process world (tests) has its scenario (a pydantic import: call this in a worker)."""
    goal = getattr(world, "goal", None)
    if isinstance(goal, tuple):
        return Target(goal[1], goal[0])
    goal = getattr(getattr(world, "scenario", None), "goal", None)
    if goal is not None and goal.deployment:
        return Target(goal.deployment, goal.namespace)
    return None


# ---------------------------------------------------------------------- backends


def kube_backend(kubeconfig: str | None, context: str | None, namespace: str | None, *, readonly: bool) -> Any:
    """The Kubernetes backend (readonly refuses every write before a byte is sent)."""
    from backends.kubernetes.backend import connect

    return connect(kubeconfig, context, namespace, readonly=readonly)


def build_session(args: argparse.Namespace, world_factory: Any = None) -> tuple[Any, Any]:
    """``(session, world)``: the drill world (if asked, waited for) and the Kubernetes backend,
    built readonly when ``--readonly``. Blocking: call it in a worker."""
    import tempfile

    from cockpit.journal import state_dir
    from cockpit.session import Session

    kubeconfig, context = getattr(args, "kubeconfig", None), getattr(args, "context", None)
    readonly = bool(getattr(args, "readonly", False))
    drill = bool(getattr(args, "drill", False))
    world = goal = state_root = None
    if drill:
        world = start_drill_world(args, world_factory)
        if hasattr(world, "wait_ready"):
            world.wait_ready()
        kubeconfig = str(world.write_kubeconfig(Path(tempfile.mkdtemp(prefix="cockpit-drill-")) / "kubeconfig"))
        context, state_root, goal = None, state_dir() / "drills", drill_goal(world)
    try:
        backend = kube_backend(kubeconfig, context, getattr(args, "namespace", None), readonly=readonly)
    except CockpitError as exc:
        if not readonly or drill:
            raise
        backend, cluster_note = None, f"no cluster: {exc.title}: {exc.message}"  # an observer needs only the journal
    session = Session(backend=backend, readonly=readonly, journal_path=getattr(args, "journal", None), drill=drill,
                      state_root=state_root, drill_goal=goal, locker=None if readonly else target_locker(backend))
    session.cluster_note = "" if backend is not None else cluster_note
    session.kubeconfig = kubeconfig  # Helm's own code reaches the cluster (or the drill's world) through it
    return session, world


def drill_scenarios() -> list[tuple[str, str]]:
    """``(name, description)`` of every drill scenario (``--drill`` without ``--scenario``)."""
    from cockpit.world.scenario import list_scenarios, load_scenario

    return [(n, (load_scenario(n).description or "").strip()) for n in list_scenarios()]


def build_cockpit(args: argparse.Namespace, settings: Any, world_factory: Any = None) -> tuple[Any, Any, DataBackends]:
    """``(session, world, stores)`` for the full-screen app: :func:`build_session` and the data
    panel's stores (also handed to runbook steps through ``session.backends``). Blocking."""
    session, world = build_session(args, world_factory)
    stores = build_data_backends(settings, session.readonly)
    session.backends.update({k: v for k, v in (("postgres", stores.postgres), ("redis", stores.redis)) if v is not None})
    return session, world, stores


@dataclass
class DataBackends:
    """The data panel's stores from the ``data`` section (built readonly when the session is)."""

    postgres: Any = None
    redis: Any = None
    backups_dir: Path | None = None
    long_tx_older_than_s: float = 30.0
    errors: dict[str, str] = field(default_factory=dict)
    """``part → "Title: message"``: a bad DSN or URL is a note for the operator, not a failed start."""


def build_data_backends(settings: Any, readonly: bool) -> DataBackends:
    """PostgreSQL and Redis from the ``data`` section of ``settings`` (None: neither)."""
    from cockpit.journal import state_dir

    cfg = getattr(settings, "data", None)
    out = DataBackends()
    if cfg is None:
        return out
    out.backups_dir = cfg.backups_dir or state_dir() / "backups"
    out.long_tx_older_than_s = cfg.long_tx_older_than_s
    if cfg.postgres_dsn is not None:
        from backends.postgres.client import PostgresBackend

        try:
            out.postgres = PostgresBackend(cfg.postgres_dsn.get_secret_value(), readonly=readonly)
        except CockpitError as exc:
            out.errors["postgres"] = f"{exc.title}: {exc.message}"
    if cfg.redis_url is not None:
        from backends.redis.client import RedisBackend

        try:
            out.redis = RedisBackend(cfg.redis_url.get_secret_value(), readonly=readonly)
        except CockpitError as exc:
            out.errors["redis"] = f"{exc.title}: {exc.message}"
    return out


def mirror_store(url: str, readonly: bool) -> Any:
    """A journal mirror's store (PostgreSQL or Redis), built readonly for observers."""
    from backends.mirror import open_store

    return open_store(url, readonly)


def notifier_factory(settings: Any, readonly: bool, *, drill: bool = False) -> Any:
    """``journal → Notifier`` (built readonly when the session is: it refuses before rendering);
    in a drill the local outbox (messages shown and journaled, nothing sent)."""
    def make(journal: Any) -> Any:
        from backends.notify.outbox import make_notifier

        return make_notifier(notify_settings(settings), journal=journal, readonly=readonly, drill=drill)

    return make


def build_metrics(settings: Any, backend: Any, world: Any, target: Target) -> tuple[Any, list, str]:
    """``(engine, sources, note)`` for the live verdict of ``target`` (imports httpx: call it
    in a worker, after the first frame). A source that cannot be built leaves a note and an
    inconclusive verdict, never a crash."""
    from cockpit.decision import Engine, Policy

    engine = Engine(Policy.from_settings(settings) if settings is not None else Policy())
    sources: list = []
    mcfg = getattr(settings, "metrics", None)
    url = None
    if world is not None:
        try:
            url = world.service_url(target.namespace, target.name)
        except CockpitError:
            url = None
    elif mcfg is not None and mcfg.scrape.url:
        url = mcfg.scrape.url.rsplit("/metrics", 1)[0]
    prom = bool(mcfg is not None and mcfg.source == "prometheus" and mcfg.prometheus.url)
    t = getattr(backend, "t", None)  # a Kubernetes backend's transport
    proxy = bool(mcfg is not None and mcfg.source == "apiproxy")
    if proxy:
        url = None
    elif not url and not prom and t is not None:
        from backends.metrics.commands import discover_service_url

        url = discover_service_url(backend, target.namespace, target.name,
                                   mcfg.scrape.annotation if mcfg is not None else "cockpit.drill/url")
    note = ""
    try:
        if proxy or (not url and not prom):
            # asked for, or nothing configured: the deployment's /metrics through the API server's proxy
            from backends.metrics.apiproxy import HOW_TO_CONFIGURE_SETTINGS, ApiProxySource, NoMetricsFound

            if t is None:
                note = f"no metrics source for {target}; {HOW_TO_CONFIGURE_SETTINGS}"
            else:
                src = ApiProxySource(t, target)
                try:
                    src.discover()
                    sources.append(src)
                except NoMetricsFound as exc:
                    note = f"{exc.message}; {HOW_TO_CONFIGURE_SETTINGS}"
                except CockpitError:
                    sources.append(src)  # the API did not answer now: found on its first check
        if prom:
            from backends.metrics.prometheus import PrometheusClient, PrometheusSource

            p = mcfg.prometheus
            client = PrometheusClient(p.url, timeout=p.timeout_s, username=p.username, password=p.password, token=p.token)
            sources.append(PrometheusSource(client, namespace=target.namespace, deployment=target.name, selector=p.selector,
                                            queries=p.queries))
        elif url:
            from backends.metrics.scrape import ScrapeSource

            sources.append(ScrapeSource(url + "/metrics"))
        if url:
            from backends.metrics.probe import ProbeSource

            sources.append(ProbeSource(url))
        from backends.metrics.crashes import CrashSource

        sources.append(CrashSource(backend, target))
    except Exception as exc:  # noqa: BLE001 — a missing source makes the verdict inconclusive, not a crash
        return engine, sources, f"metrics: {type(exc).__name__}: {exc}"
    return engine, sources, note


# ---------------------------------------------------------------------- runbooks


def load_step_kinds() -> None:
    """Register every backend's runbook step kinds in the core's registry (idempotent).

    Costs ~0.4 s (pydantic models, httpx, psycopg glue): never on the path to the first
    frame; every path that parses a runbook calls it first."""
    import backends.exec  # noqa: F401  exec
    import backends.http  # noqa: F401  http
    import backends.kubernetes.steps  # noqa: F401  kubernetes.*
    import backends.git  # noqa: F401  git.tag|revert
    import backends.notify.steps  # noqa: F401  notify.slack|statuspage|webhook
    import backends.docker.steps  # noqa: F401  docker.rollback
    import backends.postgres.steps  # noqa: F401  postgres.*
    import backends.redis.steps  # noqa: F401  redis.*
    import backends.memcached.steps  # noqa: F401  memcached.flush
    import backends.helm.steps  # noqa: F401  helm.rollback|values_tag
    import backends.mysql.steps  # noqa: F401  mysql.*
    import backends.traffic.steps  # noqa: F401  traffic.shift|drain
    import backends.aws_lambda.steps  # noqa: F401  lambda.rollback|lambda.shift
    import backends.cdn.steps  # noqa: F401  cdn.purge
    import backends.flags.steps  # noqa: F401  flag.disable|flag.enable
    # Areas added by later issues register their step kinds here (one line each).


def make_backends(args: argparse.Namespace, kinds: set[str], target: Any = None) -> dict[str, Any]:
    """The backends a set of step kinds needs, built from the global flags."""
    backends: dict[str, Any] = {}
    readonly = bool(getattr(args, "readonly", False))
    if any(k.startswith("kubernetes.") for k in kinds) or "traffic.shift" in kinds or \
            (target is not None and target.kind == "deployment"):
        ns = getattr(args, "namespace", None) or (target.namespace if target is not None else None)
        backends["kubernetes"] = kube_backend(getattr(args, "kubeconfig", None), getattr(args, "context", None), ns,
                                              readonly=readonly)
    if any(k.startswith("docker.") for k in kinds) or (target is not None and target.kind == "container"):
        from backends.docker.client import DockerBackend

        backends["docker"] = DockerBackend(os.environ.get("DOCKER_HOST"), readonly=readonly)
    # Data stores: the step's own dsn/url wins; else the conventional environment variables.
    if any(k.startswith("postgres.") for k in kinds) and os.environ.get("DATABASE_URL"):
        backends["postgres"] = os.environ["DATABASE_URL"]
    if any(k.startswith("redis.") for k in kinds) and os.environ.get("REDIS_URL"):
        backends["redis"] = os.environ["REDIS_URL"]
    if any(k.startswith("mysql.") for k in kinds) and os.environ.get("MYSQL_URL"):
        backends["mysql"] = os.environ["MYSQL_URL"]
    return backends


def runbook_runner(args: argparse.Namespace, target: Target) -> Any:
    """``journal → RunResult``: runs the runbook at ``args.runbook`` for ``target`` through the
    executor, journaled into the caller's journal. The runbook is loaded and validated now,
    not when it is needed. (``cockpit watch --runbook``: handed to it with the parsed args.)"""
    from cockpit.runbook import load_runbook

    load_step_kinds()
    runbook = load_runbook(args.runbook)

    def run(journal: Any) -> Any:  # the caller's journal: one writer per file
        from cockpit.executor import Executor
        from cockpit.steps import StepContext

        ctx = StepContext(backends=make_backends(args, {s.kind for s in runbook.steps}, target),
                          log=lambda line: print(line, flush=True), readonly=bool(getattr(args, "readonly", False)),
                          namespace=target.namespace, target=target, journal=journal)
        return Executor(runbook, journal, ctx).run()

    return run


def target_locker(backend: Any) -> Any:
    """The platform's "one operator per target" lock: a Lease for a Kubernetes backend (a
    host-wide lock file where Leases are forbidden), None otherwise (the host-wide file)."""
    from backends.kubernetes.backend import KubeBackend

    if isinstance(backend, KubeBackend):
        from backends.kubernetes.lease import LeaseLocker

        return LeaseLocker(backend)
    return None


def lock_target(backends: dict[str, Any], target: Any, actor: str, *, readonly: bool = False) -> Any:
    """Take the lock on ``target`` for a headless command (a warning on stderr when it falls
    back to the host-wide file)."""
    import sys

    from cockpit.locks import acquire_target_lock

    locker = target_locker(backends.get("kubernetes")) if getattr(target, "kind", "") == "deployment" else None
    return acquire_target_lock(locker, target, actor=actor, readonly=readonly,
                               warn=lambda text: print(f"warning: {text}", file=sys.stderr, flush=True))


def fleet_source(session: Any) -> Any:
    """The full-screen app's :class:`cockpit.fleet.FleetSource`: the session's own Kubernetes
    backend as its one context (the target list is that context's deployments)."""
    from backends.kubernetes.backend import KubeBackend
    from backends.kubernetes.clusters import KubeFleet

    backend = getattr(session, "backend", None)
    if not isinstance(backend, KubeBackend):
        raise CockpitError("a fleet rollback needs the cluster, and this session has none", title="No cluster")
    return KubeFleet({backend.context or "default": backend})


def helm_release_of(session: Any, target: Any) -> Any:
    """*Thread.* ``(release, namespace)`` when ``target``'s deployment belongs to a Helm release."""
    if session is None or session.backend is None:
        return None
    from backends.helm.releases import release_of

    return release_of(session.backend.get_deployment(target))


def helm_history(session: Any, release: str, namespace: str) -> Any:
    """*Thread.* The release's revisions, read from the cluster (no helm binary)."""
    from backends.helm.releases import HelmReleases

    return HelmReleases(session.backend.t, namespace).history(release, namespace)


def helm_diff(session: Any, release: str, namespace: str, revision: int) -> Any:
    """*Thread.* ``revision``'s values and manifest diff against the deployed revision."""
    from backends.helm.releases import HelmReleases, diff

    return diff(HelmReleases(session.backend.t, namespace).history(release, namespace), revision)


def wire_controllers(app: Any, settings: Any, readonly: bool) -> None:
    """The full-screen app's controllers (Textual-free, :mod:`cockpit.controllers`), wired to
    each other, to the settings and to the backends' builders; the app hosts them."""
    from cockpit.controllers.answers import AnswersController
    from cockpit.controllers.checklist import ChecklistRunner
    from cockpit.controllers.cluster import ClusterView
    from cockpit.controllers.comms import CommsController
    from cockpit.controllers.data_layer import DataLayer
    from cockpit.controllers.drill import DrillScorer
    from cockpit.controllers.fleet import FleetController
    from cockpit.controllers.incident import Incident
    from cockpit.controllers.live import LiveController
    from cockpit.controllers.report import ReportWriter

    watch = getattr(settings, "watch", None)
    window_s = getattr(watch, "window_s", 60.0)
    app.incident = Incident(app, app.data, app.session, on_verify=lambda: app.live.stabilize_next(),
                            on_target=app._show_target, on_opened=app._opened,
                            open_store=mirror_store)
    app.live = LiveController(app, app.data, window_s=window_s,
                               build=lambda t: app.answers.built(t, build_metrics(settings, app.session.backend, app.world, t)),
                               countdown_s=getattr(watch, "countdown_s", 10.0), roll_back=app.start_rollback,
                               record_if_open=app.incident.record_if_open,
                               incident=lambda t: app.incident.open_for(t, "automatic rollback"), history=lambda t: app.session.history(t),
                               journal_samples_s=getattr(watch, "journal_samples_s", 10.0),
                               note=lambda t: getattr(app.session.backend, "rollback_note", lambda _t: None)(t))
    app.answers = AnswersController(app, app.data, app.incident, app.live)
    app.checklist = ChecklistRunner(app, app.data, app.incident, app.live, window_s=window_s)
    app.cluster = ClusterView(app, app.data, app.live, app.checklist)
    app.comms = CommsController(app, app.data, app.incident, load_settings=lambda: notify_settings(settings),
                                notifier_factory=notifier_factory(settings, readonly, drill=bool(app.data.drill)))
    app.drill = DrillScorer(app, app.data, app.incident, show=app.show_score)
    app.datalayer = DataLayer(app, app.data, app.incident, DataBackends(), live=app.live)
    app.reports = ReportWriter(app.incident)
    app.fleet = FleetController(app, app.data, lambda: app.session, readonly=readonly, window_s=window_s,
                                build=lambda t: build_metrics(settings, app.session.backend, app.world, t),
                                source_factory=lambda: fleet_source(app.session), prepare=load_step_kinds,
                                ask=app.ask_fleet, show=app.show_fleet)
    from cockpit.controllers.helm import HelmController

    app.helm = HelmController(app, app.data, app.incident, release_of=lambda t: helm_release_of(app.session, t),
                              history=lambda rel, ns: helm_history(app.session, rel, ns),
                              diff=lambda rel, ns, rev: helm_diff(app.session, rel, ns, rev),
                              access=lambda: {"kubeconfig": getattr(app.session, "kubeconfig", None)
                                              or getattr(app.args, "kubeconfig", None),
                                              "context": getattr(app.args, "context", None)},
                              prepare=load_step_kinds, readonly=readonly)
