"""What a table row shows for one watched endpoint: texts, filtering and sorting.

Pure functions over :class:`~bidi_tui.engine.Watch`, so they are tested without a UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bidi_tui.engine import Activity, HistoryEntry, Watch
from bidi_tui.model import State


class RowState(StrEnum):
    """What the state column says: the last verdict, or what the row is doing."""

    READY = "ready"
    NOT_READY = "not_ready"
    ERROR = "error"
    CHECKING = "checking"
    PAUSED = "paused"
    PENDING = "pending"


STATE_TEXT = {
    RowState.READY: "● READY",
    RowState.NOT_READY: "◐ NOT READY",
    RowState.ERROR: "✖ ERROR",
    RowState.CHECKING: "↻ CHECKING",
    RowState.PAUSED: "⏸ PAUSED",
    RowState.PENDING: "… PENDING",
}
# Sorting by state puts trouble first.
STATE_RANK = {
    RowState.ERROR: 0,
    RowState.NOT_READY: 1,
    RowState.CHECKING: 2,
    RowState.PENDING: 3,
    RowState.READY: 4,
    RowState.PAUSED: 5,
}
# Certificate checks are off for this endpoint: say so wherever its URL shows.
INSECURE_MARK = "⚠insecure "
SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 12


class SortKey(StrEnum):
    CONFIG = "config order"
    STATE = "state"
    NAME = "name"
    LATENCY = "latency"
    LAST_CHECK = "last check"


SORT_CYCLE = (SortKey.CONFIG, SortKey.STATE, SortKey.NAME, SortKey.LATENCY, SortKey.LAST_CHECK)


def row_state(watch: Watch) -> RowState:
    """CHECKING and PAUSED win over the last verdict: they say what happens now."""
    if watch.activity is Activity.PAUSED:
        return RowState.PAUSED
    if watch.activity is Activity.CHECKING and watch.last is None:
        return RowState.CHECKING
    if watch.last is None:
        return RowState.PENDING
    return RowState(watch.last.state.value)


def verdict_state(watch: Watch) -> RowState:
    """The last verdict even while paused or checking (for counts)."""
    if watch.last is None:
        return row_state(watch)
    return RowState(watch.last.state.value)


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
    if latency_ms is None:
        return "-"
    if latency_ms < 10:
        return f"{latency_ms:.1f}ms"
    if latency_ms < 10_000:
        return f"{latency_ms:.0f}ms"
    return f"{latency_ms / 1000:.1f}s"


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


@dataclass(frozen=True)
class RowCells:
    """The text of each column for one row, compared cell by cell to update by diff."""

    state: str
    name: str
    url: str
    message: str
    latency: str
    age: str
    since: str
    trend: str


COLUMN_LABELS = {
    "state": "STATE",
    "name": "NAME",
    "url": "URL",
    "message": "MESSAGE",
    "latency": "LATENCY",
    "age": "CHECKED",
    "since": "IN STATE",
    "trend": "TREND",
}
FIXED_WIDTHS = {"state": 11, "latency": 7, "age": 10, "since": 8, "trend": SPARK_WIDTH}
# Dropped in this order when the terminal is too narrow for them.
OPTIONAL_COLUMNS = ("trend", "since", "url")
MIN_MESSAGE_WIDTH = 32  # below this the optional columns are dropped
NARROW_MESSAGE_WIDTH = 20  # below this, with none left, long names are cut
MAX_MESSAGE_WIDTH = 200
MAX_NAME_WIDTH = 24
MIN_NAME_WIDTH = 8
MAX_URL_WIDTH = 36
CELL_PADDING = 2  # DataTable pads each cell by one column on either side


def column_layout(total_width: int, longest_name: int, longest_url: int) -> dict[str, int]:
    """Column widths that fit ``total_width``: optional columns go first, then the message
    takes what is left. Keys are in display order."""
    name = max(4, min(longest_name, MAX_NAME_WIDTH))
    url = max(3, min(longest_url, MAX_URL_WIDTH))
    columns = [c for c in COLUMN_LABELS]
    for dropped in (None, *OPTIONAL_COLUMNS):
        if dropped is not None:
            columns.remove(dropped)
        widths = {
            c: FIXED_WIDTHS.get(c, name if c == "name" else url if c == "url" else 0)
            for c in columns
        }
        used = sum(widths.values()) + CELL_PADDING * len(columns)
        if total_width - used >= MIN_MESSAGE_WIDTH or dropped == OPTIONAL_COLUMNS[-1]:
            # Still too wide: the message narrows to NARROW_MESSAGE_WIDTH before the name
            # (which tells rows apart) gives way, down to MIN_NAME_WIDTH.
            short = NARROW_MESSAGE_WIDTH - (total_width - used)
            if short > 0:
                widths["name"] = max(min(name, MIN_NAME_WIDTH), name - short)
                used -= name - widths["name"]
            widths["message"] = max(NARROW_MESSAGE_WIDTH, total_width - used)
            return widths
    raise AssertionError("unreachable")


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def message_text(watch: Watch) -> str:
    last = watch.last
    if last is None:
        return ""
    if last.error is not None:
        return f"{last.error.kind.value}: {last.error.detail}"
    return last.message or ""


def row_cells(watch: Watch, now_wall: datetime, now_clock: float) -> RowCells:
    last = watch.last
    age = "-"
    if last is not None:
        age = format_duration((now_wall - last.checked_at).total_seconds()) + " ago"
        if watch.is_stale(now_clock):
            age = "⚠ " + age
    since = "-"
    if watch.state_since is not None:
        since = format_duration((now_wall - watch.state_since).total_seconds())
    return RowCells(
        state=STATE_TEXT[row_state(watch)],
        name=watch.endpoint.name,
        url=_clip(
            INSECURE_MARK * watch.endpoint.insecure + watch.endpoint.display_url, MAX_URL_WIDTH
        ),
        message=_clip(message_text(watch), MAX_MESSAGE_WIDTH),
        latency=format_latency(None if last is None else last.latency_ms),
        age=age,
        since=since,
        trend=sparkline(watch.history),
    )


# --- filtering ---------------------------------------------------------------------------

STATE_WORDS = {
    "ready": {RowState.READY},
    "not_ready": {RowState.NOT_READY},
    "notready": {RowState.NOT_READY},
    "busy": {RowState.NOT_READY},
    "error": {RowState.ERROR},
    "errors": {RowState.ERROR},
    "paused": {RowState.PAUSED},
    "pending": {RowState.PENDING, RowState.CHECKING},
}


@dataclass(frozen=True)
class RowFilter:
    """``is:STATE`` terms (any of them) plus words that must all appear in the row."""

    states: frozenset[RowState] = frozenset()
    stale: bool = False
    words: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.states or self.stale or self.words)

    def matches(self, watch: Watch, now_clock: float) -> bool:
        if (
            self.states
            and verdict_state(watch) not in self.states
            and (row_state(watch) not in self.states)
        ):
            return False
        if self.stale and not watch.is_stale(now_clock):
            return False
        if self.words:
            haystack = " ".join(
                (
                    watch.endpoint.name,
                    watch.endpoint.display_url,
                    message_text(watch),
                    " ".join(watch.endpoint.tags),
                )
            ).lower()
            return all(word in haystack for word in self.words)
        return True


def parse_filter(text: str) -> RowFilter:
    """``ff is:error`` keeps rows in error whose name, URL, message or tags hold 'ff'."""
    states: set[RowState] = set()
    words: list[str] = []
    problems: list[str] = []
    stale = False
    for term in text.lower().split():
        if term.startswith(("is:", "state:")):
            value = term.split(":", 1)[1]
            if value == "stale":
                stale = True
            elif value in STATE_WORDS:
                states |= STATE_WORDS[value]
            else:
                problems.append(
                    f"unknown state {value!r}: use is:ready, is:not_ready, is:error, "
                    "is:paused, is:pending or is:stale"
                )
        else:
            words.append(term)
    return RowFilter(frozenset(states), stale, tuple(words), tuple(problems))


def sort_value(key: SortKey, watch: Watch, config_index: int) -> tuple[object, ...]:
    """A sort key; ties keep config order so the order never jitters."""
    if key is SortKey.STATE:
        return (STATE_RANK[row_state(watch)], config_index)
    if key is SortKey.NAME:
        return (watch.endpoint.name.lower(), config_index)
    if key is SortKey.LATENCY:
        latency = None if watch.last is None else watch.last.latency_ms
        return (latency is None, latency or 0.0, config_index)
    if key is SortKey.LAST_CHECK:
        checked = None if watch.last is None else watch.last.checked_at.timestamp()
        return (checked is None, -(checked or 0.0), config_index)
    return (config_index,)


def next_sort(current: SortKey, order: Sequence[SortKey] = SORT_CYCLE) -> SortKey:
    return order[(order.index(current) + 1) % len(order)]
