"""Headless Kubernetes commands: ``history``, ``rollback``, ``status``.

Cheap to import: the backend is imported inside the handlers.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

from cockpit.errors import RolloutFailed
from cockpit.output import age, emit, print_json, table
from cockpit.prompt import confirm
from cockpit.text import sanitize


REVISION_MAX = 2**63 - 1  # revisions are int64 annotations


def revision_number(text: str) -> int:
    """An argparse type: a revision number, ``0`` meaning the previous revision (as kubectl).
    ``abc``, ``1e9`` or ``-1`` is a one-line usage error naming the expected form."""
    value = text.strip()
    if not value.isascii() or not value.isdigit() or int(value) > REVISION_MAX:
        from cockpit.text import sanitize

        raise argparse.ArgumentTypeError(
            f"expected a revision number such as 3 (0: the previous revision), got {sanitize(text, max_len=40)!r}")
    return int(value)


def _positive_int(text: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 1000:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 1000, got {sanitize(text, max_len=40)!r}")
    return int(value)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("history", parents=[common], help="rollout history of a deployment")
    p.add_argument("deployment")
    p.add_argument("--revision", type=revision_number, metavar="N",
                   help="show revision N's pod template diff against the live one")
    p.set_defaults(handler=cmd_history)

    # --context may be given several times here (a fleet across clusters): a private copy of the
    # global flags, so the shared parser's --context is left as it is for the other commands
    p = sub.add_parser("rollback", parents=[copy.deepcopy(common)], conflict_handler="resolve",
                       help="roll a deployment back (as kubectl rollout undo), or a fleet of them (-l, names, contexts)")
    p.add_argument("deployment", nargs="*", metavar="NAME",
                   help="deployment(s); several names, -l, -A or several --context make a fleet rollback")
    p.add_argument("--context", metavar="NAME", action="append", default=argparse.SUPPRESS,
                   help="kubeconfig context (default: the current one); repeat it to roll back across clusters")
    fleet = p.add_argument_group("fleet rollback")
    fleet.add_argument("-l", "--selector", metavar="SELECTOR", default="",
                       help="every deployment matching this label selector (as kubectl -l)")
    fleet.add_argument("-A", "--all-namespaces", action="store_true", help="look in every namespace")
    fleet.add_argument("--parallel", type=_positive_int, default=None, metavar="N",
                       help="how many deployments are rolled back at once (default 4, or the resumed plan's); "
                            "rollouts are followed alongside")
    fleet.add_argument("--keep-going", action="store_true",
                       help="after a failure, go on starting the other targets (default: stop starting new ones)")
    fleet.add_argument("--lock-wait", type=float, default=0.0, metavar="S",
                       help="wait up to S seconds for a target another operator holds (default 0: refuse at once)")
    p.add_argument("--to-revision", type=revision_number, default=0, metavar="N",
                   help="revision to roll back to (default 0: the previous one)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait for the rollout to complete")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="how long to wait for the rollout (default 600)")
    p.add_argument("--no-evidence", dest="evidence", action="store_false",
                   help="skip capturing the last hour of pod logs, events and history before rolling back")
    p.add_argument("--force", action="store_true",
                   help="roll back to the previous revision even right after a rollback (which would undo it)")
    p.set_defaults(handler=cmd_rollback)

    p = sub.add_parser("status", parents=[common], help="a deployment's rollout, pods and recent events")
    p.add_argument("deployment")
    p.add_argument("--wait", action="store_true", help="follow the rollout until it completes (as kubectl rollout status)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S")
    p.set_defaults(handler=cmd_status)


def backend_from(args: argparse.Namespace):  # noqa: ANN201 — KubeBackend, imported lazily
    from backends.kubernetes.backend import connect

    return connect(args.kubeconfig, args.context, args.namespace, readonly=args.readonly)


def _target(args: argparse.Namespace, backend: Any):  # noqa: ANN202
    from cockpit.model import Target

    return Target(args.deployment, backend.namespace)


def cmd_history(args: argparse.Namespace) -> int:
    kube = backend_from(args)
    target = _target(args, kube)
    if args.revision is not None:
        diff = kube.diff(target, args.revision)
        if args.output == "json":
            print_json({"target": str(target), "revision": args.revision, "against": "live", "diff": list(diff.lines)})
        else:
            print("\n".join(diff.lines) if diff.lines else f"revision {args.revision} is the live template (no difference)")
        return 0
    revisions = kube.history(target)
    rows = [(f"{r.number}{' *' if r.live else ''}", age(r.created), ", ".join(r.images), r.change_cause or "<none>")
            for r in revisions]
    emit(args, {"target": str(target), "revisions": revisions}, ("REVISION", "AGE", "IMAGES", "CHANGE-CAUSE"), rows)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """``cockpit rollback``: the one rollback use case (:mod:`cockpit.rollback`), headless.

    Reconciles before it writes: with a ``--journal`` that already holds this rollback it says
    so and sends nothing; an interrupted one is resumed. The Lease on the target is held for
    the whole run (a second operator is refused, exit 6)."""
    names = list(args.deployment or [])
    contexts = _contexts(args)
    if _wants_fleet(args, names, contexts):
        from backends.kubernetes.fleet_commands import cmd_fleet_rollback

        return cmd_fleet_rollback(args, names, contexts)
    if not names:
        from cockpit.errors import ConfigError

        raise ConfigError("name the deployment to roll back (or select several with -l SELECTOR)", title="Bad usage",
                          hint="see `cockpit rollback --help`")
    args.deployment, args.context = names[0], (contexts[0] if contexts else None)
    from cockpit.journal import Journal, default_journal_path, read_journal
    from cockpit.rollback import RollbackRequest, already_done, describe_done, interrupted
    from cockpit.state import replay

    kube = backend_from(args)
    target = _target(args, kube)
    req = RollbackRequest(target, to_revision=args.to_revision, force=args.force, evidence=args.evidence,
                          wait=args.wait, timeout=args.timeout, reason="headless rollback", source="cli")
    say = say_to(args)
    state = replay(read_journal(args.journal)) if args.journal and Path(args.journal).exists() else None
    if state is not None and not args.readonly:
        done = already_done(state, req)
        if done is not None:
            say(f"deployment.apps/{target.name}: {describe_done(done)}")
            return _finish_already(args, kube, target, done)
    if args.readonly:  # refused by the backend before anything is sent (and no lock is taken)
        kube.rollback(target, args.to_revision)
    from cockpit.journal import default_actor

    # The journal first: a path that cannot be one is exit 8 before anything is locked or sent;
    # a journal this run created and never wrote to is removed (e.g. the operator said no).
    journal_path = Path(args.journal or default_journal_path(str(target)))
    existed = journal_path.exists()
    journal = Journal.open(journal_path)
    try:
        lock = _lock(kube, target, default_actor())  # a second operator is refused naming the holder
        try:
            if state is None or not interrupted(state):
                plan = kube.plan_rollback(target, args.to_revision)
                if not args.to_revision and not args.force:
                    from backends.kubernetes.steps import refuse_bringing_back

                    refuse_bringing_back(target, plan)
                if not args.yes:
                    live = plan.live
                    from_desc = f"revision {live.number} ({', '.join(live.images)})" if live else "the live template"
                    confirm(sanitize(f"Roll back deployment {target} from {from_desc} to revision {plan.to_revision} "
                                      f"({', '.join(plan.images)})?", max_len=2000))
            return _run(args, kube, target, journal, req, say)
        finally:
            lock.release()
    finally:
        journal.close()
        if not existed and journal.count == 0:
            journal_path.unlink(missing_ok=True)


def _contexts(args: argparse.Namespace) -> list[str]:
    """``--context`` as given: several on ``rollback`` (a fleet across clusters), one elsewhere."""
    value = getattr(args, "context", None)
    if isinstance(value, list):
        return list(dict.fromkeys(value))
    return [value] if value else []


def _wants_fleet(args: argparse.Namespace, names: list[str], contexts: list[str]) -> bool:
    """A selector, -A, several names or several contexts make a fleet rollback; so does a
    ``--journal`` that holds one (resume)."""
    if getattr(args, "selector", "") or getattr(args, "all_namespaces", False) or len(names) > 1 or len(contexts) > 1:
        return True
    if args.journal and Path(args.journal).is_file():
        from cockpit.fleet import is_fleet
        from cockpit.journal import read_journal

        return is_fleet(read_journal(args.journal))
    return False


def say_to(args: argparse.Namespace):  # noqa: ANN202
    """Where progress lines go: stdout, or stderr when stdout is JSON."""
    stream = sys.stderr if args.output == "json" else sys.stdout
    return lambda line: print(line, file=stream, flush=True)


def _lock(kube: Any, target: Any, actor: str) -> Any:
    from cockpit.locks import acquire_target_lock

    from backends.kubernetes.lease import LeaseLocker

    return acquire_target_lock(LeaseLocker(kube), target, actor=actor, readonly=False,
                               warn=lambda text: print(f"warning: {sanitize(text, max_len=1000)}", file=sys.stderr, flush=True))


def _run(args: argparse.Namespace, kube: Any, target: Any, journal: Any, req: Any, say: Any) -> int:
    import backends.kubernetes.steps  # noqa: F401 — registers kubernetes.rollback
    from cockpit.events import IncidentClosed
    from cockpit.rollback import RollbackRun
    from cockpit.steps import StepContext

    ctx = StepContext(backends={"kubernetes": kube}, log=say, readonly=False, namespace=target.namespace, target=target)
    result = RollbackRun(req, journal, ctx).run()
    if result.status == "already":
        return _finish_already(args, kube, target, result.done)
    if not result.ok:
        err = result.error
        if err is not None:
            err.hint = err.hint or f"the incident stays open in {journal.path}; inspect with `cockpit status`"
            raise err
        raise RolloutFailed(f"the rollback of {target} did not finish ({result.status})",
                            hint=f"the incident stays open in {journal.path}")
    data = result.execution.steps[-1].data if result.execution and result.execution.steps else {}
    skipped = data.get("result") == "skipped"
    if skipped or args.wait:
        journal.write(IncidentClosed(target=str(target), reason="rollback skipped: the template already runs" if skipped
                                     else "headless rollback completed"))
    if args.output == "json":
        print_json({"target": str(target), "journal": str(journal.path), "resumed": result.resumed,
                    "outcome": {k: data.get(k) for k in ("result", "from_revision", "to_revision", "images")},
                    "progress": {**(data.get("progress") or {}), "complete": bool(data.get("progress")) or skipped}})
    return 0


def _finish_already(args: argparse.Namespace, kube: Any, target: Any, done: Any) -> int:
    """Nothing to send; with --wait, follow the rollout (a read) so the retry ends where the
    first attempt would have."""
    last = None
    if args.wait:
        for p in kube.watch_progress(target, timeout=args.timeout):
            last = p
        if last is not None and not last.complete:
            raise RolloutFailed(last.message, hint="the rollback took effect; the rollout has not completed")
        if last is not None and args.output != "json":
            print(last.message, flush=True)
    if args.output == "json":
        print_json({"target": str(target), "already": True,
                    "outcome": {"result": "already", "from_revision": done.from_revision,
                                "to_revision": done.to_revision, "images": list(done.images)},
                    "progress": {"complete": bool(last and last.complete)}})
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    kube = backend_from(args)
    target = _target(args, kube)
    if args.wait:
        last = None
        for p in kube.watch_progress(target, timeout=args.timeout):
            if args.output != "json" and (last is None or p.message != last.message):
                print(p.message, flush=True)
            last = p
        if args.output == "json":
            print_json({"target": str(target), "progress": last})
        if last is None or not last.complete:
            raise RolloutFailed(last.message if last else "rollout did not complete")
        return 0
    info = kube.deployment(target)  # without the deployment there is nothing to show
    got, failed = _status_parts(kube, target)
    progress, pods, events = got.get("progress"), got.get("pods"), got.get("events")
    if args.output == "json":
        print_json({"deployment": info, "progress": progress, "pods": pods, "events": events,
                    "errors": {part: {"title": e.title, "message": str(e)} for part, e in failed.items()}})
        return _status_exit(progress, failed)
    print(f"deployment {target}  revision {info.revision}  images {', '.join(info.images)}"
          f"{'  PAUSED' if info.paused else ''}")
    print(f"replicas {info.replicas} desired, {info.updated} updated, {info.ready} ready, {info.available} available")
    print(progress.message if progress is not None else _unavailable("rollout progress", failed["progress"]))
    print()
    if pods is not None:
        print(table(("POD", "STATUS", "READY", "RESTARTS", "AGE"),
                    [(p.name, p.phase, "yes" if p.ready else "no", p.restarts, age(p.created)) for p in pods]))
    else:
        print(_unavailable("pods", failed["pods"]))
    if events:
        print()
        print(table(("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"),
                    [(age(e.last_seen), e.type, e.reason, e.object, e.message) for e in events]))
    elif events is None:
        print()
        print(_unavailable("events", failed["events"]))
    return _status_exit(progress, failed)


def _status_parts(kube: Any, target: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Progress, pods and events, each read on its own: one that fails is marked, the others
    are still shown."""
    from cockpit.errors import CockpitError

    got: dict[str, Any] = {}
    failed: dict[str, CockpitError] = {}
    for part, read in (("progress", lambda: kube.progress(target)), ("pods", lambda: kube.pods(target)),
                       ("events", lambda: kube.events(target, limit=10))):
        try:
            got[part] = read()
        except CockpitError as exc:
            failed[part] = exc
    return got, failed


def _unavailable(part: str, exc: Any) -> str:
    return f"{part}: NOT AVAILABLE — {sanitize(exc.title, max_len=100)}: {sanitize(str(exc), max_len=500)}"


def _status_exit(progress: Any, failed: dict[str, Any]) -> int:
    """7 when the rollout failed; else the exit code of a part that could not be read; else 0."""
    if progress is not None and progress.failed:
        return RolloutFailed.exit_code
    return next((e.exit_code for e in failed.values()), 0)
