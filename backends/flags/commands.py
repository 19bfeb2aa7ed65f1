"""Headless feature-flag commands: ``cockpit flag off|on|show``.

``cockpit flag off FEATURE --project P --env ENV`` is the runbooks' "quick disable": readonly
refuses before anything is sent; an unknown flag is exit 3 listing the project's flags; the
state before goes into an fsynced intent, the switch is sent, the state read back goes into
the outcome. A flag already off is left alone (exit 0, nothing sent). With ``--journal`` an
intent left pending by a crash is reconciled first: the flag already in that intent's state
→ closed as taken effect, nothing sent again.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    fl = sub.add_parser("flag", parents=[common], help="feature flags (Unleash): quick disable, enable, show")
    fsub = fl.add_subparsers(dest="flag_command", metavar="ACTION", required=True)

    def service_args(p: argparse.ArgumentParser, feature_required: bool = True) -> None:
        if feature_required:
            p.add_argument("feature", metavar="FEATURE", help="the flag's name")
        else:
            p.add_argument("feature", metavar="FEATURE", nargs="?", default=None,
                           help="the flag's name (omitted: list the project's flags)")
        p.add_argument("--project", default="default", help="the flag's project (default: default)")
        p.add_argument("--env", dest="environment", required=feature_required, default=None, metavar="ENV",
                       help="the environment, e.g. production")
        p.add_argument("--provider", default="unleash", choices=["unleash"], help="the flag service")
        p.add_argument("--url", default=None, help="the service's URL (default: $UNLEASH_URL); "
                                                   "token from $UNLEASH_API_TOKEN")

    off = fsub.add_parser("off", parents=[common], help="switch a flag off in one environment (the quick disable)")
    service_args(off)
    off.set_defaults(handler=_switch, target_enabled=False)
    on = fsub.add_parser("on", parents=[common], help="switch a flag on in one environment (undo the disable)")
    service_args(on)
    on.set_defaults(handler=_switch, target_enabled=True)
    show = fsub.add_parser("show", parents=[common], help="a flag's state in an environment, or the project's flags")
    service_args(show, feature_required=False)
    show.set_defaults(handler=_show)


def _service(args: argparse.Namespace) -> Any:
    from backends.flags import open_service

    return open_service(args.provider, url=args.url, readonly=bool(getattr(args, "readonly", False)))


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _switch(args: argparse.Namespace) -> int:
    from cockpit.flags import FlagRef, onoff, refuse_readonly, resume_pending, set_flag
    from cockpit.journal import Journal, default_journal_path, read_journal
    from cockpit.output import emit

    ref = FlagRef(args.feature, args.project, args.environment)
    enabled = bool(args.target_enabled)
    with _service(args) as svc:
        refuse_readonly(svc, ref, enabled)  # before anything is sent, not even a read
        explicit = getattr(args, "journal", None)
        path = explicit or default_journal_path(f"flag-{args.feature}-{args.environment}")
        records: list[dict] = []
        if explicit:
            try:
                records = read_journal(path)
            except Exception:  # noqa: BLE001 — a new file; Journal.open says what is wrong with a bad one
                records = []
        with Journal.open(path) as journal:
            done = resume_pending(svc, ref, journal, records) if records else None
            if done is not None and done.get("after") == onoff(enabled):
                _say(f"the interrupted switch had taken effect: {ref.describe()} is {done['after']} — nothing sent")
                change_row = {**done, "sent": False}
            else:
                change = set_flag(svc, ref, enabled, journal=journal)
                change_row = change.as_dict()
                if not change.sent:
                    _say(f"{ref.describe()} was already {onoff(enabled)} — nothing sent")
        _say(f"journal: {path}")
    emit(args, change_row, ["FLAG", "PROJECT", "ENV", "BEFORE", "AFTER", "SENT"],
         [[ref.feature, ref.project, ref.environment, change_row.get("before") or "?", change_row["after"],
           "yes" if change_row.get("sent") else "no"]])
    return 0


def _show(args: argparse.Namespace) -> int:
    from cockpit.errors import ConfigError
    from cockpit.flags import FlagRef, onoff, read_state
    from cockpit.output import emit

    with _service(args) as svc:
        if args.feature is None:
            names = svc.list_flags(args.project)
            emit(args, {"project": args.project, "flags": names}, ["FLAG"], [[n] for n in names])
            return 0
        if not args.environment:
            raise ConfigError("flag show FEATURE needs --env ENV")
        st = read_state(svc, FlagRef(args.feature, args.project, args.environment))
    emit(args, {"provider": svc.provider, "feature": st.ref.feature, "project": st.ref.project,
                "environment": st.ref.environment, "state": onoff(st.enabled), "environments": list(st.environments)},
         ["FLAG", "PROJECT", "ENV", "STATE"], [[st.ref.feature, st.ref.project, st.ref.environment, onoff(st.enabled)]])
    return 0
