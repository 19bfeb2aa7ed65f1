"""``cockpit watch DEPLOYMENT``: live verdicts headless, and (armed) automatic rollback."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = """\
Prints one line per verdict change (ROLLBACK_NOW, CONSIDER, MONITOR, OK, INCONCLUSIVE) with
its reasons, each naming the value, the threshold and the window.

metrics sources:
  --source scrape      (default) scrape the service's /metrics directly; the URL is
                       --metrics-url, else the Service's `cockpit.drill/url` annotation
                       (metrics.scrape.annotation) + /metrics
  --source prometheus  query the Prometheus HTTP API at --prometheus-url
                       (metrics.prometheus.*; credentials only from config or
                       COCKPIT_METRICS__PROMETHEUS__PASSWORD / __TOKEN, never flags)
  --source apiproxy    scrape /metrics through the Kubernetes API server's proxy, with
                       nothing but your Kubernetes access: the Service selecting the
                       deployment's pods (prometheus.io/scrape|port|path annotations, else
                       its ports), else the pods. Also what `scrape` falls back to when it
                       has no URL.
  The health endpoint (/health, /version) of the same service is probed unless --no-probe,
  and pod restarts come from the Kubernetes API unless --no-crashes.

auto-rollback (--auto-rollback): when a trigger fires (3 failed health checks; < 70 % of
checks passed after >= 5; p95 > 5000 ms 3 times; errors > 5 % 5 times in a row) the trigger
is journaled, a countdown runs (Ctrl-C aborts, nothing changes), then the deployment is rolled
back to the last revision seen healthy (else the previous one), or --runbook is run; the watch
then stabilizes and verifies. Once per incident; never on inconclusive data; with --readonly
it only says what it would do.

one operator per target: before it acts, the armed watch takes the target's Lease
(cockpit-incident-DEPLOYMENT, the lock every cockpit honours); while an operator holds it the
watch says so and does not roll back.

a fleet (-l SELECTOR, with -n NS or -A): one watch per matching deployment, each judged on
its own; only those whose verdict triggers are rolled back. A selector that matches nothing
is exit 3, naming what was searched.

in the cluster, highly available (--leader-elect): replicas elect a leader with a Lease
(client-go's algorithm: acquire when expired, renew before --renew-deadline, release on
SIGTERM); every replica judges, only the leader journals and acts, and the incident it rolls
back is recorded on that Lease, so no replica rolls it back again. In-cluster configuration
(service-account token and CA, KUBERNETES_SERVICE_HOST/PORT) is used when no kubeconfig is
found. --health-port serves /healthz and /readyz for the probes. A watcher that loses the
API server stays up (INCONCLUSIVE; the leader stops leading after --renew-deadline) and
resumes when the API answers.
  cockpit watch --print-manifest [-n NS] [--image IMAGE] [DEPLOYMENT | -l SELECTOR] prints
  the ServiceAccount, least-privilege Role and RoleBinding and a two-replica Deployment of
  the watcher (without a target it watches -l cockpit.io/watch=true); `kubectl apply -f -`.

