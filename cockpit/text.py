"""The one boundary where untrusted text (names, annotations, logs, events) is made inert.

Everything that came from a cluster, a container, a database or a log passes through
:func:`sanitize` before it enters a model or a line of output. It removes terminal escape
sequences (CSI, OSC, DCS...), every C0/C1 control character and every bidi control, turns
tabs into spaces and caps absurd lengths. Markup is *not* escaped here: screens render the
result as ``rich.text.Text`` / ``Content`` (never as markup), which keeps ``[@click=...]``
literal.
"""
from __future__ import annotations

import re

MAX_LEN = 4096

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST), DCS/SOS/PM/APC
# (ESC P/X/^/_ ... ST) and two-byte escapes. Also the 8-bit CSI (0x9b) and OSC (0x9d) forms.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS / SOS / PM / APC
  | \x1b[@-Z\\-_]                      # two-byte escapes
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x9d[^\x07\x9c]*(?:\x07|\x9c)?     # 8-bit OSC
    """,
    re.VERBOSE,
)
# C0 (minus \n which callers may keep), DEL, C1, and the bidi controls (LRE..RLO, LRI..PDI,
# LRM, RLM, ALM).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def sanitize(value: object, *, max_len: int = MAX_LEN, keep_newlines: bool = False) -> str:
    """Return ``value`` as plain, terminal-safe text.

    >>> sanitize("ok\\x1b[31mred\\x1b[0m\\u202e")
    'okred'
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\t", "    ").replace("\r\n", "\n")
    text = _ESCAPES.sub("", text)
    if keep_newlines:
        text = _CONTROLS.sub("", text)
    else:
        text = _CONTROLS.sub("", text.replace("\n", " "))
    if len(text) > max_len:
        text = text[: max_len - 1] + "…"
    return text


def redact_url(url: str) -> str:
    """Drop the password (and any token-like query) from a URL or DSN for display."""
    url = re.sub(r"(//[^:/@\s]*):[^@/\s]*@", r"\1:***@", url)
    url = re.sub(r"(?i)(password|passwd|token|secret|key)=([^&\s]+)", r"\1=***", url)
    return url
