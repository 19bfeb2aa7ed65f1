"""Headless Docker commands: ``cockpit docker ps | history CONTAINER | rollback CONTAINER``."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    docker = sub.add_parser("docker", parents=[common], help="containers on a Docker host (and Compose services)")
    docker.add_argument("--docker-host", metavar="URL", default=os.environ.get("DOCKER_HOST"),
                        help="the daemon (default: $DOCKER_HOST, else unix:///var/run/docker.sock)")
    dsub = docker.add_subparsers(dest="docker_command", metavar="ACTION", required=True)

    host = argparse.ArgumentParser(add_help=False)
    host.add_argument("--docker-host", metavar="URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    ps = dsub.add_parser("ps", parents=[common, host], help="containers with image, tag, state and health")
    ps.add_argument("--name", help="name contains")
    ps.add_argument("--label", help="KEY or KEY=VALUE")
    ps.add_argument("--project", help="Compose project")
    ps.add_argument("--service", help="Compose service")
    ps.add_argument("--running", action="store_true", help="running containers only")
    ps.set_defaults(handler=_ps)

    hist = dsub.add_parser("history", parents=[common, host], help="tags of the container's repository on this host")
    hist.add_argument("container")
    hist.set_defaults(handler=_history)

    rb = dsub.add_parser("rollback", parents=[common, host], help="run the container on an earlier tag, config preserved")
    rb.add_argument("container")
    rb.add_argument("--to-tag", required=True, metavar="TAG", help="a tag of the container's repository (see history)")
    rb.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rb.add_argument("--health-budget", type=float, default=60.0, metavar="SECONDS",
                    help="how long the new container may take to become healthy (default 60)")
    rb.add_argument("--probe-url", metavar="URL", help="also require this URL to answer 2xx")
    rb.add_argument("--pull", action=argparse.BooleanOptionalAction, default=None,
                    help="pull the tag first (default: only when the repository names a registry)")
    rb.add_argument("--compose", choices=("auto", "container", "never"), default="auto",
                    help="for Compose services: rewrite the file and use the plugin (auto), "
                    "rewrite and roll back the container (container), or leave files alone (never)")
    rb.set_defaults(handler=_rollback)


def _backend(args: argparse.Namespace):  # noqa: ANN202
    from backends.docker.client import DockerBackend

    return DockerBackend(getattr(args, "docker_host", None), readonly=bool(getattr(args, "readonly", False)))


def _ps(args: argparse.Namespace) -> int:
    from cockpit.output import age, emit

    rows = _backend(args).ps(name=args.name, label=args.label, project=args.project, service=args.service,
                             all=not args.running)
    emit(args, rows, ["NAME", "IMAGE", "IMAGE ID", "STATE", "HEALTH", "SERVICE", "CREATED", "PORTS"], [
        (c.name, c.image, c.image_id[7:19], c.state, c.health or "-",
         f"{c.compose_project}/{c.compose_service}" if c.compose_service else "-", age(c.created), ",".join(c.ports))
        for c in rows
    ])
    return 0


def _previous(args: argparse.Namespace, container: str) -> dict | None:
    from backends.docker.rollback import previous_image
    from cockpit.journal import read_journal, state_dir

    paths = [args.journal] if getattr(args, "journal", None) else sorted(
        (state_dir() / "incidents").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)[-50:]
    found = None
    for path in paths:
        try:
            if b"docker." not in path.read_bytes():
                continue
            found = previous_image(read_journal(path), container) or found
        except OSError:
            continue
    return found


def _history(args: argparse.Namespace) -> int:
    from cockpit.output import age, emit

    backend = _backend(args)
    name = backend.inspect(args.container)["Name"].lstrip("/")
    prev = _previous(args, name)
    rows = backend.history(name, previous_image_id=(prev or {}).get("image_id"))
    emit(args, rows, ["TAG", "IMAGE ID", "CREATED", "", ""], [
        (t.tag, t.image_id[7:19], age(t.created), "live" if t.live else "", "previous" if t.previous else "")
        for t in rows
    ])
    return 0


def _confirm(question: str) -> None:
    from cockpit.prompt import confirm

    confirm(question, no_terminal="no terminal to confirm on: rerun with --yes to roll back without asking", hint="",
            declined="rollback not confirmed; nothing was changed")


def _rollback(args: argparse.Namespace) -> int:
    from backends.docker.perform import perform_rollback
    from backends.docker.rollback import pending_plans, plan_rollback
    from cockpit.errors import ReadonlyError
    from cockpit.journal import Journal, default_journal_path
    from cockpit.output import emit
    from cockpit.text import sanitize

    backend = _backend(args)
    if backend.readonly:
        raise ReadonlyError(f"refused to roll back {sanitize(args.container)}: --readonly (nothing was sent)")
    path = args.journal or default_journal_path(f"docker-{args.container}")
    journal = Journal.open(path)
    try:
        pending = pending_plans(journal.read(), args.container)
        if not args.yes:
            if pending:
                _confirm(f"Resume the interrupted rollback of {sanitize(args.container)} to "
                         f"{sanitize(pending[-1]['to_image'])}?")
            else:
                plan = plan_rollback(backend, args.container, to_tag=args.to_tag, pull=False, log=lambda s: None)
                _confirm(f"Roll back container {plan['container']} from {sanitize(plan['previous_image'])} to "
                         f"{sanitize(plan['to_image'])}? (the old container is kept, stopped, as a backup)")

        def log(line: str) -> None:
            print(sanitize(line), file=sys.stderr, flush=True)
            journal.append("log", source="docker.rollback", message=sanitize(line))

        out = perform_rollback(
            backend, args.container, to_tag=args.to_tag, journal=journal, log=log,
            health_budget=args.health_budget, probe_url=args.probe_url, pull=args.pull, compose=args.compose,
        )
    finally:
        journal.close()
    emit(args, out)
    if getattr(args, "output", "text") != "json":
        print(f"journal: {path}", file=sys.stderr)
    return 0
