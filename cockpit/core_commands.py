"""Subcommands that need only the core: ``world serve`` and ``journal show``.

(The composition root, :mod:`cockpit.cli`, owns the ones that need backends.)
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    world = sub.add_parser("world", parents=[common], help="the embedded simulated world (drills, tests)")
    wsub = world.add_subparsers(dest="world_command", metavar="ACTION", required=True)
    serve = wsub.add_parser("serve", help="serve a simulated cluster on loopback")
    serve.add_argument("--kubeconfig", dest="world_kubeconfig", metavar="PATH", type=Path, required=True,
                       help="where to write the kubeconfig (context cockpit-drill)")
    serve.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    serve.add_argument("--scenario", default="healthy", help="scenario name or YAML file (default: healthy)")
    serve.add_argument("--speed", type=float, default=1.0, help="simulated time speed-up (default: 1.0)")
    serve.set_defaults(handler=_world_serve)


def _world_serve(args: argparse.Namespace) -> int:
    from cockpit.drill.serve import serve

    return serve(args.world_kubeconfig, port=args.port, scenario=args.scenario, speed=args.speed)


def open_cockpit(args: argparse.Namespace) -> int:
    """No subcommand: the full-screen cockpit (see cockpit.app)."""
    from cockpit.errors import CockpitError

    raise CockpitError("the full-screen cockpit is not built yet; see `cockpit --help` for the headless commands")
