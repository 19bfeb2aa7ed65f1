"""Label and field selectors, parsed the way the Kubernetes API server parses them.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``,
comma-separated (all must hold). Field selectors: ``path=value``, ``path==value``,
``path!=value`` over dotted paths such as ``metadata.name`` or ``involvedObject.uid``.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_LABEL_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"


class SelectorError(ValueError):
    """The selector string does not parse."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "=":
            return labels.get(self.key) == self.values[0]
        if op == "!=":
            return labels.get(self.key) != self.values[0]
        if op == "in":
            return self.key in labels and labels[self.key] in self.values
        if op == "notin":
            return labels.get(self.key) not in self.values
        if op == "exists":
            return self.key in labels
        return self.key not in labels  # "!"


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(rf"^({_LABEL_KEY})\s+(in|notin)\s*\(([^)]*)\)$")
_EQ_RE = re.compile(rf"^({_LABEL_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_LABEL_KEY})$")


def parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse a label selector string into requirements (empty selector → matches all)."""
    if not text:
        return ()
    reqs: list[Requirement] = []
    for part in _split_top(text):
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(4).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(3), values))
        elif m := _EQ_RE.match(part):
            op = "=" if m.group(3) in ("=", "==") else "!="
            reqs.append(Requirement(m.group(1), op, (m.group(4),)))
        elif m := _EXISTS_RE.match(part):
            reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {part!r}")
    return tuple(reqs)


def selector_from_label_selector(sel: Mapping[str, Any] | None) -> tuple[Requirement, ...]:
    """Turn a ``metav1.LabelSelector`` (matchLabels / matchExpressions) into requirements."""
    if not sel:
        return ()
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())))
    return tuple(reqs)


def format_label_selector(sel: Mapping[str, Any] | None) -> str:
    """The string form (``app=web,tier in (a,b)``) of a ``metav1.LabelSelector``."""
    out = []
    for r in selector_from_label_selector(sel):
        if r.op in ("=", "!="):
            out.append(f"{r.key}{r.op}{r.values[0]}")
        elif r.op in ("in", "notin"):
            out.append(f"{r.key} {r.op} ({','.join(sorted(r.values))})")
        elif r.op == "exists":
            out.append(r.key)
        else:
            out.append(f"!{r.key}")
    return ",".join(out)


def matches(reqs: tuple[Requirement, ...], labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


def equality_terms(reqs: tuple[Requirement, ...]) -> list[tuple[str, str]]:
    """The ``key=value`` requirements, usable for an index lookup."""
    return [(r.key, r.values[0]) for r in reqs if r.op == "="]


_FIELD_RE = re.compile(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$")


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def parse_field_selector(text: str | None) -> Callable[[Mapping[str, Any]], bool] | None:
    """Parse a field selector into a predicate over the object (``None`` → matches all)."""
    if not text:
        return None
    terms = []
    for part in _split_top(text):
        m = _FIELD_RE.match(part)
        if not m:
            raise SelectorError(f"invalid field selector: {part!r}")
        terms.append((m.group(1), m.group(2) != "!=", m.group(3).strip()))

    def pred(obj: Mapping[str, Any]) -> bool:
        for path, eq, value in terms:
            if (_field_value(obj, path) == value) != eq:
                return False
        return True

    pred.terms = terms  # type: ignore[attr-defined]
    return pred


def field_equals(text: str | None, path: str) -> str | None:
    """The value a field selector pins ``path`` to with ``=``, if any (for index lookups)."""
    if not text:
        return None
    for part in _split_top(text):
        m = _FIELD_RE.match(part)
        if m and m.group(1) == path and m.group(2) != "!=":
            return m.group(3).strip()
    return None
