"""``cockpit traffic show|set|shift|abort|drain``: gradual traffic shifting, headless.

The balancer is HAProxy with ``--haproxy SOCKET`` (its admin socket), else the Gateway API
(``ROUTE`` is an HTTPRoute in ``-n NS``, through the kubeconfig). ``shift`` is
:func:`cockpit.traffic.run_shift`: each weight change an fsynced intent and its outcome in the
journal (``--journal``, default a new one under the state directory); ctrl+c or ``abort``
puts the split back where the shift started; ``--resume`` continues the open shift of that
route after its last confirmed step. When the verdict for ``--to`` gets worse the shift asks
(on a terminal) or does ``--on-worse`` (default ``pause``: stop there, exit 7).

Exit codes: 0 done (or stopped healthy), 2 bad input (weights that do not add up, steps out
of 0–100), 3 no such route or backend, 4 the balancer does not answer, 5 readonly, 7 paused,
130 aborted (the split put back).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    traffic = sub.add_parser("traffic", parents=[common], help="gradual traffic shifting (HAProxy, Gateway API)")
    tsub = traffic.add_subparsers(dest="traffic_command", metavar="ACTION", required=True)
    lb = argparse.ArgumentParser(add_help=False)
    lb.add_argument("--haproxy", metavar="SOCKET",
                    help="HAProxy's admin socket (path or HOST:PORT; ROUTE is a backend); default: the Gateway API "
                         "(ROUTE is an HTTPRoute in -n NS)")

    show = tsub.add_parser("show", parents=[common, lb], help="the route's backends, weights and share of traffic")
    show.add_argument("route")
    show.set_defaults(handler=_show)

    st = tsub.add_parser("set", parents=[common, lb], help="set the split at once (percentages adding up to 100)")
    st.add_argument("route")
    st.add_argument("weights", nargs="+", metavar="NAME=PCT")
    st.set_defaults(handler=_set)

    sh = tsub.add_parser("shift", parents=[common, lb], help="move traffic onto --to in steps, judging after each hold")
    sh.add_argument("route")
    sh.add_argument("--to", metavar="BACKEND", help="the backend that keeps the traffic (the old version)")
    sh.add_argument("--steps", default="90,70,50,25,0", metavar="PCTS",
                    help="the %% left on the other backends at each step (default 90,70,50,25,0)")
    sh.add_argument("--hold", default="60s", metavar="DURATION", help="hold after each step before judging (default 60s)")
    sh.add_argument("--stop-when-healthy", action="store_true", help="stop at the first step whose verdict is OK")
    sh.add_argument("--on-worse", choices=("ask", "pause", "abort", "continue"), default="ask",
                    help="when the verdict gets worse: ask on a terminal (else pause), pause, abort or continue")
    sh.add_argument("--resume", action="store_true", help="continue the open shift of ROUTE (from --journal or the latest)")
    sh.set_defaults(handler=_shift)

    ab = tsub.add_parser("abort", parents=[common, lb], help="put the split of ROUTE's open shift back where it started")
    ab.add_argument("route")
    ab.set_defaults(handler=_abort)

    dr = tsub.add_parser("drain", parents=[common, lb], help="HAProxy: take a server out (drain|maint) or put it back (ready)")
    dr.add_argument("route")
    dr.add_argument("server")
    dr.add_argument("--state", choices=("drain", "maint", "ready"), default="drain")
    dr.set_defaults(handler=_drain)


def _port(args: argparse.Namespace) -> Any:
    readonly = bool(getattr(args, "readonly", False))
    if args.haproxy:
        from backends.traffic.haproxy import HAProxyTraffic

        return HAProxyTraffic(args.haproxy, readonly=readonly)
    from backends.kubernetes.backend import connect
    from backends.traffic.gateway import GatewayTraffic

    kb = connect(getattr(args, "kubeconfig", None), getattr(args, "context", None),
                 getattr(args, "namespace", None), readonly=readonly)
    return GatewayTraffic(kb.t, kb.namespace, readonly=readonly)


def _print_split(args: argparse.Namespace, route: str, weights: dict[str, int], extra: dict | None = None) -> None:
    from cockpit.output import emit
    from cockpit.traffic import percentages

    pct = percentages(weights)
    emit(args, {"route": route, "weights": weights, **(extra or {})}, ["BACKEND", "WEIGHT", "SHARE"],
         [(k, v, f"{pct[k]:.0f}%") for k, v in weights.items()])


def _show(args: argparse.Namespace) -> int:
    port = _port(args)
    weights = port.get_weights(args.route)
    extra = {}
    if hasattr(port, "states"):
        extra["states"] = port.states(args.route)
    _print_split(args, args.route, weights, extra)
    return 0


def _journal(args: argparse.Namespace, route: str, *, pending: bool = False) -> Any:
    from cockpit.journal import Journal, default_journal_path, read_journal, state_dir
    from cockpit.traffic import pending_shift

    if args.journal:
        return Journal.open(args.journal)
    if pending:
        paths = sorted((state_dir() / "incidents").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)[-50:]
        for path in reversed(paths):
            try:
                if b"traffic.shift" in path.read_bytes() and pending_shift(read_journal(path), route):
                    return Journal.open(path)
            except OSError:
                continue
        return None
    return Journal.open(default_journal_path(f"traffic-{route}"))


def _say(line: str) -> None:
    from cockpit.text import sanitize

    print(sanitize(line), file=sys.stderr, flush=True)


def _set(args: argparse.Namespace) -> int:
    from cockpit.errors import ReadonlyError
    from cockpit.text import sanitize
    from cockpit.traffic import WEIGHTS, check_backends, parse_weights

    weights = parse_weights(args.weights)
    port = _port(args)
    if port.readonly:
        raise ReadonlyError(f"readonly: not changing the weights of {sanitize(args.route)} (nothing was sent)")
    before = port.get_weights(args.route)
    check_backends(args.route, before, list(weights))
    journal = _journal(args, args.route)
    try:
        with journal.action(WEIGHTS, route=args.route, weights=weights, previous=before) as act:
            now = port.set_weights(args.route, weights)
            act.result = {"weights": now}
    finally:
        journal.close()
    _print_split(args, args.route, now)
    return 0


def _ask(report: Any, now: Any, before: Any) -> str:
    print(f"verdict got worse after step {report.index + 1}: {before.verdict.value} -> {now.verdict.value} "
          f"({now.text}). [c]ontinue, [p]ause here, [a]bort and put the split back? ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()[:1]
    return {"c": "continue", "a": "abort"}.get(answer, "pause")


def _shift(args: argparse.Namespace) -> int:
    from cockpit.durations import parse_duration
    from cockpit.errors import Aborted, ConfigError, NotFoundError, ReadonlyError, RolloutFailed
    from cockpit.text import sanitize
    from cockpit.traffic import (CountsJudge, HasErrorCounts, fmt_split, make_plan, parse_steps, pending_shift,
                                 plan_from_intent, run_shift)

    port = _port(args)
    if port.readonly:
        raise ReadonlyError(f"readonly: not shifting the traffic of {sanitize(args.route)} (nothing was sent)")
    if args.resume:
        journal = _journal(args, args.route, pending=True)
        rec = pending_shift(journal.read(), args.route) if journal is not None else None
        if rec is None:
            raise NotFoundError(f"no open shift of {sanitize(args.route)} to resume", hint="pass --journal PATH")
        plan = plan_from_intent(rec)
    else:
        if not args.to:
            raise ConfigError("traffic shift: --to BACKEND is required (the backend that keeps the traffic)")
        steps = parse_steps(args.steps)
        hold = parse_duration(args.hold, allow_zero=True)
        plan = make_plan(port, args.route, args.to, steps, hold, stop_when_healthy=args.stop_when_healthy)
        journal = _journal(args, args.route)
    judge = CountsJudge(port, plan.route, plan.to) if isinstance(port, HasErrorCounts) else None
    if judge is None:
        _say(f"no per-backend counts for {plan.route}: holding without a verdict")
    on_worse = args.on_worse
    if on_worse == "ask" and not sys.stdin.isatty():
        on_worse = "pause"
    decide = _ask if on_worse == "ask" else (lambda *a: on_worse)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *a: cancel.set()) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        result = run_shift(port, plan, journal, judge=judge, on_worse=decide, cancel=cancel, log=_say,
                           resume=args.resume)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        journal.close()
    from backends.traffic.steps import report
    from cockpit.output import emit

    if getattr(args, "output", "text") == "json":
        emit(args, report(result))
    else:
        print(f"{result.status}: {sanitize(plan.route)} {fmt_split(result.weights)}"
              + (f" ({sanitize(result.reason)})" if result.reason else ""))
    _say(f"journal: {journal.path}")
    if result.status == "paused":
        raise RolloutFailed(f"{result.reason}; traffic left at {fmt_split(result.weights)}", title="Paused",
                            hint=f"`cockpit traffic shift {plan.route} --resume` continues, "
                                 f"`cockpit traffic abort {plan.route}` puts the split back")
    if result.status == "aborted":
        raise Aborted(f"{result.reason}; split put back to {fmt_split(result.weights)}")
    return 0


def _abort(args: argparse.Namespace) -> int:
    from cockpit.errors import NotFoundError, ReadonlyError
    from cockpit.text import sanitize
    from cockpit.traffic import abort_pending

    port = _port(args)
    if port.readonly:
        raise ReadonlyError(f"readonly: not putting back the split of {sanitize(args.route)} (nothing was sent)")
    journal = _journal(args, args.route, pending=True)
    result = abort_pending(port, journal, args.route, log=_say) if journal is not None else None
    if journal is not None:
        journal.close()
    if result is None:
        raise NotFoundError(f"no open shift of {sanitize(args.route)} to abort", hint="pass --journal PATH")
    _print_split(args, args.route, result.weights)
    return 0


def _drain(args: argparse.Namespace) -> int:
    from cockpit.errors import ConfigError
    from cockpit.traffic import CanDrain

    port = _port(args)
    if not isinstance(port, CanDrain):
        raise ConfigError("traffic drain: only HAProxy servers can be drained (pass --haproxy SOCKET)")
    if port.readonly:
        from cockpit.errors import ReadonlyError
        from cockpit.text import sanitize

        raise ReadonlyError(f"readonly: not setting {sanitize(args.route)}/{sanitize(args.server)} to {args.state} "
                            "(nothing was sent)")
    journal = _journal(args, args.route)
    try:
        with journal.action("traffic.state", route=args.route, server=args.server, state=args.state):
            port.set_state(args.route, args.server, args.state)
    finally:
        journal.close()
    _show(args)
    return 0
