"""``cockpit rollback -l SELECTOR [-A | -n NS] [--context C]... [NAME...]``: the fleet rollback.

Builds one plan (:mod:`cockpit.fleet`) over every matching deployment of every context, shows
it, asks once, and runs it; ``--journal J`` again continues it. Exit codes as for one
rollback: 0 when every target is rolled back (or needs nothing), 3 when the selector matches
nothing (naming what was searched), 2 for a context that is not in the kubeconfig (naming
those that are), 5 readonly (after showing the plan), 6 a target held by another operator,
and otherwise the code of the first failure (4 a cluster that does not answer, 7 a rollout
that failed), with the journal left open for the resume.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError, ConfigError, ConflictError, ReadonlyError
from cockpit.output import print_json, table
from cockpit.text import sanitize

from backends.kubernetes.commands import confirm, say_to


def cmd_fleet_rollback(args: argparse.Namespace, names: list[str], contexts: list[str]) -> int:
    from cockpit import fleet as fl
    from cockpit.events import IncidentClosed
    from cockpit.journal import Journal, default_journal_path
    from cockpit.locks import acquire_target_lock

    from backends.kubernetes.clusters import KubeFleet

    if args.all_namespaces and args.namespace:
        raise ConfigError("-A and -n together: pick every namespace or one", title="Bad usage")
    say = say_to(args)
    previous = _previous(args.journal)
    if previous is not None and previous.plan is not None:
        _check_same(args, names, contexts, previous.plan.scope)
        contexts = list(previous.plan.scope.contexts)
    elif not names and not args.selector:
        raise ConfigError("a fleet rollback needs -l SELECTOR or deployment names", title="Bad usage",
                          hint="e.g. `cockpit rollback -l app.kubernetes.io/part-of=shop -A`")
    # a resume keeps the plan's settings unless told otherwise
    parallel = args.parallel or (previous.parallel if previous is not None else fl.DEFAULT_PARALLEL)
    keep_going = args.keep_going or (previous is not None and previous.keep_going)
    source = KubeFleet.connect(args.kubeconfig, contexts, readonly=args.readonly)
    scope = previous.plan.scope if previous is not None and previous.plan is not None else fl.Scope(
        args.selector, tuple(dict.fromkeys(names)), (args.namespace,) if args.namespace else (), args.all_namespaces,
        source.contexts)
    # The journal first: a path that cannot be one is exit 8 before anything is locked or sent
    # (one this run created and never wrote to is removed on close).
    journal = None if args.readonly else Journal.open(
        args.journal or default_journal_path(f"fleet-{args.selector or '-'.join(names)}"))
    result = None
    try:
        acquire = None if journal is None else (
            lambda m: acquire_target_lock(source.locker(m.context), m.target, actor=journal.actor, readonly=False,
                                          warn=lambda text: print(f"warning: {sanitize(text, max_len=1000)}",
                                                                  file=sys.stderr, flush=True)))
        plan, locks = fl.prepare_plan(source, scope, to_revision=args.to_revision, force=args.force, acquire=acquire,
                                      lock_wait=args.lock_wait, previous=previous, say=say)
        try:
            todo = [e for e in plan.rollbacks if previous is None or previous.status(e.key) not in fl.DONE]
            show_plan(args, plan, previous, say)
            if args.readonly:
                if args.output == "json":
                    print_json({"journal": None, "plan": [e.to_dict() for e in plan.entries], "results": [], "ok": False})
                raise ReadonlyError(f"would roll back {len(todo)} deployment(s) as planned above; this cockpit is readonly: "
                                    "nothing was sent")
            if plan.failed and not keep_going:
                first = plan.failed[0].error()
                first.hint = (f"nothing was sent; --keep-going rolls back the other {len(todo)}" if todo
                              else "nothing was sent")
                raise first
            if not todo and not plan.failed:
                say("nothing to roll back: every target " + ("is done or needs nothing" if previous else "needs nothing"))
                if args.output == "json":
                    print_json({"journal": None if journal.count == 0 else str(journal.path),
                                "plan": [e.to_dict() for e in plan.entries], "results": [], "ok": True})
                return 0
            if todo and not args.yes:
                confirm(sanitize(f"Roll back {len(todo)} deployment(s) in {len({e.context for e in todo})} context(s) "
                                 f"as planned above?", max_len=500))
            journal.write(plan.event(parallel=parallel, keep_going=keep_going, resumed=previous is not None))
            options = fl.RunOptions(parallel=parallel, keep_going=keep_going, wait=args.wait,
                                    timeout=args.timeout, evidence=args.evidence,
                                    reason=f"fleet rollback of {scope.describe()}")
            result = fl.FleetRun(plan, journal, source, options, locks=locks, state=previous, log=say).run()
        finally:
            fl.release_all(locks)
        show_results(args, plan, result, journal.path)
        if result.ok:
            if args.wait:
                journal.write(IncidentClosed(target=f"fleet: {scope.describe()}", reason="fleet rollback completed"))
            return 0
        raise failure(result, journal.path)
    finally:
        if journal is not None:
            journal.close()
        source.close()


def _previous(path: Any) -> Any:
    """The fold of ``--journal`` when it holds a fleet rollback (a resume); None for a new one."""
    if not path or not Path(path).is_file():
        return None
    from cockpit import fleet as fl
    from cockpit.journal import read_journal
    from cockpit.state import replay

    records = read_journal(path)
    if fl.is_fleet(records):
        return fl.fold(records)
    if not records:
        return None
    state = replay(records)
    holds = f"the incident on {state.target}" if state.target else f"{len(records)} records of something else"
    raise ConflictError(f"the journal {path} holds {holds}, not a fleet rollback", title="Wrong incident",
                        hint="use the fleet's journal, or a new one")


def _check_same(args: argparse.Namespace, names: list[str], contexts: list[str], scope: Any) -> None:
    """On resume, what is given must be what the journal's plan was built from (or nothing)."""
    differs = [
        what for what, given, same in (
            ("-l", args.selector, args.selector == scope.selector),
            ("names", names, tuple(dict.fromkeys(names)) == tuple(scope.names)),
            ("-n", args.namespace, (args.namespace,) == tuple(scope.namespaces)),
            ("-A", args.all_namespaces, scope.all_namespaces),
            ("--context", contexts, set(contexts) == set(scope.contexts)),
        ) if given and not same]
    if differs:
        raise ConfigError(f"the journal {args.journal} holds the fleet rollback of {scope.describe()}; "
                          f"{', '.join(differs)} differ", title="Bad usage",
                          hint="to continue it pass the same arguments or none; for another fleet use another --journal")


