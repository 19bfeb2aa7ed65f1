"""``cockpit world serve``: run a world in the foreground until SIGINT/SIGTERM."""
from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from cockpit.world.world import World


def serve(kubeconfig: Path, port: int = 0, scenario: str = "healthy", speed: float = 1.0,
          forbid: Sequence[str] = (), keepalive: Path | None = None, grace_s: float = 300.0) -> int:
    """Start a world, write ``kubeconfig`` (context ``cockpit-drill``), print one ready line,
    and serve until SIGINT or SIGTERM. Returns 0 on a clean stop. ``forbid`` names resources
    (plural, e.g. ``leases``) that every request is refused with 403 Forbidden, as by RBAC.

    ``keepalive``: a file its owner touches every few seconds; when it has not been touched for
    ``grace_s`` (the owning cockpit crashed and nobody resumed the drill), the world stops by
    itself. Until then a new ``cockpit --drill`` can resume the drill against this very world.

    Raises :class:`cockpit.errors.ConfigError` for an unknown or malformed scenario.
    """
    from cockpit.errors import ConfigError
    from cockpit.world.resources import RESOURCES

    unknown = [r for r in forbid if r not in RESOURCES]
    if unknown:
        raise ConfigError(f"cannot forbid {', '.join(unknown)}: the world serves {', '.join(sorted(RESOURCES))}")
    world = World(scenario=scenario, speed=speed, port=port, forbid=forbid)
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        world.start()
        path = world.write_kubeconfig(Path(kubeconfig))
        print(f"world ready: scenario={world.scenario.name} api={world.url} kubeconfig={path}", flush=True)
        while not done.wait(0.5):
            if keepalive is not None and _untouched_for(keepalive) > grace_s:
                print("world stopping: nobody has kept it alive", file=sys.stderr, flush=True)
                break
    finally:
        world.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    sys.stdout.flush()
    return 0


def _untouched_for(path: Path) -> float:
    import time

    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


def main(argv: list[str] | None = None) -> int:
    """``python -m cockpit.world.serve KUBECONFIG [PORT] [SCENARIO] [SPEED]`` (for debugging)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m cockpit.world.serve")
    p.add_argument("--kubeconfig", required=True, type=Path)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--scenario", default="healthy")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--forbid", action="append", default=[], metavar="RESOURCE")
    a = p.parse_args(argv)
    return serve(a.kubeconfig, a.port, a.scenario, a.speed, a.forbid)


if __name__ == "__main__":
    raise SystemExit(main())
