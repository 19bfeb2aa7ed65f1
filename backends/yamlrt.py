"""Round-trip YAML for the in-place rewrites of files people keep by hand (a Compose file's
image, a Helm values file's tag): ruamel.yaml keeping quotes, and a plain view of a document
to check that a rewrite changed nothing but the one value."""
from __future__ import annotations

from typing import Any


def round_trip() -> Any:
    """A ruamel.yaml round-trip loader/dumper that keeps quotes (imported on first use)."""
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    return y


def plain(node: Any) -> Any:
    """``node`` as plain dicts, lists and scalars (strings for anything else) for comparisons."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node if node is None or isinstance(node, (bool, int, float)) else str(node)