settings: defaults <- $XDG_CONFIG_HOME/cockpit/config.yaml <- COCKPIT_* env <- these flags
(see `cockpit config schema`).
"""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", parents=[common], help="watch a deployment's verdict live; optionally roll back by itself",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("deployment", nargs="?", help="the deployment to watch (or -l SELECTOR)")
    p.add_argument("-l", "--selector", metavar="SELECTOR",
                   help="watch every deployment matching this label selector, each on its own")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="with -l: match in every namespace")
    p.add_argument("--auto-rollback", action="store_true", help="arm automatic rollback when a trigger fires")
    p.add_argument("--interval", type=float, metavar="S", help="seconds between checks (watch.interval_s, default 5)")
    p.add_argument("--window", type=float, metavar="S", help="sliding window for rates and p95 (watch.window_s, default 60)")
    p.add_argument("--countdown", type=float, metavar="S", help="auto-rollback countdown (watch.countdown_s, default 10)")
    p.add_argument("--stabilization", type=float, metavar="S",
                   help="no judging for S seconds after a deploy or rollback (watch.stabilization_s, default 60)")
    p.add_argument("--runbook", type=Path, metavar="FILE", help="on a trigger, run this runbook instead of a plain rollback")
    p.add_argument("--source", choices=("scrape", "prometheus", "apiproxy"),
                   help="metrics source (metrics.source, default scrape; apiproxy: flag only)")
    p.add_argument("--prometheus-url", metavar="URL", help="Prometheus base URL (metrics.prometheus.url)")
    p.add_argument("--metrics-url", metavar="URL", help="/metrics URL to scrape (metrics.scrape.url)")
    p.add_argument("--health-url", metavar="URL", help="service base URL to probe /health and /version (default: discovered)")
    p.add_argument("--no-probe", action="store_true", help="do not probe /health and /version")
    p.add_argument("--no-crashes", action="store_true", help="do not count pod restarts")
    p.add_argument("--config", type=Path, metavar="FILE", help="config file (default: $XDG_CONFIG_HOME/cockpit/config.yaml)")
    p.add_argument("--rollback-config", type=Path, metavar="FILE",
                   help="a runbook's rollback-config.json (thresholds, interval, stabilization), over the config file")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--exit-when-verified", action="store_true",
                   help="exit 0 once a rollback is verified OK (exit 7 if it is not within watch.verify_timeout_s)")
    ha = p.add_argument_group("in the cluster (replicas, leader election, probes, manifest)")
    ha.add_argument("--leader-elect", action="store_true",
                    help="elect a leader among replicas with a Lease; only the leader journals and acts")
    ha.add_argument("--lease-name", metavar="NAME",
                    help="the leader-election Lease (default cockpit-watch-DEPLOYMENT, or cockpit-watch-l-HASH for -l)")
    ha.add_argument("--lease-namespace", metavar="NS", help="its namespace (default: the watched namespace)")
    ha.add_argument("--lease-duration", type=float, default=15.0, metavar="S",
                    help="how long a standby waits after the leader's last renewal before taking over (default 15)")
    ha.add_argument("--renew-deadline", type=float, default=10.0, metavar="S",
                    help="the leader stops leading if it could not renew for this long (default 10)")
    ha.add_argument("--retry-period", type=float, default=0.5, metavar="S",
                    help="how often candidates try and the leader renews (default 0.5: a standby takes over "
                         "within the lease duration + 2 x 1.2 x this after the leader dies)")
    ha.add_argument("--identity", metavar="ID", help="this replica's identity (default: $POD_NAME or the host, and a random suffix)")
    ha.add_argument("--health-port", type=int, metavar="PORT", help="serve /healthz and /readyz on this port")
    ha.add_argument("--print-manifest", action="store_true",
                    help="print the ServiceAccount, Role, RoleBinding and Deployment to run this watcher in the cluster")
    ha.add_argument("--image", metavar="IMAGE", help="with --print-manifest: the cockpit image (default rollback-cockpit:VERSION)")
    p.set_defaults(handler=cmd_watch)


def _overrides(args: argparse.Namespace) -> dict:
    from cockpit.config import deep_merge, import_rollback_config

    o: dict = {}
    if args.rollback_config is not None:
        o, notes = import_rollback_config(args.rollback_config)
    watch = {k: v for k, v in {"interval_s": args.interval, "window_s": args.window, "countdown_s": args.countdown,
                               "stabilization_s": args.stabilization}.items() if v is not None}
    metrics: dict = {}
    if args.source and args.source != "apiproxy":  # apiproxy is chosen in cmd_watch, not a setting
        metrics["source"] = args.source
    if args.prometheus_url:
        metrics["prometheus"] = {"url": args.prometheus_url}
        metrics.setdefault("source", "prometheus")
    if args.metrics_url:
        metrics["scrape"] = {"url": args.metrics_url}
    if args.no_probe:
        metrics["probe"] = {"enabled": False}
    if args.no_crashes:
        metrics["crashes"] = False
    return deep_merge(o, {k: v for k, v in {"watch": watch, "metrics": metrics}.items() if v})


def discover_service_url(backend: Any, namespace: str, name: str, annotation: str) -> str | None:
    """The Service's base URL from its annotation (the drill world sets ``cockpit.drill/url``)."""
    from urllib.parse import quote

    from cockpit.errors import CockpitError
    from cockpit.text import sanitize

    t = getattr(backend, "t", None)
    if t is None:
        return None
    try:
        svc = t.request("GET", f"/api/v1/namespaces/{quote(namespace)}/services/{quote(name)}")
    except CockpitError:
        return None
    url = ((svc.get("metadata") or {}).get("annotations") or {}).get(annotation)
    return sanitize(url, max_len=500) if url else None


