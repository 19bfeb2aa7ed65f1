"""Headless Lambda commands: ``cockpit lambda versions FUNCTION`` and
``cockpit lambda rollback FUNCTION --alias ALIAS [--to-version N] [--steps … --hold …] [--yes]``.

The rollback reads the alias and the published versions, chooses the version (see
:mod:`backends.aws_lambda.plan`), writes an fsynced intent, sends ``UpdateAlias`` and writes
the outcome. Run again after a crash, it reconciles the journal's pending intent from the
alias's state first: the alias already there means nothing is sent. ``--steps``/``--hold``
move the alias's routing weights gradually with the shared shift of :mod:`cockpit.traffic`.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    lam = sub.add_parser("lambda", parents=[common], help="AWS Lambda aliases: versions, rollback (also gradual)")
    lsub = lam.add_subparsers(dest="lambda_command", metavar="ACTION", required=True)

    def aws_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("function", metavar="FUNCTION", help="the function's name or ARN")
        p.add_argument("--region", default=None, help="AWS region (default: boto3's: AWS_REGION, the profile's)")
        p.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE, else default)")
        p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or None, metavar="URL",
                       help="Lambda API endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL)")

    v = lsub.add_parser("versions", parents=[common], help="published versions and which aliases point where")
    aws_args(v)
    v.set_defaults(handler=_versions)

    r = lsub.add_parser("rollback", parents=[common], help="point an alias back at the previous (or a given) version")
    aws_args(r)
    r.add_argument("--alias", required=True, help="the alias to move (e.g. live)")
    r.add_argument("--to-version", default=None, metavar="N",
                   help="the version to roll back to (default: the one the alias pointed at before)")
    r.add_argument("--steps", default=None, metavar="PCTS",
                   help="gradual: %% left on the current version at each step, e.g. 90,70,50,25,0")
    r.add_argument("--hold", default="60s", help="with --steps: how long each step holds (default 60s)")
    r.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    r.set_defaults(handler=_rollback)


def _backend(args: argparse.Namespace) -> Any:
    from backends.aws_lambda.client import LambdaBackend

    return LambdaBackend(region=args.region, endpoint_url=args.endpoint_url, profile=args.profile,
                         readonly=bool(getattr(args, "readonly", False)))


def _say(line: str) -> None:
    from cockpit.text import sanitize

    print(sanitize(line), file=sys.stderr, flush=True)


def _versions(args: argparse.Namespace) -> int:
    from cockpit.output import emit
    from cockpit.text import sanitize

    b = _backend(args)
    versions = b.versions(args.function)
    aliases = b.aliases(args.function)
    pointing: dict[str, list[str]] = {}
    for a in aliases:
        for ver, pct in a.split().items():
            pointing.setdefault(ver, []).append(f"{a.name}" + ("" if pct == 100 else f" {pct}%"))
    rows = [[v.version, v.description, v.code_sha256, v.last_modified, ", ".join(pointing.get(v.version, []))]
            for v in reversed(versions)]
    emit(args, {"function": sanitize(args.function),
                "versions": [{"version": v.version, "description": v.description, "code_sha256": v.code_sha256,
                              "last_modified": v.last_modified} for v in versions],
                "aliases": [{"name": a.name, "version": a.version, "weights": a.split(),
                             "revision_id": a.revision_id} for a in aliases]},
         ["VERSION", "DESCRIPTION", "CODE SHA256", "LAST MODIFIED", "ALIASES"], rows)
    return 0


def _records(args: argparse.Namespace, function: str, alias: str) -> tuple[Any, list[dict]]:
    """(the journal path to write, its records): ``--journal``, else the latest incident
    journal that mentions this alias's lambda actions, else a new one."""
    from backends.aws_lambda import plan as lp
    from cockpit.journal import default_journal_path, read_journal, state_dir

    if args.journal:
        path = args.journal
        try:
            return path, read_journal(path)
        except Exception:  # noqa: BLE001 — a new or unreadable file: Journal.open says which
            return path, []
    paths = sorted((state_dir() / "incidents").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)[-50:]
    for path in reversed(paths):
        try:
            data = path.read_bytes()
            if b"lambda." in data and function.encode() in data:
                records = read_journal(path)
                if lp.last_outcome(records, function, alias) or any(
                        lp.pending(records, function, alias, k) for k in lp.KINDS):
                    return path, records
        except Exception:  # noqa: BLE001
            continue
    return default_journal_path(f"lambda-{function}-{alias}"), []


def _confirm(args: argparse.Namespace, text: str) -> None:
    from cockpit.prompt import confirm

    if not args.yes:
        confirm(text, no_terminal=f"not confirmed: {text}", hint="pass --yes", declined="nothing sent", suffix="? [y/N] ")


