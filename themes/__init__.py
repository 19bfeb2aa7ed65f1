"""Themes: YAML files (dark, light, high-contrast, mono) loaded into Textual ``Theme`` s, and
the cockpit's stylesheet. Colours are chosen to read at 256 colours (COLORTERM is often not
forwarded over SSH); ``NO_COLOR`` selects ``mono``; ``ascii.tcss`` removes box drawing."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

HERE = Path(__file__).parent
NAMES = ("dark", "light", "high-contrast", "mono")
CSS_PATH = HERE / "cockpit.tcss"
ASCII_CSS_PATH = HERE / "ascii.tcss"
FIELDS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "boost",
          "warning", "error", "success", "dark", "variables")


def load_themes() -> list:
    """Every ``themes/*.yaml`` as a Textual Theme named ``cockpit-<name>``. A broken file is
    skipped (the built-in fallback applies), never a crash."""
    from textual.theme import Theme

    out = []
    for path in sorted(HERE.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            kwargs = {k: v for k, v in data.items() if k in FIELDS}
            out.append(Theme(name=f"cockpit-{path.stem}", **kwargs))
        except Exception:  # noqa: BLE001 — a bad theme file must not stop an incident
            continue
    return out


def choose(name: str | None, env: dict | None = None) -> str:
    """The theme to use: ``--theme`` wins, then NO_COLOR → mono, else dark."""
    env = os.environ if env is None else env
    if name:
        name = name.removeprefix("cockpit-")
        if name not in NAMES:
            from cockpit.errors import ConfigError

            raise ConfigError(f"--theme: unknown theme {name!r}; expected one of {', '.join(NAMES)}")
        return f"cockpit-{name}"
    if env.get("NO_COLOR"):
        return "cockpit-mono"
    return "cockpit-dark"
