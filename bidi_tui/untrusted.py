"""The one boundary for text that an endpoint sent: make it safe before anything shows it.

A status message, a BiDi error, an HTTP reason phrase, a ``Location`` header, a close reason
or a meta value can hold terminal escapes (OSC 52 writes the clipboard, ``ESC[2J`` blanks the
screen), C1 controls, lone surrogates (which crash an encoder) or bidi overrides (which make
text lie about its order). :func:`safe_text` turns all of them into visible, inert stand-ins
and bounds the length; every view (the CLI table, the dashboard, the detail view,
notifications, logs) shows only :class:`SafeText`, and builds it into ``Text``/``Content``
objects, never into markup.

JSON output stays faithful instead (JSON escaping is safe), but strict:
:func:`strict_json_dumps` writes what RFC 8259 parsers accept.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# How much of one untrusted string a table cell or a one-line output shows.
CELL_LIMIT = 200
# The detail view shows the whole text, but not without end (a frame is at most 1 MiB).
DETAIL_LIMIT = 64 * 1024
ELLIPSIS = "…"

_BIDI_CONTROLS = (
    "\u061c\u200e\u200f"  # ALM, LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
)


def _stand_ins(multiline: bool) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        table[code] = chr(0x2400 + code)  # control pictures: ␀ … ␟, ␛ for ESC
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):
        table[code] = f"\\x{code:02x}"  # C1 controls: \x9b (CSI) and the rest
    for char in _BIDI_CONTROLS:
        table[ord(char)] = f"\\u{ord(char):04x}"
    # Line and paragraph separators end a line in some terminals and editors.
    table[0x2028] = " "
    table[0x2029] = " "
    table[ord("\t")] = " "
    if multiline:
        table[ord("\n")] = "\n"
    else:
        table[ord("\n")] = " "
    return table


_ONE_LINE = _stand_ins(multiline=False)
_MULTILINE = _stand_ins(multiline=True)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


class SafeText(str):
    """Text that passed :func:`safe_text`: no control characters, lone surrogates or bidi
    controls, and bounded. Still data, not markup: build ``Text(value)`` from it."""

    __slots__ = ()


def safe_text(
    value: object, *, limit: int | None = CELL_LIMIT, multiline: bool = False
) -> SafeText:
    """``value`` (any untrusted string, or a value shown by its ``str``) made inert for a
    terminal: C0 controls become control pictures (``␛``), DEL ``␡``, C1 controls and bidi
    controls their escapes (``\\x9b``, ``\\u202e``), lone surrogates U+FFFD. With
    ``multiline`` line breaks stay, otherwise they and tabs become spaces. Longer than
    ``limit`` characters (None: no bound), it is cut with an ellipsis."""
    if isinstance(value, SafeText) and (limit is None or len(value) <= limit):
        return value
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        # Cut before making safe (stand-ins may be longer), then bound what they made.
        text = text[: limit + 1]
    if not text.isprintable():
        text = _SURROGATE_RE.sub(REPLACEMENT, text)
        text = text.translate(_MULTILINE if multiline else _ONE_LINE)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + ELLIPSIS
    return SafeText(text)


def one_line(value: object, *, limit: int | None = CELL_LIMIT) -> SafeText:
    """:func:`safe_text` with runs of white space folded into one space, for a cell."""
    text = safe_text(value, limit=None if limit is None else limit * 2)
    return safe_text(" ".join(text.split()), limit=limit)


# --- JSON ---------------------------------------------------------------------------------


def _clean_leaf(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE_RE.sub(REPLACEMENT, value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def strict_json(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON can hold: lone surrogates become U+FFFD, non-finite
    floats the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    Iterative, so an answer nested as deeply as the JSON decoder allowed does not run out of
    stack here.
    """
    if not isinstance(obj, dict | list | tuple):
        return _clean_leaf(obj)
    root: list[Any] = [None]
    # (container to fill, key or index in it, value to copy)
    pending: list[tuple[Any, Any, Any]] = [(root, 0, obj)]
    while pending:
        target, slot, value = pending.pop()
        if isinstance(value, dict):
            copy: dict[Any, Any] = {}
            target[slot] = copy
            for key, item in value.items():
                clean_key = _clean_leaf(key) if isinstance(key, str | float) else key
                copy[clean_key] = None
                pending.append((copy, clean_key, item))
        elif isinstance(value, list | tuple):
            items: list[Any] = [None] * len(value)
            target[slot] = items
            pending.extend((items, index, item) for index, item in enumerate(value))
        else:
            target[slot] = _clean_leaf(value)
    return root[0]


def strict_json_dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` that always writes RFC 8259 JSON: lone surrogates become U+FFFD and
    non-finite numbers the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (nothing is
    dropped, and strict parsers such as ``JSON.parse`` and jq accept it)."""
    options.setdefault("ensure_ascii", False)
    return json.dumps(strict_json(value), allow_nan=False, **options)