def _rollback(args: argparse.Namespace) -> int:
    from backends.aws_lambda import plan as lp
    from backends.aws_lambda.steps import shift_plan
    from cockpit.durations import parse_duration
    from cockpit.errors import ReadonlyError, RolloutFailed
    from cockpit.journal import Journal, read_journal
    from cockpit.output import emit
    from cockpit.text import sanitize
    from cockpit.traffic import fmt_split, parse_steps, plan_from_intent

    fn, name = args.function, args.alias
    steps = parse_steps(args.steps) if args.steps else None
    hold = parse_duration(args.hold, allow_zero=True) if steps else 0.0
    b = _backend(args)
    if b.readonly:
        raise ReadonlyError(f"readonly: not moving alias {sanitize(name)} of {sanitize(fn)} (nothing was sent)")
    alias = b.alias(fn, name)  # NotFound lists the functions or the aliases
    versions = b.versions(fn)
    path, records = _records(args, fn, name)

    # 1. reconcile an interrupted rollback first
    rec = lp.pending(records, fn, name, lp.ROLLBACK)
    shift_rec = lp.pending(records, fn, name, lp.SHIFT)
    if rec is not None or shift_rec is not None:
        with Journal.open(path) as journal:
            if rec is not None:
                done = lp.took_effect(b, rec)
                if done is not None:
                    journal.outcome(rec["id"], True, resumed=True, result=done)
                    _say(f"the interrupted rollback had taken effect: {fn}:{name} at version {done['to_version']} "
                         "— nothing sent")
                    emit(args, {**done, "sent": False}, ["FUNCTION", "ALIAS", "VERSION", "SENT"],
                         [[sanitize(fn), sanitize(name), done["to_version"], "no (reconciled)"]])
                    return 0
                journal.outcome(rec["id"], False, resumed=True, superseded=True, error_title="Not applied",
                                error_message="the alias had not moved; rolling back again")
            if shift_rec is not None and not args.to_version:
                return _run_shift(args, b, journal, plan_from_intent(shift_rec), shift_rec["id"], resume=True)
        records = read_journal(path)  # with the superseded intent closed

    choice = lp.choose_target(b, fn, alias, versions, records, args.to_version)
    if choice.already:
        print(f"{sanitize(fn)}:{sanitize(name)} {choice.why} — nothing to do")
        return 0
    if not steps and alias.version == choice.to_version and alias.plain:
        print(f"{sanitize(fn)}:{sanitize(name)} already points at version {choice.to_version} — nothing to do")
        return 0
    _say(f"{fn}:{name} is at {fmt_split(alias.split())}; rolling back to {choice.why}")
    what = (f"move alias {name} of {fn} from {alias.version} to {choice.to_version}"
            + (f" in steps {','.join(map(str, steps))} holding {hold:g}s" if steps else ""))
    _confirm(args, what)
    with Journal.open(path) as journal:
        if steps:
            data = shift_plan(b, fn, alias, choice, steps, hold)
            intent_id = journal.intent(lp.SHIFT, **data)
            return _run_shift(args, b, journal, plan_from_intent(data), intent_id, resume=False)
        with journal.action(lp.ROLLBACK, **lp.intent_data(fn, alias, choice)) as act:
            now = b.set_alias(fn, name, choice.to_version, {})
            act.result = {"function": fn, "alias": now.name, "from_version": alias.version, "to_version": now.version}
    _say(f"journal: {path}")
    emit(args, {"function": sanitize(fn), "alias": now.name, "from_version": alias.version,
                "to_version": now.version, "sent": True, "why": choice.why},
         ["FUNCTION", "ALIAS", "FROM", "TO"], [[sanitize(fn), now.name, alias.version, now.version]])
    if now.version != choice.to_version:
        raise RolloutFailed(f"alias {now.name} reads back version {now.version}, not {choice.to_version}")
    return 0


def _run_shift(args: argparse.Namespace, b: Any, journal: Any, plan: Any, intent_id: str, *, resume: bool) -> int:
    from backends.aws_lambda.client import AliasTraffic
    from backends.aws_lambda.steps import shift_result
    from cockpit.errors import Aborted, RolloutFailed
    from cockpit.output import emit
    from cockpit.text import sanitize
    from cockpit.traffic import fmt_split, run_shift

    port = AliasTraffic(b, args.function, include=[*plan.start, plan.to])
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *a: cancel.set()) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        result = run_shift(port, plan, journal, cancel=cancel, log=_say, resume=resume, own_intent=False)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    ok = result.status == "done"
    journal.outcome(intent_id, ok, result={**shift_result(result), "function": args.function},
                    **({} if ok else {"error_title": result.status.capitalize(), "error_message": result.reason}))
    _say(f"journal: {journal.path}")
    if getattr(args, "output", "text") == "json":
        emit(args, {**shift_result(result), "function": sanitize(args.function)})
    else:
        print(f"{result.status}: {sanitize(args.function)}:{sanitize(plan.route)} {fmt_split(result.weights)}")
    if result.status == "aborted":
        raise Aborted(f"{result.reason}; alias put back to {fmt_split(result.weights)}")
    if result.status == "paused":
        raise RolloutFailed(f"{result.reason}; alias left at {fmt_split(result.weights)}", title="Paused")
    return 0
