"""``cockpit watch``: the headless watch loop (placeholder until the loop lands)."""
from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pass
