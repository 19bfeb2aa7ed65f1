"""The full-screen cockpit (Textual): composition root. Built in the TUI issue."""
from __future__ import annotations

import argparse

from cockpit.errors import CockpitError


def run_app(args: argparse.Namespace) -> int:
    raise CockpitError("the full-screen cockpit is not built yet; see `cockpit --help` for the headless commands")