def _apiproxy(backend: Any, target: Any, timeout: float) -> Any:
    """The deployment's /metrics through the API server's proxy; ConfigError (exit 2, naming
    the three ways to configure a source) when there is nothing to scrape."""
    from backends.metrics.apiproxy import HOW_TO_CONFIGURE, ApiProxySource, NoMetricsFound
    from cockpit.errors import CockpitError, ConfigError

    src = ApiProxySource(backend.t, target, timeout=timeout)
    try:
        src.discover()
    except NoMetricsFound as exc:
        raise ConfigError(exc.message, hint=HOW_TO_CONFIGURE) from None
    except CockpitError:
        pass  # the API did not answer now: found on the first check, a failed reading until then
    return src


def _check_flags(args: argparse.Namespace) -> None:
    """Combinations that cannot work, each one line (exit 2)."""
    from cockpit.errors import ConfigError

    if args.deployment and args.selector:
        raise ConfigError(f"name one deployment or -l SELECTOR, not both (got {args.deployment!r} and -l {args.selector!r})")
    if args.all_namespaces and not args.selector:
        raise ConfigError("-A (all namespaces) goes with -l SELECTOR")
    if not args.print_manifest and not args.deployment and not args.selector:
        raise ConfigError("name the DEPLOYMENT to watch, or -l SELECTOR for several")
    if args.selector:
        for flag, given in (("--journal", args.journal is not None), ("--metrics-url", bool(args.metrics_url)),
                            ("--health-url", bool(args.health_url)), ("--runbook", args.runbook is not None),
                            ("--exit-when-verified", args.exit_when_verified)):
            if given:
                raise ConfigError(f"{flag} is for one deployment; with -l each target has its own "
                                  "(journals under $XDG_STATE_HOME/cockpit/incidents)")
    if args.leader_elect and args.readonly:
        raise ConfigError("--leader-elect writes a Lease, which a --readonly watch never does; drop one")
    if args.print_manifest and args.all_namespaces:
        raise ConfigError("--print-manifest writes a namespaced Role: run one watcher per namespace (-n NS), not -A")
    if args.image and not args.print_manifest:
        raise ConfigError("--image goes with --print-manifest")
    if args.health_port is not None and not 0 <= args.health_port <= 65535:
        raise ConfigError(f"--health-port {args.health_port}: expected a port number 0-65535")
    from backends.kubernetes.leader import validate_timings

    validate_timings(args.lease_duration, args.renew_deadline, args.retry_period)


def _context(args: argparse.Namespace) -> str | None:
    ctx = getattr(args, "context", None)
    if isinstance(ctx, (list, tuple)):  # a repeatable --context: watch takes one
        from cockpit.errors import ConfigError

        if len(ctx) > 1:
            raise ConfigError("cockpit watch runs against one --context; start one watch per cluster")
        return ctx[0] if ctx else None
    return ctx