def _rev(number: Any, images: Any) -> str:
    if number is None:
        return "-"
    return f"{number} ({', '.join(images)})" if images else str(number)


def _plan_cell(e: Any, previous: Any) -> str:
    if e.action == "skip":
        return f"skip: {e.why}"
    if e.action == "fail":
        return f"FAILED: {e.error_title}: {e.why}"
    status = previous.status(e.key) if previous is not None else "planned"
    return {"ok": "done", "planned": "roll back", "not_started": "roll back"}.get(status, "resume")


def show_plan(args: argparse.Namespace, plan: Any, previous: Any, say: Any) -> None:
    """The plan, one row per target (stderr when stdout is JSON)."""
    head = (f"{'resuming the ' if previous is not None else ''}fleet rollback of {plan.scope.describe()}: "
            f"{len(plan.rollbacks)} to roll back, {len(plan.skipped)} skipped, {len(plan.failed)} failed")
    rows = [(e.context, e.namespace or "-", e.name or "-", _rev(e.from_revision, e.from_images),
             _rev(e.to_revision, e.images) if e.action == "rollback" else "-", _plan_cell(e, previous))
            for e in plan.entries]
    say(sanitize(head, max_len=2000))
    say(table(("CONTEXT", "NAMESPACE", "DEPLOYMENT", "FROM", "TO", "PLAN"), rows))


def _result_cell(r: Any) -> str:
    if r.status in ("ok", "done"):
        what = "already rolled back" if r.already or r.status == "done" else "rolled back"
        return f"{what} to {_rev(r.to_revision, r.images)}"
    if r.status == "skipped":
        return f"skipped: {r.entry.why}" if r.entry.why else "skipped: the template already runs"
    if r.status == "failed" and r.error is not None:
        return f"FAILED: {r.error.title}: {r.error.message}"
    return r.status.replace("_", " ")


def show_results(args: argparse.Namespace, plan: Any, result: Any, journal: Path) -> None:
    if args.output == "json":
        print_json({"journal": str(journal), "plan": [e.to_dict() for e in plan.entries],
                    "results": [r.to_dict() for r in result.results], "ok": result.ok})
        return
    print(table(("CONTEXT", "NAMESPACE", "DEPLOYMENT", "RESULT"),
                [(r.entry.context, r.entry.namespace or "-", r.entry.name or "-", _result_cell(r))
                 for r in result.results]), flush=True)
    print(f"journal: {journal}", flush=True)


def failure(result: Any, journal: Path) -> CockpitError:
    """One line for a fleet that did not finish, with the first failure's exit code."""
    first = result.first_failure
    err = first.error if first is not None and first.error is not None else CockpitError("a target did not finish")
    done = result.count("ok", "done")
    key = first.entry.key if first is not None else "?"
    message = err.message.removeprefix(f"{key}: ")
    out = CockpitError(
        f"{done} rolled back, {result.count('skipped')} skipped, {result.count('failed')} failed, "
        f"{result.count('not_started')} not started; first failure {key}: {err.title}: {message}",
        title="Fleet rollback incomplete",
        hint=f"the incident stays open in {journal}; once the cause is fixed, `cockpit rollback --journal {journal}` "
             "continues it (nothing that took effect is sent again)")
    out.exit_code = err.exit_code
    return out
