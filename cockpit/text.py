"""The one boundary where untrusted text (names, annotations, logs, events) is made inert.

Everything that came from a cluster, a container, a database or a log passes through
:func:`sanitize` before it enters a model or a line of output. Outside text stays *visible
and honest*: nothing is deleted, every control is shown in an escaped, inert form instead —
ESC as ``\\e`` (so an OSC 52 clipboard write reads ``\\e]52;c;…\\a``), BEL ``\\a``, other C0
and C1 controls ``\\xNN``, bidi and invisible format characters (U+202E, U+2066, U+200B...)
``\\uNNNN``, a lone surrogate ``\\udNNN``. A value made only of escape sequences is therefore
never empty, and an unterminated OSC cannot hide the rest of the string (there is no
sequence left for a terminal to parse). Line controls — ``\\n``, ``\\r\\n``, U+2028, U+2029
and NEL — are line breaks: kept with ``keep_newlines``, else a space. Tabs become spaces;
absurd lengths are capped. Markup is *not* escaped here: screens render the result as
``Content`` / ``Text`` (never as markup), which keeps ``[@click=...]`` literal, and the report
escapes it for Markdown.

:func:`redact_url` and :func:`redact_secrets` remove credentials from text that is shown or
journaled (URL passwords, ``password=`` / ``token=`` pairs, bearer and basic credentials).
"""
from __future__ import annotations

import base64
import binascii
import re

MAX_LEN = 4096

# Line controls: the break itself is kept (keep_newlines) or becomes a space.
_LINE_BREAKS = re.compile("\r\n|[\u2028\u2029\x85]")
# Every other control: C0 (but \t and \n, handled apart), DEL, C1, the bidi controls (LRM,
# RLM, ALM, LRE..RLO, LRI..PDI), invisible format characters (soft hyphen, zero width space,
# word joiner, invisible operators, deprecated format controls, BOM, interlinear
# annotations, tag characters) and lone surrogates (which cannot even be encoded).
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
_NAMED = {"\x00": "\\0", "\x07": "\\a", "\x08": "\\b", "\x0b": "\\v", "\x0c": "\\f", "\r": "\\r", "\x1b": "\\e"}
# An escape cut in half by the length cap (``\x1`` or ``\u20``) is dropped, not shown torn.
_TORN_ESCAPE = re.compile(r"\\(?:x[0-9a-f]?|u[0-9a-f]{0,3}|U[0-9a-f]{0,7})?$")


def visible(ch: str) -> str:
    """The inert, printable form of one control character (``\\e``, ``\\x9b``, ``\\u202e``)."""
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    if o <= 0xFF:
        return f"\\x{o:02x}"
    if o <= 0xFFFF:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def sanitize(value: object, *, max_len: int = MAX_LEN, keep_newlines: bool = False) -> str:
    """Return ``value`` as plain, terminal-safe text, every control shown escaped.

    >>> sanitize("ok\\x1b[31mred\\u202e")
    'ok\\\\e[31mred\\\\u202e'
    >>> sanitize("a\\u2028b")
    'a b'
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _LINE_BREAKS.sub("\n", text.replace("\t", "    "))
    if not keep_newlines:
        text = text.replace("\n", " ")
    text = _CONTROLS.sub(lambda m: visible(m.group()), text)
    if len(text) > max_len:
        text = _TORN_ESCAPE.sub("", text[: max_len - 1]) + "…"
    return text


# --------------------------------------------------------------------------- secrets

_URL_USERINFO = re.compile(r"(//[^:/@\s]*):[^/\s]*@")
_SECRET_PAIR = re.compile(r"(?i)(password|passwd|token|secret|key)=([^&\s]+)")
# An Authorization-like header (or JSON/YAML key) with its value: the scheme stays, the
# credential goes ("Authorization: Bearer ***").
_AUTH_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)([\"']?\s*[:=]\s*[\"']?)"
    r"(?:(bearer|basic|token|digest|negotiate|apikey)\s+)?([^\s\"',;]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)(?!\*\*\*)([A-Za-z0-9\-._~+/]{8,}=*)")
_BASIC = re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])")


def redact_url(url: str) -> str:
    """Drop the password (and any token-like query) from a URL or DSN for display."""
    url = _URL_USERINFO.sub(r"\1:***@", url)
    url = _SECRET_PAIR.sub(r"\1=***", url)
    return url


def _basic(m: re.Match[str]) -> str:
    """``Basic <base64 of user:password>`` loses the credential; ``basic checks`` stays."""
    try:
        decoded = base64.b64decode(m.group(3) + "=" * (-len(m.group(3)) % 4), validate=True)
    except (binascii.Error, ValueError):
        return m.group()
    return f"{m.group(1)}{m.group(2)}***" if b":" in decoded else m.group()


def redact_secrets(text: str) -> str:
    """:func:`redact_url` plus bearer/basic credentials and Authorization-like headers.

    For streamed output (``exec`` steps) and anything journaled: a command that prints
    ``postgresql://app:S3cr3t@db/x`` or ``Authorization: Bearer eyJ...`` shows and journals
    ``postgresql://app:***@db/x`` and ``Authorization: Bearer ***``.
    """
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) + ' ' if m.group(3) else ''}***", text)
    text = _BEARER.sub(r"\1\2***", text)
    text = _BASIC.sub(_basic, text)
    return redact_url(text)
