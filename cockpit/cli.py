"""The command line: global flags, subcommands, exit codes. A composition root.

Global flags are accepted before or after the subcommand (``cockpit -n shop history x`` and
``cockpit history x -n shop`` are the same). Each area registers its subcommands from its own
module (``register(subparsers, common)``); modules import their heavy client libraries inside
handlers, never at import time, so ``cockpit history`` does not pay for Textual or docker.

Every error the user can cause is a :class:`~cockpit.errors.CockpitError`: one line on stderr,
``cockpit: <title>: <message>``, and its exit code; a bad flag or argument is one line too
(``cockpit: Bad usage: ...``, exit 2), never argparse's usage block. Whatever an error line
echoes (an argument, a server's message) goes through :func:`cockpit.text.sanitize`. Anything
unexpected is logged with its traceback to ``$XDG_STATE_HOME/cockpit/cockpit.log`` and
reported in one line (exit 70).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cockpit import __version__
from cockpit.errors import CockpitError

EXIT_INTERNAL = 70

EXIT_CODES = """\
exit codes:
  0  success            4  unreachable server      7  rollout failed / not verified
  1  error              5  refused: readonly       8  journal cannot be opened or written
  2  bad usage/config   6  conflict / locked      70  internal error (see the log)
  3  not found        130  aborted by the operator
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line, sanitized usage errors (exit 2) instead of the usage block."""

    def error(self, message: str) -> Any:
        from cockpit.text import sanitize

        self.exit(2, f"cockpit: Bad usage: {sanitize(message, max_len=500)} "
                     f"(see `{sanitize(self.prog, max_len=100)} --help`)\n")


def _say_error(title: str, message: str) -> None:
    """``cockpit: <title>: <message>`` on stderr, outside text made inert."""
    from cockpit.text import sanitize

    print(f"cockpit: {sanitize(title, max_len=200)}: {sanitize(message, max_len=4000, keep_newlines=True)}",
          file=sys.stderr)


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "cockpit"


def _add_globals(p: argparse.ArgumentParser, suppress: bool) -> None:
    """The global flags. On subparsers they default to SUPPRESS so they only override."""
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = p.add_argument_group("global options")
    g.add_argument("--kubeconfig", metavar="PATH", default=d(None), help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    g.add_argument("--context", metavar="NAME", default=d(None), help="kubeconfig context (default: the current one)")
    g.add_argument("-n", "--namespace", metavar="NS", default=d(None), help="namespace (default: the context's, else 'default')")
    g.add_argument("--readonly", action="store_true", default=d(False), help="observe only: every backend refuses every write")
    g.add_argument("--journal", metavar="PATH", type=Path, default=d(None), help="incident journal (default: under $XDG_STATE_HOME/cockpit/incidents)")
    g.add_argument("-o", "--output", choices=("text", "json"), default=d("text"), help="output format for data")
    g.add_argument("--mirror", metavar="URL", default=d(None),
                   help="mirror every journal record to the team's PostgreSQL or Redis (postgresql://… or redis://…; "
                        "default: journal.mirror, COCKPIT_JOURNAL__MIRROR); with --readonly: follow the incidents there")


# Each subcommand and the module that registers it. Only the module of the subcommand being
# run is imported (each import costs milliseconds a headless command should not pay); help
# and unknown commands import them all.
COMMAND_MODULES: dict[str, str] = {
    "history": "backends.kubernetes.commands",
    "rollback": "backends.kubernetes.commands",
    "status": "backends.kubernetes.commands",
    "run": "cockpit.cli",
    "world": "cockpit.core_commands",
    "journal": "cockpit.core_commands",
    "watch": "backends.metrics.commands",
    "config": "cockpit.config_commands",
    "docker": "backends.docker.commands",
    "pg": "backends.postgres.commands",
    "redis": "backends.redis.commands",
    "notify": "backends.notify.commands",
    "report": "cockpit.report_commands",
    "drill": "cockpit.drill_commands",
    "incidents": "backends.mirror.commands",
    "memcached": "backends.memcached.commands",
    "helm": "backends.helm.commands",
    "mysql": "backends.mysql.commands",
    "traffic": "backends.traffic.commands",
    "lambda": "backends.aws_lambda.commands",
    "cdn": "backends.cdn.commands",
    "flag": "backends.flags.commands",
}
# Global flags that take a value (to find the subcommand in argv without parsing it).
_VALUED = {"--kubeconfig", "--context", "-n", "--namespace", "--journal", "-o", "--output", "--scenario", "--follow", "--theme",
           "--mirror"}


def _subcommand(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _command_modules(argv: list[str] | None = None) -> list[Any]:
    """The modules whose ``register(sub, common)`` add the subcommands this argv needs."""
    import importlib

    args = argv or []
    wanted = _subcommand(args)
    helps = [i for i, a in enumerate(args) if a in ("-h", "--help")]
    if wanted in COMMAND_MODULES and not (helps and helps[0] < args.index(wanted)):
        names = [COMMAND_MODULES[wanted]]
    elif wanted is None and not helps and argv is not None:
        names = []  # the full-screen cockpit: no subcommand to register
    else:
        names = list(dict.fromkeys(COMMAND_MODULES.values()))
    modules = []
    for name in names:
        modules.append(_RunCommand if name == "cockpit.cli" else importlib.import_module(name))
    return modules


def load_step_kinds() -> None:
    """Register every backend's step kinds (see :func:`cockpit.compose.load_step_kinds`)."""
    from cockpit.compose import load_step_kinds as load

    load()


