"""How numbers and times read, the same in the CLI, the table and the detail view."""

from __future__ import annotations

import math
from collections.abc import Iterable

from bidi_tui.engine import HistoryEntry
from bidi_tui.model import State

ELLIPSIS = "…"
SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 12


def format_duration(seconds: float) -> str:
    """Compact age: 4s, 2m05s, 3h12m, 2d04h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_latency(latency_ms: float | None) -> str:
    """3.0 ms, 42 ms, 1.5 s; ``-`` when there is none."""
    if latency_ms is None:
        return "-"
    if latency_ms < 10:
        return f"{latency_ms:.1f} ms"
    if latency_ms < 10_000:
        return f"{latency_ms:.0f} ms"
    return f"{latency_ms / 1000:.1f} s"


def cut_end(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis marking a cut at the end."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def cut_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut in the middle, so both the start and
    the end (where names of one farm differ: ``rack2-10``, ``127.0.0.1:30001``) stay."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1) // 2  # the end, where names differ, gets the larger half
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + text[len(text) - tail :]


def sparkline(history: Iterable[HistoryEntry], width: int = SPARK_WIDTH) -> str:
    """Recent checks, oldest left: bar height is latency; errors '✖', not ready '◐'."""
    entries = list(history)[-width:]
    latencies = [e.latency_ms for e in entries if e.latency_ms is not None]
    top = max(latencies) if latencies else 1.0
    chars = []
    for entry in entries:
        if entry.state is State.ERROR:
            chars.append("✖")
        elif entry.state is State.NOT_READY:
            chars.append("◐")
        else:
            latency = entry.latency_ms or 0.0
            level = round(latency / top * (len(SPARK_CHARS) - 1)) if top > 0 else 0
            chars.append(SPARK_CHARS[max(0, min(level, len(SPARK_CHARS) - 1))])
    return "".join(chars).rjust(width)


def format_uptime(fraction: float | None) -> str:
    """100%, 99.9%, 0.0%; ``-`` without data. Cut down, never rounded up: 99.96% is not
    shown as 100%, which would say it was never down."""
    if fraction is None:
        return "-"
    if fraction >= 1:
        return "100%"
    return f"{math.floor(max(fraction, 0.0) * 1000) / 10:.1f}%"
