"""The table's columns as descriptors: adding a column is one entry in :data:`COLUMNS`.

Each says its label, how its text and style come from a :class:`RowView`, its width (fixed,
or sized from the content by :func:`fit_columns`), and when it is dropped on a narrow
terminal. The dashboard's table and ``bidi-tui check`` both read these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bidi_tui.view.filtering import SortKey
from bidi_tui.view.formats import SPARK_WIDTH, cut_end, cut_middle
from bidi_tui.view.rows import RowView
from bidi_tui.view.states import (
    ERROR_TEXT_STYLE,
    INSECURE_STYLE,
    LOOKS,
    STALE_STYLE,
    TREND_STYLE,
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    text: Callable[[RowView], str]
    style: Callable[[RowView], str] = lambda row: ""
    width: int = 0  # fixed width; 0: sized by fit_columns (name, url, message)
    drop_order: int = 0  # 0: always shown; otherwise dropped on narrow terminals, 1 first
    sort: SortKey | None = None  # the sort this column's header arrow shows
    cut: Callable[[str, int], str] = cut_end
    right: bool = False


def _age_style(row: RowView) -> str:
    return STALE_STYLE if row.stale else ""


COLUMNS: tuple[Column, ...] = (
    Column(
        "state",
        "STATE",
        lambda row: LOOKS[row.state].label,
        lambda row: LOOKS[row.state].style,
        width=11,
        sort=SortKey.STATE,
    ),
    Column("name", "NAME", lambda row: row.name, width=0, sort=SortKey.NAME, cut=cut_middle),
    Column(
        "url",
        "URL",
        lambda row: row.url,
        lambda row: INSECURE_STYLE if row.insecure else "",
        drop_order=3,
    ),
    Column(
        "message",
        "MESSAGE",
        lambda row: (FLAPPING_MARK + row.message) if row.flapping else row.message,
        lambda row: ERROR_TEXT_STYLE if row.is_error else (STALE_STYLE if row.flapping else ""),
    ),
    Column(
        "latency", "LATENCY", lambda row: row.latency, width=9, sort=SortKey.LATENCY, right=True
    ),
    Column("age", "CHECKED", lambda row: row.age, _age_style, width=9, sort=SortKey.LAST_CHECK),
    Column("since", "IN STATE", lambda row: row.since, width=8, drop_order=2),
    Column("trend", "TREND", lambda row: row.trend, lambda row: TREND_STYLE, SPARK_WIDTH, 1),
    # From the history; only shown when history is kept (see without_history).
    Column("uptime", "UP 24H", lambda row: row.uptime, width=7, drop_order=1, right=True),
)
# A row whose state changed more than 5 times in its last 20 checks (history/flapping.py).
FLAPPING_MARK = "↯ flapping · "


def without_history(columns: Sequence[Column] = COLUMNS) -> tuple[Column, ...]:
    """The columns when no history is kept: no uptime to show."""
    return tuple(column for column in columns if column.key != "uptime")


COLUMN_BY_KEY = {column.key: column for column in COLUMNS}

GAP = 2  # spaces between two columns
MARGIN = 1  # a space before the first column
MIN_MESSAGE_WIDTH = 32  # below this the optional columns are dropped
NARROW_MESSAGE_WIDTH = 16  # below this, with none left to drop, long names are cut
MESSAGE_FLOOR = 8  # the message never gets less, even if the row then runs off the screen
MAX_MESSAGE_WIDTH = 200
MAX_NAME_WIDTH = 24
MIN_NAME_WIDTH = 8
MAX_URL_WIDTH = 36


@dataclass(frozen=True)
class Layout:
    """The columns shown and their widths, in display order."""

    columns: tuple[tuple[Column, int], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.key for column, _ in self.columns)

    def width_of(self, key: str) -> int:
        return next(width for column, width in self.columns if column.key == key)


def _used(widths: dict[str, int]) -> int:
    return MARGIN + sum(widths.values()) + GAP * (len(widths) - 1)


def fit_columns(
    total_width: int,
    longest_name: int,
    longest_url: int,
    columns: Sequence[Column] = COLUMNS,
) -> Layout:
    """Widths that fit ``total_width``: optional columns go first (by ``drop_order``), then
    the message narrows to NARROW_MESSAGE_WIDTH, then long names are cut (in the middle)
    down to MIN_NAME_WIDTH; the message takes what is left."""
    name = max(len("NAME ▲"), min(longest_name, MAX_NAME_WIDTH))  # room for the sort arrow
    url = max(len("URL"), min(longest_url, MAX_URL_WIDTH))
    shown = list(columns)
    droppable = sorted((c for c in shown if c.drop_order), key=lambda c: c.drop_order)
    while True:
        widths = {
            c.key: c.width or (name if c.key == "name" else url if c.key == "url" else 0)
            for c in shown
        }
        room = total_width - _used(widths)
        if room >= MIN_MESSAGE_WIDTH or not droppable:
            break
        shown.remove(droppable.pop(0))
    if room < NARROW_MESSAGE_WIDTH and "name" in widths:
        cut = min(NARROW_MESSAGE_WIDTH - room, widths["name"] - min(name, MIN_NAME_WIDTH))
        widths["name"] -= cut
        room += cut
    if "message" in widths:
        widths["message"] = max(min(room, MAX_MESSAGE_WIDTH), MESSAGE_FLOOR)
    return Layout(tuple((c, widths[c.key]) for c in shown))