def print_manifest(args: argparse.Namespace) -> int:
    """``--print-manifest``: the objects to apply, with this command's target and settings."""
    from backends.kubernetes.manifest import DEFAULT_SELECTOR, HEALTH_PORT, RULE_WHY, render, watcher_manifest
    from cockpit import __version__

    namespace = args.namespace or "default"
    image = args.image or f"rollback-cockpit:{__version__}"
    target = [args.deployment] if args.deployment else ["-l", args.selector or DEFAULT_SELECTOR]
    flags: list[str] = ["-n", namespace, "--auto-rollback", "--leader-elect", "--health-port", str(HEALTH_PORT)]
    for flag, value in (("--interval", args.interval), ("--window", args.window), ("--countdown", args.countdown),
                        ("--stabilization", args.stabilization), ("--source", args.source),
                        ("--prometheus-url", args.prometheus_url), ("--lease-name", args.lease_name)):
        if value is not None:
            flags += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for flag, value, default in (("--lease-duration", args.lease_duration, 15.0),
                                 ("--renew-deadline", args.renew_deadline, 10.0),
                                 ("--retry-period", args.retry_period, 0.5)):
        if value != default:
            flags += [flag, f"{value:g}"]
    if args.no_probe:
        flags.append("--no-probe")
    if args.no_crashes:
        flags.append("--no-crashes")
    prometheus = bool(args.prometheus_url) or args.source == "prometheus"
    docs = watcher_manifest(namespace, image, target + flags, prometheus=prometheus)
    header = [f"cockpit watch in the cluster: {len(docs)} objects in namespace {namespace}.",
              "Apply with: kubectl apply -f <this file>    (kubectl -n %s logs deploy/cockpit-watch)" % namespace,
              f"It runs: cockpit watch {' '.join(target + flags)}",
              *([f"Label the deployments to watch: kubectl -n {namespace} label deploy NAME {DEFAULT_SELECTOR}"]
                if not (args.deployment or args.selector) else []),
              "The Role's rules, and why:", *[f"  - {w}" for w in RULE_WHY]]
    print(render(docs, header), end="")
    return 0


def match_deployments(backend: Any, selector: str, namespace: str | None) -> list[Any]:
    """The deployments matching ``selector`` (in ``namespace``, or all namespaces for None):
    ConfigError (exit 2) for a selector the API refuses, NotFoundError (exit 3) naming what was
    searched when none matches."""
    from urllib.parse import quote

    from cockpit.errors import CockpitError, ConfigError, NotFoundError
    from cockpit.model import Target
    from cockpit.text import sanitize

    path = f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments" if namespace else "/apis/apps/v1/deployments"
    try:
        doc = backend.t.request("GET", path, {"labelSelector": selector})
    except CockpitError as exc:
        if exc.title == "Rejected by the API server":
            raise ConfigError(f"-l {sanitize(selector, max_len=200)}: not a label selector the API accepts "
                              f"({exc.message})") from None
        raise
    out = []
    for d in doc.get("items") or []:
        meta = d.get("metadata") or {}
        out.append(Target(sanitize(meta.get("name", ""), max_len=253), sanitize(meta.get("namespace", ""), max_len=253)))
    if not out:
        where = f"namespace {namespace}" if namespace else "any namespace"
        raise NotFoundError(f"no deployment matches -l {sanitize(selector, max_len=200)} in {where}",
                            hint="kubectl get deploy --show-labels shows the labels there are")
    return sorted(out, key=lambda t: (t.namespace, t.name))


