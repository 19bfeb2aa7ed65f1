"""Headless Kubernetes commands: history, rollback, status."""
from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pass
