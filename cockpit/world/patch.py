"""The three patch types the API server accepts: JSON patch, JSON merge patch, strategic merge.

Strategic merge knows the merge keys of the lists kubectl patches (containers by ``name``,
container ports by ``containerPort``, service ports by ``port``, env by ``name``...) and the
directives kubectl sends: ``$patch: replace|delete|merge``, ``$setElementOrder/<list>``,
``$retainKeys``, ``$deleteFromPrimitiveList/<list>``. All functions return new objects and
never modify their input.
"""
from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """The patch is malformed or does not apply (the API answers 422 / 400)."""


# ---------------------------------------------------------------------------- JSON patch


def _decode_pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError(f"path {path!r} not found: missing key {p!r}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError(f"path {path!r} not found: bad index {p!r}") from None
        else:
            raise PatchError(f"path {path!r} not found")
    return cur


def _json_patch_op(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    path = op.get("path")
    if not isinstance(path, str):
        raise PatchError("every operation needs a string 'path'")
    parts = _decode_pointer(path)
    if kind == "test":
        if _walk(doc, parts, path) != op.get("value"):
            raise PatchError(f"test failed at {path!r}")
        return doc
    if kind in ("move", "copy"):
        src = op.get("from")
        if not isinstance(src, str):
            raise PatchError(f"{kind} needs 'from'")
        value = copy.deepcopy(_walk(doc, _decode_pointer(src), src))
        if kind == "move":
            doc = _json_patch_op(doc, {"op": "remove", "path": src})
        return _json_patch_op(doc, {"op": "add", "path": path, "value": value})
    if kind not in ("add", "remove", "replace"):
        raise PatchError(f"unknown JSON patch operation {kind!r}")
    if kind != "remove" and "value" not in op:
        raise PatchError(f"{kind} at {path!r} needs a 'value'")
    if not parts:
        if kind == "remove":
            raise PatchError("cannot remove the whole document")
        return copy.deepcopy(op["value"])
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if kind in ("remove", "replace") and last not in parent:
            raise PatchError(f"path {path!r} not found: missing key {last!r}")
        if kind == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(op["value"])
    elif isinstance(parent, list):
        if last == "-" and kind == "add":
            parent.append(copy.deepcopy(op["value"]))
            return doc
        try:
            idx = int(last)
        except ValueError:
            raise PatchError(f"bad list index {last!r} in {path!r}") from None
        limit = len(parent) if kind == "add" else len(parent) - 1
        if idx < 0 or idx > limit:
            raise PatchError(f"index {idx} out of range in {path!r}")
        if kind == "add":
            parent.insert(idx, copy.deepcopy(op["value"]))
        elif kind == "remove":
            del parent[idx]
        else:
            parent[idx] = copy.deepcopy(op["value"])
    else:
        raise PatchError(f"path {path!r} does not point into an object or array")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch (a list of operations)."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("every JSON patch operation must be an object")
        out = _json_patch_op(out, op)
    return out


# ----------------------------------------------------------------------- JSON merge patch


def merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# -------------------------------------------------------------------- strategic merge patch

# list field name → merge key (lists not named here are replaced wholesale)
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
# lists of scalars merged as sets
PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def _merge_list(field: str, orig: list[Any], patch: list[Any], order: list[Any] | None) -> list[Any]:
    if field in PRIMITIVE_MERGE and all(not isinstance(p, (dict, list)) for p in patch):
        out = list(orig)
        for p in patch:
            if p not in out:
                out.append(p)
        return out
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip_directives(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    key = _merge_key(field, patch or orig)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return _strip_directives(patch)
    out = [copy.deepcopy(o) for o in orig]
    for p in patch:
        if key not in p:
            raise PatchError(f"strategic merge patch: an item of {field!r} lacks its merge key {key!r}")
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == p[key]), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(_strip_directives(p))
        else:
            out[idx] = strategic_merge(out[idx], p)
    if order:
        rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}
        out.sort(key=lambda o: rank.get(o.get(key), len(rank)))
    return out


def strategic_merge(doc: Any, patch: Any) -> Any:
    """Apply a Kubernetes strategic merge patch to ``doc``."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return None
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [v for v in out[name] if v not in (value or [])]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            order = patch.get(f"$setElementOrder/{key}")
            orig = out.get(key) if isinstance(out.get(key), list) else []
            out[key] = _merge_list(key, orig, value, order)
        else:
            out[key] = value
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out