class _RunCommand:
    """``cockpit run RUNBOOK``: execute a runbook, journaled; ``--resume`` continues after a crash."""

    @staticmethod
    def register(sub: Any, common: argparse.ArgumentParser) -> None:
        p = sub.add_parser("run", parents=[common], help="run a runbook (YAML) step by step, journaled")
        p.add_argument("runbook", type=Path)
        p.add_argument("--resume", action="store_true",
                       help="continue the run recorded in --journal (or the open incident for the target)")
        p.add_argument("--check", action="store_true", help="validate the runbook and print its steps; change nothing")
        p.set_defaults(handler=_RunCommand.handle)

    @staticmethod
    def handle(args: argparse.Namespace) -> int:
        from cockpit import compose
        from cockpit.errors import NotFoundError, RolloutFailed
        from cockpit.executor import Executor
        from cockpit.journal import Journal, default_journal_path, find_open_incidents, read_journal
        from cockpit.runbook import load_runbook
        from cockpit.steps import StepContext

        load_step_kinds()
        runbook = load_runbook(args.runbook)
        target = runbook.target.to_target()
        if args.check or args.readonly:
            for step in runbook.steps:
                budget = f"  (budget {step.budget:.0f}s)" if step.budget else ""
                print(f"{step.index + 1}. [{step.kind}] {step.name}{budget}")
            if args.readonly:
                from cockpit.errors import ReadonlyError

                raise ReadonlyError(f"readonly: would run the {len(runbook.steps)} steps above; nothing was sent")
            return 0
        journal_path = args.journal
        if args.resume and journal_path is not None:
            _check_resumable(Path(journal_path), target)
        if args.resume and journal_path is None:
            from cockpit.fleet import is_fleet_journal

            mine = [p for p in find_open_incidents() if not is_fleet_journal(p)  # a fleet's: cockpit rollback --journal
                    and any(r.get("type") == "incident_opened" and r.get("target") == str(target) for r in read_journal(p)[:5])]
            if not mine:
                raise NotFoundError(f"no open incident for {target} to resume", hint="pass --journal PATH")
            journal_path = mine[-1]
        journal = Journal.open(journal_path or default_journal_path(str(target)))
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.output == "json" else \
            (lambda line: print(line, flush=True))
        ctx = StepContext(backends=compose.make_backends(args, {s.kind for s in runbook.steps}, target),
                          log=log, readonly=args.readonly,
                          namespace=target.namespace, target=target)
        try:
            from cockpit.state import replay

            done = replay(journal.read()) if args.resume else None
            finished = done is not None and done.run_status == "ok" and not done.pending
            # a run the journal says finished has nothing to write: no lock, not even a Lease
            lock = None if finished else compose.lock_target(ctx.backends, target, journal.actor)
            try:
                executor = Executor(runbook, journal, ctx)
                if args.resume:
                    result = executor.resume()
                else:
                    journal.append("incident_opened", target=str(target), kind=target.kind,
                                   reason=f"runbook {runbook.name}", runbook=str(args.runbook))
                    result = executor.run()
            finally:
                if lock is not None:
                    lock.release()
        finally:
            journal.close()
        if args.output == "json":
            from cockpit.output import print_json

            print_json({"runbook": runbook.name, "target": str(target), "status": result.status,
                        "journal": str(journal.path),
                        "steps": [{"index": st.index, "kind": st.kind, "name": st.name, "status": st.status,
                                   "elapsed_s": round(st.elapsed, 3), "over_budget": st.over_budget,
                                   "resumed": st.resumed, "data": st.data,
                                   "error": None if st.error is None else {"title": st.error.title, "message": str(st.error)}}
                                  for st in result.steps]})
        else:
            for step in result.steps:
                print(f"step {step.index + 1} {step.kind}: {step.status}{' (resumed)' if step.resumed else ''}"
                      f"{' OVER BUDGET' if step.over_budget else ''}")
            print(f"journal: {journal.path}")
        if result.ok:
            return 0
        if result.error is not None:
            raise result.error
        raise RolloutFailed(f"runbook {runbook.name} {result.status}")


