"""``cockpit helm rollback RELEASE [--to-revision N] [--yes]``: the ``helm.rollback`` step as a
one-step runbook, journaled like every rollback (runbook recorded, revision chosen, fsynced
intent, outcome); an interrupted one in the journal is resumed (reconciled with the release's
records) instead of being sent again."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from cockpit.prompt import confirm


def runbook_text(release: str, namespace: str, to_revision: int, timeout: float, kubeconfig: str | None,
                 context: str | None) -> str:
    to = f"revision {to_revision}" if to_revision else "the previous revision"
    params: dict[str, Any] = {"release": release, "namespace": namespace, "to_revision": to_revision,
                              "timeout": timeout}
    if kubeconfig:
        params["kubeconfig"] = kubeconfig
    if context:
        params["context"] = context
    return yaml.safe_dump({
        "name": f"helm rollback {release} to {to}",
        "target": {"kind": "deployment", "namespace": namespace, "name": release},
        "steps": [{"kind": "helm.rollback", "name": f"Roll back release {release} to {to}", "budget": "5m",
                   "params": params}],
    }, sort_keys=False)


def interrupted(journal: str | None, kind: str, same: dict[str, Any]) -> str | None:
    """The runbook an interrupted run in ``journal`` (given with --journal) recorded — a write
    pending, or the run never finished — to resume rather than start again; else None. Its one
    step must be of ``kind`` with the params in ``same`` (what this command was asked to do):
    else ConflictError naming what the journal holds (nothing is sent)."""
    from cockpit.errors import ConflictError
    from cockpit.journal import read_journal
    from cockpit.state import replay
    from cockpit.text import sanitize

    if not journal or not Path(journal).exists():
        return None
    state = replay(read_journal(journal))
    if state.runbook_yaml is None or not (state.pending or state.run_status == "running"):
        return None
    try:
        step = (yaml.safe_load(state.runbook_yaml).get("steps") or [{}])[0]
    except (yaml.YAMLError, AttributeError, IndexError):
        step = {}
    was = step.get("params") or {} if isinstance(step, dict) else {}
    differs = [k for k, v in same.items() if was.get(k) != v]
    if not isinstance(step, dict) or step.get("kind") != kind or differs:
        held = sanitize(str(step.get("name") if isinstance(step, dict) else "") or "another run", max_len=200)
        raise ConflictError(f"{journal} holds an interrupted run: {held}" +
                            (f" ({', '.join(differs)} {'differs' if len(differs) == 1 else 'differ'} from this command)" if differs and step.get("kind") == kind
                             else ""),
                            hint="run the command that started it to finish it (nothing is sent twice), or pass "
                                 "another --journal")
    return state.runbook_yaml


def journal_for(given: str | None, stem: str, kind: str, same: dict[str, Any]) -> tuple[str, str | None]:
    """``(journal path, the runbook to resume or None)``. With ``--journal``: that journal (see
    :func:`interrupted`). Without: the newest incident journal this command wrote for ``stem``
    (the same release or values file) when it holds an interrupted run of the same kind and
    params — a re-run after a crash reconciles instead of starting again — else a new path."""
    from cockpit.errors import ConflictError
    from cockpit.journal import default_journal_path, safe_name, state_dir

    if given:
        return given, interrupted(given, kind, same)
    mine = sorted((state_dir() / "incidents").glob(f"*-{safe_name(stem)}.jsonl"), key=lambda p: p.name)
    if mine:
        try:
            recorded = interrupted(str(mine[-1]), kind, same)
        except ConflictError:  # another key, tag or release: not this command's to finish
            recorded = None
        except Exception:  # noqa: BLE001 — an unreadable journal is not one to resume
            recorded = None
        if recorded is not None:
            return str(mine[-1]), recorded
    return str(default_journal_path(stem)), None


def run_rollback_command(args: argparse.Namespace) -> int:
    import backends.helm.steps  # noqa: F401  registers helm.rollback
    from backends.helm.commands import releases_from
    from backends.helm.releases import deployed
    from backends.helm.steps import choose
    from cockpit import events as ev
    from cockpit.errors import ReadonlyError
    from cockpit.executor import Executor
    from cockpit.journal import Journal
    from cockpit.output import emit
    from cockpit.runbook import parse_runbook
    from cockpit.steps import StepContext
    from cockpit.text import sanitize

    rels = releases_from(args)
    ns = rels.namespace
    if args.readonly:
        raise ReadonlyError(f"refused to roll back release {sanitize(args.release, max_len=60)}: --readonly "
                            "(nothing was sent)")
    path, recorded = journal_for(args.journal, f"helm-{ns}-{args.release}", "helm.rollback",
                                 {"release": args.release, "namespace": ns, "kubeconfig": args.kubeconfig or None,
                                  "context": args.context or None})
    resume = recorded is not None
    if resume:
        text = recorded or ""
        print(f"an interrupted helm rollback is in {path}: reconciling it with the release's records",
              file=sys.stderr)
    else:  # checked before the journal is written: a bad release, revision or pending state leaves nothing
        history = rels.history(args.release)
        _newest, target = choose(history, args.to_revision)
        live = deployed(history)
        if not args.yes:
            frm = f"revision {live.revision} ({', '.join(live.images)})" if live else "no deployed revision"
            confirm(f"Roll back release {target.release} in {ns} from {frm} to revision {target.revision} "
                     f"({', '.join(target.images)}) with Helm?")
        text = runbook_text(args.release, ns, target.revision, args.timeout, args.kubeconfig, args.context)
    journal = Journal.open(path)
    try:
        if not resume:
            journal.write(ev.RunbookRecorded(yaml=text, revision=target.revision))

        def log(line: str) -> None:
            print(sanitize(line), file=sys.stderr, flush=True)

        kube = rels.t
        ctx = StepContext(backends={"kubernetes": _KubeLike(kube, ns)}, log=log, namespace=ns)
        executor = Executor(parse_runbook(text, source="<helm rollback>"), journal, ctx)
        result = executor.resume() if resume else executor.run()
    finally:
        journal.close()
    if not result.ok:
        raise result.error or RuntimeError("helm rollback failed")
    data = result.steps[-1].data if result.steps else None
    emit(args, {"journal": str(path), **(data or {})}, ("RELEASE", "NAMESPACE", "REVISION", "ROLLED BACK TO", "IMAGES"),
         [[data.get("release"), data.get("namespace"), data.get("revision"), data.get("to_revision"),
           ", ".join(data.get("images") or [])]] if data else [])
    if getattr(args, "output", "text") != "json":
        print(f"journal: {path}", file=sys.stderr)
    return 0


class _KubeLike:
    """What the step needs of the ``kubernetes`` backend: its transport and namespace."""

    def __init__(self, transport: Any, namespace: str) -> None:
        self.t, self.namespace = transport, namespace


def run_set_tag_command(args: argparse.Namespace) -> int:
    """``cockpit helm set-tag FILE KEY TAG [--release R --chart C | --helmfile F]``: the
    ``helm.values_tag`` step as a one-step runbook, journaled; every refusal (a key that is not
    there, a template expression, a pending release) comes before anything is written."""
    import backends.helm.steps  # noqa: F401  registers helm.values_tag
    from backends.helm.steps import HelmValuesTagParams, HelmValuesTagStep
    from cockpit.errors import ConfigError, ReadonlyError
    from cockpit.executor import Executor
    from cockpit.journal import Journal
    from cockpit.output import emit
    from cockpit.runbook import parse_runbook
    from cockpit.steps import StepContext
    from cockpit.text import sanitize

    if args.readonly:
        raise ReadonlyError(f"refused to rewrite {sanitize(args.file, max_len=200)}: --readonly (nothing was changed)")
    if args.release and args.helmfile:
        raise ConfigError("pass --release/--chart or --helmfile, not both")
    rels = None
    ns = None
    if args.release:
        from backends.helm.commands import releases_from

        rels = releases_from(args)
        ns = rels.namespace
    params: dict[str, Any] = {"file": str(Path(args.file).resolve()), "key": args.key, "tag": args.tag,
                              "timeout": args.timeout}
    for name in ("release", "chart", "helmfile", "kubeconfig", "context"):
        if getattr(args, name, None):
            params[name] = getattr(args, name)
    if ns:
        params["namespace"] = ns
    step_params = HelmValuesTagParams.model_validate(params)
    ctx = StepContext(backends={"kubernetes": _KubeLike(rels.t, ns)} if rels is not None else {},
                      log=lambda line: print(sanitize(line), file=sys.stderr, flush=True), namespace=ns or "default")
    step = HelmValuesTagStep()
    asked = step_params.model_dump(mode="json", exclude_none=True)
    path, recorded = journal_for(args.journal, f"helm-values-{Path(args.file).stem}", "helm.values_tag", {
        k: asked.get(k) for k in ("file", "key", "tag", "release", "chart", "helmfile", "namespace", "kubeconfig",
                                  "context")})
    if recorded is not None:  # the step reconciles the file and the release before it writes again
        text = recorded
        print(f"an interrupted set-tag is in {path}: reconciling it with the file and the release", file=sys.stderr)
    else:
        prepared = step.prepare(ctx, step_params) or {}  # refusals here leave no trace
        if not args.yes:
            then = (f" and upgrade release {args.release}" if args.release else
                    " and run helmfile sync" if args.helmfile else "")
            confirm(f"Set {args.key} from {prepared.get('old')} to {args.tag} in {args.file}{then}?")
        text = yaml.safe_dump({
            "name": f"set {args.key} to {args.tag} in {Path(args.file).name}",
            "target": {"kind": "deployment", "namespace": ns or "default", "name": args.release or Path(args.file).stem},
            "steps": [{"kind": "helm.values_tag", "name": step.describe(step_params), "budget": "10m",
                       "params": step_params.model_dump(mode="json", exclude_none=True)}],
        }, sort_keys=False)
    from cockpit import events as ev

    journal = Journal.open(path)
    try:
        executor = Executor(parse_runbook(text, source="<helm set-tag>"), journal, ctx)
        if recorded is None:
            journal.write(ev.RunbookRecorded(yaml=text))
        result = executor.resume() if recorded is not None else executor.run()
    finally:
        journal.close()
    if not result.ok:
        raise result.error or RuntimeError("helm set-tag failed")
    data = result.steps[-1].data if result.steps else {}
    emit(args, {"journal": str(path), **data}, ("FILE", "KEY", "OLD", "NEW", "RELEASE", "REVISION"),
         [[data.get("file"), data.get("key"), data.get("old"), data.get("tag"), data.get("release") or "",
           data.get("revision") or ""]])
    if getattr(args, "output", "text") != "json":
        print(f"journal: {path}", file=sys.stderr)
    return 0
