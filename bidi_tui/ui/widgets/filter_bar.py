"""The `/` box: words and ``is:STATE`` terms; Escape closes and clears it in one press."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from bidi_tui.view.filtering import RowFilter, parse_filter

PLACEHOLDER = "filter: words, is:error, is:not_ready, is:stale … (esc closes)"


class FilterBar(Input):
    """Hidden until opened; tells the App the parsed filter as it is typed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close the filter", show=False),
    ]

    class Updated(Message):
        """The filter as typed so far, parsed."""

        def __init__(self, row_filter: RowFilter) -> None:
            super().__init__()
            self.row_filter = row_filter

    class Done(Message):
        """Enter on a filter (focus goes back to the table), or the box was closed."""

        def __init__(self, closed: bool) -> None:
            super().__init__()
            self.closed = closed

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)

    @property
    def is_open(self) -> bool:
        return self.has_class("visible")

    def open(self, text: str | None = None) -> None:
        self.add_class("visible")
        if text is not None:
            self.value = text
        self.focus()

    def action_close(self) -> None:
        """Close and clear, whether or not anything was typed."""
        self.value = ""
        self.remove_class("visible")
        self.post_message(self.Done(closed=True))

    @on(Input.Changed)
    def _parse(self, event: Input.Changed) -> None:
        event.stop()
        row_filter = parse_filter(event.value)
        self.set_class(bool(row_filter.problems), "-invalid")
        self.tooltip = "\n".join(row_filter.problems) or None
        self.post_message(self.Updated(row_filter))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.action_close()
            return
        problems = parse_filter(event.value).problems
        if problems:
            self.notify(problems[0], severity="warning", markup=False)
        self.post_message(self.Done(closed=False))