def _sources(backend: Any, target: Any, settings: Any, args: argparse.Namespace) -> list[Any]:
    from backends.metrics.crashes import CrashSource
    from backends.metrics.probe import ProbeSource
    from backends.metrics.prometheus import PrometheusClient, PrometheusSource
    from backends.metrics.scrape import ScrapeSource
    from cockpit.errors import ConfigError

    m = settings.metrics
    base = args.health_url or discover_service_url(backend, target.namespace, target.name, m.scrape.annotation)
    sources: list[Any] = []
    if args.source == "apiproxy" or (m.source != "prometheus" and not (m.scrape.url or base)):
        sources.append(_apiproxy(backend, target, m.scrape.timeout_s))
    elif m.source == "prometheus":
        p = m.prometheus
        client = PrometheusClient(p.url, timeout=p.timeout_s, username=p.username, password=p.password, token=p.token)
        sources.append(PrometheusSource(client, namespace=target.namespace, deployment=target.name,
                                        selector=p.selector, queries=p.queries))
    else:
        url = m.scrape.url or (base.rstrip("/") + "/metrics" if base else "")
        if not url:
            raise ConfigError(f"no /metrics URL for {target}",
                              hint=f"pass --metrics-url, annotate the Service with {m.scrape.annotation}, or use --source prometheus")
        sources.append(ScrapeSource(url, timeout=m.scrape.timeout_s))
    if m.probe.enabled and base:
        sources.append(ProbeSource(base, health_path=m.probe.health_path, version_path=m.probe.version_path,
                                   timeout=m.probe.timeout_s))
    if m.crashes:
        sources.append(CrashSource(backend, target, window_s=settings.decision.matrix.crashes.window_s))
    return sources


def _leadership(args: argparse.Namespace, backend: Any, namespace: str) -> Any:
    import os
    import socket
    import uuid

    from backends.kubernetes.leader import LeaderElector, WatchLeadership, lease_name_for

    identity = args.identity or f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    name = args.lease_name or lease_name_for(args.deployment, args.selector)
    elector = LeaderElector(backend.t, args.lease_namespace or namespace, name, identity,
                            lease_duration=args.lease_duration, renew_deadline=args.renew_deadline,
                            retry_period=args.retry_period, log=_log)
    return WatchLeadership(elector.start())


def _log(text: str) -> None:
    from cockpit.decision import clock
    import time

    print(f"{clock(time.time())} {text}", flush=True)


def _sleeper(cancel: Any, leadership: Any) -> Any:
    """The loop's sleep: cut short by SIGTERM (``cancel``) and, with replicas, the moment this
    replica becomes the leader (it acts on a trigger that stands without waiting an interval)."""
    import time

    if leadership is None:
        return cancel.wait

    def sleep(seconds: float) -> None:
        end = time.monotonic() + seconds
        was = leadership.is_leader()
        while not cancel.is_set():
            left = end - time.monotonic()
            if left <= 0 or (not was and leadership.is_leader()):
                return
            cancel.wait(min(left, 0.05))

    return sleep


def _target_lock(backend: Any) -> Any:
    """Takes the target's lock (its Lease; a host-wide lock file where Leases are forbidden)."""
    import sys

    from backends.kubernetes.lease import LeaseLocker
    from cockpit.journal import default_actor
    from cockpit.locks import acquire_target_lock
    from cockpit.text import sanitize

    locker = LeaseLocker(backend)

    def take(target: Any) -> Any:
        return acquire_target_lock(locker, target, actor=default_actor(), readonly=False,
                                   warn=lambda text: print(f"warning: {sanitize(text, max_len=1000)}",
                                                           file=sys.stderr, flush=True))

    return take


def cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from backends.kubernetes.backend import connect
    from cockpit.config import load_settings
    from cockpit.decision import Policy
    from cockpit.model import Target
    from cockpit.watch import Fleet, Watcher, use_color

    _check_flags(args)
    if args.print_manifest:
        return print_manifest(args)
    settings = load_settings(file=args.config, overrides=_overrides(args))
    backend = connect(args.kubeconfig, _context(args), args.namespace, readonly=args.readonly)
    namespace = None if args.all_namespaces else backend.namespace
    if args.selector:
        first = match_deployments(backend, args.selector, namespace)  # exit 2 or 3 before anything starts
    else:
        target = Target(args.deployment, backend.namespace)
        backend.deployment(target)  # NotFoundError early, with its hint
        first = [target]
    policy = Policy.from_settings(settings)
    import backends.kubernetes.steps  # noqa: F401 — the automatic rollback runs the kubernetes.rollback step

    cancel = threading.Event()
    leadership = _leadership(args, backend, backend.namespace) if args.leader_elect else None
    target_lock = _target_lock(backend) if args.auto_rollback and not args.readonly else None
    made: list[Watcher] = []

    def make(target: Any) -> Watcher:
        sources = _sources(backend, target, settings, args)
        journal_factory = None
        if not args.readonly:
            def journal_factory():  # noqa: ANN202 — opened on the first thing worth recording
                from cockpit.journal import Journal, default_journal_path

                return Journal.open(args.journal or default_journal_path(str(target)))

        runner = args.runbook_runner(args, target) if args.runbook is not None else None
        out = (lambda line: print(line, flush=True)) if not args.selector else \
            (lambda line, key=str(target): print(f"[{key}] {line}", flush=True))
        w = Watcher(target, sources, backend, policy, journal=journal_factory, auto_rollback=args.auto_rollback,
                    readonly=args.readonly, runbook_runner=runner, color=use_color(), out=out, cancel=cancel,
                    sleep=_sleeper(cancel, leadership), leadership=leadership, target_lock=target_lock)
        made.append(w)
        return w

    fleet = None
    if args.selector:
        listed = [first]

        def discover() -> list[Any]:  # the first listing is the one checked above
            return listed.pop() if listed else match_deployments(backend, args.selector, namespace)

        fleet = Fleet(discover, make, cancel=cancel)
    health = _health(args, made, leadership, policy) if args.health_port is not None else None

    def on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
        for w in made:
            w.stop_reason = "SIGTERM"
        if fleet is not None:
            fleet.stop_reason = "SIGTERM"
        cancel.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if fleet is not None:
            return fleet.run(duration=args.duration)
        watcher = make(first[0])
        if args.journal is not None and not args.readonly:
            watcher.open_journal(force=True)
        return watcher.run(duration=args.duration, exit_when_verified=args.exit_when_verified)
    finally:
        cancel.set()
        # the work the Lease guards has stopped: give it up now (a standby takes over at once)
        if leadership is not None:
            leadership.elector.stop(release=True)
        if health is not None:
            health.stop()
        for w in made:
            j = w.journal_obj
            if j is not None:
                print(("" if not args.selector else f"[{w.target}] ") + f"journal: {j.path}", flush=True)
                j.close()
            for s in w.sources:
                close = getattr(s, "close", None)
                if callable(close):
                    close()
        signal.signal(signal.SIGTERM, previous)


def _health(args: argparse.Namespace, watchers: list[Any], leadership: Any, policy: Any) -> Any:
    import time

    from backends.metrics.healthz import HealthServer

    started = time.monotonic()
    w_ = policy.watch
    # a tick may hold a countdown and a rollback's wait: the kubelet must not restart that
    stale_after = max(3 * w_.interval_s, 30.0) + w_.countdown_s + w_.verify_timeout_s + w_.stabilization_s

    def status() -> tuple[bool, bool, dict]:
        now = time.monotonic()
        ages = {str(w.target): (None if w.ticked_at is None else round(now - w.ticked_at, 1)) for w in list(watchers)}
        ready = bool(ages) and all(a is not None for a in ages.values())
        alive = all((now - started if a is None else a) < stale_after for a in ages.values())
        details = {"targets": ages}
        if leadership is not None:
            details.update(leader=leadership.is_leader(), holder=leadership.holder(), identity=leadership.identity)
        return alive, ready, details

    return HealthServer(args.health_port, status).start()
