"""Round-trip YAML for the in-place rewrites of files people keep by hand (a Compose file's
image, a Helm values file's tag): ruamel.yaml keeping quotes, and a plain view of a document
to check that a rewrite changed nothing but the one value."""
from __future__ import annotations

import re
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


def scalar_end(row: str, col: int, flow: bool) -> tuple[int, str]:
    """Where the scalar that starts at ``row[col]`` ends (an index into ``row``) and its quote
    (``'``, ``"``, or "" for a plain scalar): a quoted one after its closing quote (``''`` and
    ``\\"`` escapes skipped); a plain one before a comment or, in flow style (``flow``), before
    ``,``, ``}`` or ``]``, trailing blanks left out."""
    rest = row[col:]
    if rest.startswith(("'", '"')):
        q, end = rest[0], 1
        while True:
            end = rest.index(q, end)
            if q == "'" and rest[end + 1:end + 2] == "'":
                end += 2
                continue
            if q == '"' and rest[end - 1] == "\\":
                end += 1
                continue
            return col + end + 1, q
    stop = len(rest.rstrip("\r\n"))
    m = re.search(r"\s#", rest)
    if m:
        stop = min(stop, m.start())
    if flow:
        m = re.search(r"[,}\]]", rest)
        if m:
            stop = min(stop, m.start())
    return col + len(rest[:stop].rstrip()), ""
