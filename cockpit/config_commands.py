"""``cockpit config``: the JSON schema, the effective settings, the runbook importer."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "config",
        parents=[common],
        help="settings: schema, effective values, import a runbook's rollback-config.json",
        description="Settings come from defaults ← $XDG_CONFIG_HOME/cockpit/config.yaml (or $COCKPIT_CONFIG_FILE) "
        "← COCKPIT_ environment variables (nested with __, e.g. COCKPIT_WATCH__INTERVAL_S=2) ← flags.",
    )
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    schema = csub.add_parser("schema", help="print the JSON schema of config.yaml")
    schema.set_defaults(handler=_schema)
    show = csub.add_parser("show", help="print the effective settings (secrets masked)")
    show.add_argument("--config", metavar="FILE", type=Path, help="config file (default: the XDG one)")
    show.set_defaults(handler=_show)
    path = csub.add_parser("path", help="print where the config file is looked for")
    path.set_defaults(handler=_path)
    imp = csub.add_parser(
        "import",
        help="translate a runbook's rollback-config.json into config.yaml",
        description="Reads triggers.autoRollback.{errorRate,responseTime,availability} and "
        "recovery.{healthCheckInterval,stabilizationPeriod}; prints YAML for config.yaml.",
    )
    imp.add_argument("file", type=Path, metavar="ROLLBACK_CONFIG_JSON")
    imp.set_defaults(handler=_import)


def _schema(args: argparse.Namespace) -> int:
    from cockpit.config import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _show(args: argparse.Namespace) -> int:
    from cockpit.config import load_settings, public_dict, to_yaml
    from cockpit.output import print_json

    settings = load_settings(file=getattr(args, "config", None))
    data = public_dict(settings)
    if getattr(args, "output", "text") == "json":
        print_json(data)
    else:
        print(to_yaml(data), end="")
    return 0


def _path(args: argparse.Namespace) -> int:
    from cockpit.config import default_config_file

    f = default_config_file()
    print(f"{f}{'' if f.exists() else '  (does not exist: defaults apply)'}")
    return 0


def _import(args: argparse.Namespace) -> int:
    import sys

    from cockpit.config import import_rollback_config, to_yaml

    data, notes = import_rollback_config(args.file)
    print(f"# imported from {args.file}", flush=True)
    print(to_yaml(data), end="")
    for n in notes:
        print(f"cockpit: note: {n}", file=sys.stderr)
    return 0