def _check_resumable(path: Path, target: Any) -> None:
    """``--resume --journal PATH`` continues a run recorded there: with no such journal, or
    one that holds no run on ``target``, there is nothing to resume (NotFoundError, exit 3;
    nothing is created or run)."""
    from cockpit.errors import NotFoundError
    from cockpit.journal import read_journal
    from cockpit.state import replay

    if not path.exists():
        raise NotFoundError(f"nothing to resume: the journal {path} does not exist",
                            hint="run without --resume to start the runbook, or pass the journal of the interrupted run")
    state = replay(read_journal(path))
    if state.target != str(target) or state.run_status is None:
        holds = f"an incident on {state.target}" if state.target else "no incident"
        raise NotFoundError(f"nothing to resume: the journal {path} holds {holds} and no run of a runbook on {target}",
                            hint="run without --resume to start the runbook")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _add_globals(common, suppress=True)
    parser = _Parser(
        prog="cockpit",
        description="Rollback Cockpit: decide, roll back, verify and report when a deploy goes bad.\n"
        "Without a subcommand it opens the full-screen cockpit.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    _add_globals(parser, suppress=False)
    tui = parser.add_argument_group("cockpit (full screen)")
    tui.add_argument("--drill", action="store_true", help="practise on the embedded simulated world")
    tui.add_argument("--scenario", metavar="NAME", help="drill scenario (default: a picker)")
    tui.add_argument("--follow", metavar="PATH|URL", type=_follow_arg,
                     help="readonly: follow this incident journal, or the incidents mirrored at postgresql://… or redis://…")
    tui.add_argument("--theme", metavar="NAME", help="dark, light, high-contrast or mono")
    tui.add_argument("--ascii", action="store_true", help="no box drawing or emoji")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules(argv):
        module.register(sub, common)
    # What the composition root hands to commands with the parsed flags (backends never import it).
    parser.set_defaults(runbook_runner=_runbook_runner)
    return parser


def _follow_arg(value: str) -> Any:
    """``--follow``: a mirror's URL stays a string (``Path`` would fold its ``//``), else a path."""
    from cockpit.mirror import is_mirror_url

    return value if is_mirror_url(value) else Path(value)


def setup_mirror(args: argparse.Namespace, *, full_screen: bool) -> Any:
    """``--mirror URL`` / ``journal.mirror``: every journal this process opens writable is
    mirrored (headless commands and the full-screen cockpit alike). The URL from the flag is
    checked now (a bad one: exit 2); the config is read only when a journal is first opened,
    so commands that write none pay nothing. Readonly sessions mirror nothing; ``cockpit
    --readonly --mirror URL`` follows the incidents there (as ``--follow URL``). Returns the
    function that stops mirroring journals opened later."""
    flag = getattr(args, "mirror", None)
    if full_screen or flag:
        from backends.mirror import open_store
        from cockpit.mirror import set_store_opener

        set_store_opener(open_store)  # how a mirror's URL becomes a store (observers' --follow URL too)
    follows = full_screen and getattr(args, "follow", None) is not None  # --follow is readonly (run_app)
    if getattr(args, "readonly", False) or follows:
        if full_screen and flag and getattr(args, "follow", None) is None:
            from cockpit.mirror import check_url

            args.follow = check_url(flag)
        return lambda: None
    from cockpit.journal_hooks import add_open_hook

    if flag:
        open_store(flag, False)  # ConfigError (exit 2) before anything is done
    chosen: list[Any] = []

    def attach(journal: Any) -> None:
        if not chosen:
            chosen.append(_mirror_attacher(flag))
        if chosen[0] is not None:
            chosen[0](journal)

    return add_open_hook(attach)


def _mirror_attacher(flag: str | None) -> Any:
    """``journal → None`` that mirrors it (None: no mirror configured). A config that cannot
    be read is said once, and the journal goes on without a mirror."""
    from cockpit.mirror import configured

    try:
        cfg = configured()
    except CockpitError as exc:
        _say_error("mirror", f"not mirrored: {exc}")
        return None
    url, capacity, flush_s = flag or cfg.url, cfg.capacity, cfg.flush_s
    if not url:
        return None
    from backends.mirror import build_mirror

    return lambda journal: build_mirror(url, journal, False, warn=_mirror_warn, capacity=capacity, flush_s=flush_s)


def _mirror_warn(text: str) -> None:
    """The mirror's news (unreachable, caught up, not sent) on stderr; under the full-screen
    cockpit Textual captures it, and the status line and toasts say it there."""
    from cockpit.text import sanitize

    print(f"cockpit: {sanitize(text, max_len=600)}", file=sys.stderr, flush=True)


def _runbook_runner(args: argparse.Namespace, target: Any) -> Any:
    """``cockpit watch --runbook``: the runner of that runbook (see :func:`cockpit.compose.runbook_runner`)."""
    from cockpit.compose import runbook_runner

    return runbook_runner(args, target)


def _log_internal_error() -> Path | None:
    import traceback

    try:
        path = state_dir() / "cockpit.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        return path
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    stop_mirroring: Any = lambda: None
    try:
        stop_mirroring = setup_mirror(args, full_screen=handler is None)
        if handler is None:
            if args.drill and args.scenario and os.environ.get("COCKPIT_DRILL_INPROCESS") != "1":
                # Start the drill world first: it boots on the other core while Textual loads
                # (unless a crashed drill's world is there to resume: the app asks first).
                from cockpit.compose import drill_left_behind, start_drill_world

                if not drill_left_behind():
                    start_drill_world(args)
            from cockpit.app import run_app  # the full-screen cockpit (Textual)

            try:
                return run_app(args) or 0
            finally:
                world = getattr(args, "drill_world", None)
                if world is not None:
                    world.stop()
        return handler(args) or 0
    except CockpitError as exc:
        _say_error(exc.title, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("cockpit: aborted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 — the last line of defence: never a traceback
        where = _log_internal_error()
        _say_error("internal error", f"{type(exc).__name__}: {exc}" + (f" (traceback in {where})" if where else ""))
        return EXIT_INTERNAL
    finally:
        stop_mirroring()
