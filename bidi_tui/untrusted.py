"""Untrusted text from endpoints, made safe for machine-readable output.

An endpoint's answer is decoded by Python's ``json`` module, which accepts ``NaN`` and
``Infinity`` and keeps lone surrogates (``"\\ud800"``) in strings: neither may reach a JSON
document we write (RFC 8259 has no such numbers, and a lone surrogate is no UTF-8).
"""

from __future__ import annotations

import json
import math
from typing import Any

REPLACEMENT = "\ufffd"


def _clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(REPLACEMENT if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def _clean_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _clean_leaf(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float):
        return _clean_float(value)
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


def strict_json_dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that always writes strict RFC 8259 JSON (see :func:`strict_json`)."""
    return json.dumps(strict_json(obj), allow_nan=False, **kw)
