"""Outside text in Markdown: escaped so that, rendered, it reads as itself and is never a
link, an image or HTML (see :mod:`cockpit.report`, whose template is the only source of
those). Escaped for Markdown, not for HTML: a backslash before every metacharacter and
before what an autolinker starts a link at; never ``&gt;``.
"""
from __future__ import annotations

import re
from typing import Any

from cockpit.text import sanitize

# Markdown metacharacters; and what an autolinker (GFM, linkify) starts a link at: a scheme's
# "://", a dot before a letter ("evil.com", "www."), an at sign (e-mail).
_MD_META = re.compile(r"[\\`*_\[\]()!#<>|~&$]|:(?=//)|\.(?=[^\W\d_])|@")
_MD_LINE_START = re.compile(r"^(?:([-+=])|(\d+)([.)]))")


def md_escape(text: str) -> str:
    """``text`` (already sanitized, one line) as inert Markdown that renders as itself."""
    out = _MD_META.sub(lambda m: "\\" + m.group(), text)
    return _MD_LINE_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else f"{m.group(2)}\\{m.group(3)}", out)


def md_text(value: Any, max_len: int = 500) -> str:
    """Outside text, sanitized and escaped: safe in running text and in a table cell."""
    return md_escape(sanitize("" if value is None else value, max_len=max_len))


def md_code(value: Any, max_len: int = 500) -> str:
    """Outside text as a code span (nothing inside one is a link, an image or HTML)."""
    text = sanitize("" if value is None else value, max_len=max_len)
    if not text:
        return "—"
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_image(alt: str, path: Any) -> str:
    """The template's image of the final dashboard: a local image file only; anything
    else — a scheme (``https:``, ``javascript:``, ``data:``), not an image — is shown as
    code, never fetched."""
    dest = sanitize(path, max_len=500)
    if (re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", dest) or dest.startswith("//")
            or not re.search(r"\.(svg|png|jpe?g)$", dest, re.IGNORECASE)):
        return f"Screenshot: {md_code(dest)} (not embedded: not a local image file)"
    if re.fullmatch(r"[A-Za-z0-9._/~-]+", dest):
        return f"![{alt}]({dest})"
    escaped = re.sub(r"([<>\\])", r"\\\1", dest)
    return f"![{alt}](<{escaped}>)"
