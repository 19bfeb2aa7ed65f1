"""Headless Kubernetes commands: ``history``, ``rollback``, ``status``.

Cheap to import: the backend is imported inside the handlers.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from cockpit.errors import Aborted, RolloutFailed
from cockpit.output import age, emit, print_json, table


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("history", parents=[common], help="rollout history of a deployment")
    p.add_argument("deployment")
    p.add_argument("--revision", type=int, metavar="N", help="show revision N's pod template diff against the live one")
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser("rollback", parents=[common], help="roll a deployment back (as kubectl rollout undo)")
    p.add_argument("deployment")
    p.add_argument("--to-revision", type=int, default=0, metavar="N", help="revision to roll back to (default: the previous one)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait for the rollout to complete")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="how long to wait for the rollout (default 600)")
    p.add_argument("--no-evidence", dest="evidence", action="store_false",
                   help="skip capturing the last hour of pod logs, events and history before rolling back")
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


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise Aborted("not confirmed: no terminal to ask on", hint="pass --yes to roll back without asking")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise Aborted("not confirmed; nothing was changed")


def cmd_rollback(args: argparse.Namespace) -> int:
    kube = backend_from(args)
    target = _target(args, kube)
    plan = kube.plan_rollback(target, args.to_revision)
    live, to_number, to_images = plan.live, plan.to_revision, ", ".join(plan.images)
    from_desc = f"revision {live.number} ({', '.join(live.images)})" if live else "the live template"
    if args.readonly:
        kube.rollback(target, to_number, plan=plan)  # refused by the backend; nothing is sent
    if not args.yes:
        _confirm(f"Roll back deployment {target} from {from_desc} to revision {to_number} ({to_images})?")

    from cockpit.journal import Journal, default_journal_path

    journal = Journal.open(args.journal or default_journal_path(str(target)))
    lock = journal.lock(str(target))
    try:
        return _rollback_journaled(args, kube, target, journal, plan)
    finally:
        lock.release()
        journal.close()


def _rollback_journaled(args: argparse.Namespace, kube: Any, target: Any, journal: Any, plan: Any) -> int:
    from cockpit.model import RollbackResult

    live, to_number, to_images = plan.live, plan.to_revision, ", ".join(plan.images)
    journal.append("incident_opened", target=str(target), kind="deployment", reason="headless rollback")
    if args.evidence and plan.to_revision and not rv_equal(plan):
        from backends.kubernetes.logs import capture_before_rollback

        ev = capture_before_rollback(kube, target, journal)
        if args.output != "json":
            print(f"evidence: {len(ev.files)} files in {ev.dir}" + (f" ({len(ev.errors)} sources failed)" if ev.errors else ""))
    journal.append("revision_chosen", target=str(target), revision=to_number, images=to_images)
    with journal.action("rollback", target=str(target), from_revision=live.number if live else None,
                        to_revision=to_number, images=to_images) as act:
        outcome = kube.rollback(target, to_number, plan=plan)
        act.result = {"result": outcome.result.value, "message": outcome.message,
                      "from_revision": outcome.from_revision, "to_revision": outcome.to_revision}
    if args.output != "json":
        print(f"deployment.apps/{target.name} {outcome.message}")
    if outcome.result is RollbackResult.SKIPPED or not args.wait:
        if outcome.result is RollbackResult.SKIPPED:
            journal.append("incident_closed", target=str(target), reason=outcome.message)
        if args.output == "json":
            print_json({"target": str(target), "outcome": outcome, "journal": str(journal.path)})
        return 0
    last = None
    for p in kube.watch_progress(target, timeout=args.timeout):
        if args.output != "json" and (last is None or p.message != last.message):
            print(p.message, flush=True)
        last = p
        journal.append("rollout_progress", target=str(target), updated=p.updated, ready=p.ready,
                       available=p.available, desired=p.desired, complete=p.complete, failed=p.failed)
    if last is None or not last.complete:
        raise RolloutFailed(last.message if last else f"rollout of {target} did not complete",
                            hint=f"the incident stays open in {journal.path}; inspect with `cockpit status`")
    journal.append("incident_closed", target=str(target), reason="headless rollback completed")
    if args.output == "json":
        print_json({"target": str(target), "outcome": outcome, "progress": last, "journal": str(journal.path)})
    return 0


def rv_equal(plan: Any) -> bool:
    """The chosen template already runs (the rollback will be skipped: nothing to capture)."""
    from backends.kubernetes import revisions as rv

    return rv.equal_ignore_hash(plan.replicaset["spec"]["template"], plan.deployment["spec"]["template"])


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
    info = kube.deployment(target)
    progress = kube.progress(target)
    pods = kube.pods(target)
    events = kube.events(target, limit=10)
    if args.output == "json":
        print_json({"deployment": info, "progress": progress, "pods": pods, "events": events})
        return 0
    print(f"deployment {target}  revision {info.revision}  images {', '.join(info.images)}"
          f"{'  PAUSED' if info.paused else ''}")
    print(f"replicas {info.replicas} desired, {info.updated} updated, {info.ready} ready, {info.available} available")
    print(progress.message)
    print()
    print(table(("POD", "STATUS", "READY", "RESTARTS", "AGE"),
                [(p.name, p.phase, "yes" if p.ready else "no", p.restarts, age(p.created)) for p in pods]))
    if events:
        print()
        print(table(("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"),
                    [(age(e.last_seen), e.type, e.reason, e.object, e.message) for e in events]))
    return 0 if not progress.failed else RolloutFailed.exit_code
