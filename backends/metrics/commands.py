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

settings: defaults <- $XDG_CONFIG_HOME/cockpit/config.yaml <- COCKPIT_* env <- these flags
(see `cockpit config schema`).
"""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", parents=[common], help="watch a deployment's verdict live; optionally roll back by itself",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("deployment")
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


def cmd_watch(args: argparse.Namespace) -> int:
    from backends.kubernetes.backend import connect
    from backends.metrics.crashes import CrashSource
    from backends.metrics.probe import ProbeSource
    from backends.metrics.prometheus import PrometheusClient, PrometheusSource
    from backends.metrics.scrape import ScrapeSource
    from cockpit.config import load_settings
    from cockpit.decision import Policy
    from cockpit.errors import ConfigError
    from cockpit.model import Target
    from cockpit.watch import Watcher, use_color

    settings = load_settings(file=args.config, overrides=_overrides(args))
    backend = connect(args.kubeconfig, args.context, args.namespace, readonly=args.readonly)
    target = Target(args.deployment, backend.namespace)
    backend.deployment(target)  # NotFoundError early, with its hint
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

    journal_factory = None
    if not args.readonly:
        def journal_factory():  # noqa: ANN202 — opened on the first thing worth recording
            from cockpit.journal import Journal, default_journal_path

            return Journal.open(args.journal or default_journal_path(str(target)))

    runner = None
    if args.runbook is not None:  # built by the composition root, handed over with the parsed flags
        runner = args.runbook_runner(args, target)
    import backends.kubernetes.steps  # noqa: F401 — the automatic rollback runs the kubernetes.rollback step

    watcher = Watcher(target, sources, backend, Policy.from_settings(settings), journal=journal_factory,
                      auto_rollback=args.auto_rollback, readonly=args.readonly, runbook_runner=runner,
                      color=use_color())
    if args.journal is not None and not args.readonly:
        watcher.open_journal(force=True)
    try:
        code = watcher.run(duration=args.duration, exit_when_verified=args.exit_when_verified)
    finally:
        j = watcher.journal_obj
        if j is not None:
            print(f"journal: {j.path}", flush=True)
            j.close()
        for s in sources:
            close = getattr(s, "close", None)
            if callable(close):
                close()
    return code
