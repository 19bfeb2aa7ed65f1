"""Set one value (an image tag) in a Helm values file, everything else kept byte for byte.

As the Compose rewrite (:mod:`backends.docker.compose`): ruamel.yaml (round-trip) finds
where the scalar at the dotted key (``image.tag``, ``api.image.tag``) starts; just that scalar
is replaced in the original text (its quoting kept; a tag YAML would read as a number or a
boolean, ``1.10`` or ``on``, is quoted), and both documents are parsed to check that the only
difference is that value. A key that is not there, is not a scalar, or holds a template
expression (``{{ .Values.x }}``, ``${VAR}``) is refused, naming it.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from backends.yamlrt import plain, round_trip, scalar_end
from cockpit.errors import ConfigError, NotFoundError
from cockpit.text import sanitize

_TEMPLATE = re.compile(r"\{\{|\$\{|\{%")




def _walk(data: Any, key: str, source: str) -> tuple[Any, str]:
    """(the mapping that holds the last part, the last part)."""
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"{source}: {sanitize(key, max_len=100)!r} is not a dotted key such as image.tag")
    node = data
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:i]) or "the top level"
            raise NotFoundError(f"{source}: key {sanitize(key, max_len=100)!r} not found (no {part!r} under {where})")
        if i == len(parts) - 1:
            return node, part
        node = node[part]
    raise AssertionError("unreachable")


def get_value(text: str, key: str, *, source: str = "values file") -> Any:
    holder, last = _walk(round_trip().load(text) or {}, key, source)
    return holder[last]


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as that string."""
    import yaml

    if re.match(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$", value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scalar_source(text: str, key: str, *, source: str = "values file") -> str:
    """The scalar at ``key`` as written in ``text`` (``42``, ``"1.10"``, ``'v2'``), quotes kept:
    what a put-back writes so the file reads as it did (``42`` stays a number)."""
    holder, last = _walk(round_trip().load(text) or {}, key, source)
    line, col = holder.lc.value(last)
    row = text.splitlines(keepends=True)[line]
    end, _ = scalar_end(row, col, holder.fa.flow_style())
    return row[col:end]


def set_value(text: str, key: str, value: str, *, source: str = "values file",
              verbatim: bool = False) -> tuple[str, str]:
    """(new text, old value) with the scalar at ``key`` set to the string ``value`` — or, with
    ``verbatim``, to the scalar source ``value`` (from :func:`scalar_source`) as written."""
    y = round_trip()
    data = y.load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: not a YAML mapping")
    holder, last = _walk(data, key, source)
    old = holder[last]
    if isinstance(old, (dict, list)) or old is None:
        raise ConfigError(f"{source}: {sanitize(key, max_len=100)!r} is not a scalar value (it is "
                          f"{'a mapping' if isinstance(old, dict) else 'a list' if isinstance(old, list) else 'empty'})")
    if _TEMPLATE.search(str(old)):
        raise ConfigError(f"{source}: {sanitize(key, max_len=100)!r} is a template expression "
                          f"({sanitize(old, max_len=80)!r}); set what it refers to instead")
    if _TEMPLATE.search(value) or "\n" in value:
        raise ConfigError(f"refusing to write {sanitize(value, max_len=80)!r} into {sanitize(key, max_len=100)!r}: "
                          "not a plain tag")
    line, col = holder.lc.value(last)
    lines = text.splitlines(keepends=True)
    row = lines[line]
    end, q = scalar_end(row, col, holder.fa.flow_style())
    if verbatim:
        new_scalar = value
    elif q == "'":
        new_scalar = q + value.replace("'", "''") + q
    elif q and value:
        new_scalar = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        new_scalar = _scalar(value)
    lines[line] = row[:col] + new_scalar + row[end:]
    new_text = "".join(lines)
    expect = plain(data)
    target = expect
    for part in key.split(".")[:-1]:
        target = target[part]
    target[last] = plain(y.load(f"v: {value}\n"))["v"] if verbatim else value
    if plain(y.load(new_text)) != expect:
        raise ConfigError(f"{source}: could not rewrite {sanitize(key, max_len=100)!r} safely (unusual YAML); "
                          "edit it by hand")
    return new_text, str(old)


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rewrite_file(path: Path, key: str, value: str, *, verbatim: bool = False) -> tuple[bytes, str]:
    """Set ``key`` to ``value`` in ``path`` atomically; (the original bytes, the old value)."""
    try:
        original = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"values file {path} does not exist") from None
    text = original.decode("utf-8")
    new_text, old = set_value(text, key, value, source=str(path), verbatim=verbatim)
    if new_text != text:
        write_atomic(path, new_text.encode("utf-8"))
    return original, old
