"""The line above the table: counts by state first, then sort and filter, then the rest.

It is one line that never wraps: on a narrow terminal the end is cut, so the parts are
in order of importance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Static

from bidi_tui.engine import Engine
from bidi_tui.view.arrangement import RowOrder
from bidi_tui.view.filtering import SortKey
from bidi_tui.view.grouping import GroupBy
from bidi_tui.view.rows import STALE_MARK
from bidi_tui.view.states import LOOKS, STALE_STYLE, RowState, colourless
from bidi_tui.view.tally import StateTally

ALWAYS_COUNTED = (RowState.READY, RowState.NOT_READY, RowState.ERROR)


@dataclass(frozen=True)
class Summary:
    counts: dict[RowState, int] = field(default_factory=dict)
    stale: int = 0
    total: int = 0
    in_flight: int = 0
    sort: SortKey = SortKey.CONFIG
    reverse: bool = False
    shown: int | None = None  # rows the filter lets through; None without a filter
    grouped_by: str | None = None
    saving: bool = False

    @classmethod
    def of(
        cls, tally: StateTally, engine: Engine, order: RowOrder, *, shown: int, saving: bool
    ) -> Summary:
        """Counts over every watched endpoint (a filter hides rows, not counts)."""
        return cls(
            counts=tally.counts,
            stale=tally.stale,
            total=len(engine.watches),
            in_flight=engine.in_flight,
            sort=order.sort_key,
            reverse=order.reverse,
            shown=shown if order.row_filter.active else None,
            grouped_by=None if order.group_by is GroupBy.NONE else order.group_by.value,
            saving=saving,
        )


def summary_text(summary: Summary, *, colour: bool = True) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for state, look in LOOKS.items():
        count = summary.counts.get(state, 0)
        if count or state in ALWAYS_COUNTED:
            text.append(f"{look.glyph} {count} {look.summary_word}", look.style_in(colour))
            text.append("  ")
    if summary.shown is not None:
        text.append(f"· {summary.shown} of {summary.total} shown  ", "bold")
    if summary.sort is not SortKey.CONFIG or summary.reverse:
        arrow = "▼" if summary.reverse else "▲"
        text.append(f"· sort: {summary.sort.value} {arrow}  ", "bold")
    if summary.grouped_by:
        text.append(f"· by {summary.grouped_by}  ", "bold")
    if summary.stale:
        text.append(
            f"{STALE_MARK}{summary.stale} stale  ",
            STALE_STYLE if colour else colourless(STALE_STYLE),
        )
    if summary.saving:
        text.append("saving…  ", "bold")
    text.append(f"│ {summary.total} endpoints, {summary.in_flight} checking", "dim")
    return text


class SummaryBar(Static):
    """Shows a :class:`Summary`; repaints only when it changed, and never re-lays out."""

    DEFAULT_CSS = """
    SummaryBar {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._summary: Summary | None = None

    def show(self, summary: Summary) -> None:
        if summary != self._summary:
            self._summary = summary
            # Same height every time: a repaint, not a re-layout of the whole screen.
            self.update(summary_text(summary, colour=not self.app.no_color), layout=False)
