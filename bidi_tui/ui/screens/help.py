"""The `?` screen: every key, the state legend and the filter syntax."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from bidi_tui.view.filtering import FILTER_STATES
from bidi_tui.view.states import LOOKS

FILTER_HELP = (
    "Type words to keep rows whose name, URL, message or tags contain all of them. "
    "Add " + ", ".join(f"is:{state}" for state in FILTER_STATES) + " to keep rows in any of "
    'those states. Example: "ff is:error is:not_ready". Escape closes and clears it.'
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        """``keys``: (key, what it does) for every dashboard binding."""
        super().__init__(classes="dialog-screen")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help", id="help"):
            yield Static("bidi-tui: keys", classes="dialog-title")
            keys = Table.grid(padding=(0, 2))
            keys.add_column(style="bold")
            keys.add_column()
            for key, meaning in self.keys:
                keys.add_row(Text(key), Text(meaning))
            yield Static(keys)
            yield Static("States", classes="dialog-title")
            states = Table.grid(padding=(0, 2))
            states.add_column(style="bold")
            states.add_column()
            for look in LOOKS.values():
                states.add_row(
                    Text(look.label, style=look.style_in(not self.app.no_color)),
                    Text(look.meaning),
                )
            states.add_row(
                Text("⚠ 2m05s"), Text("CHECKED: stale, no check finished for over two intervals")
            )
            states.add_row(
                Text("retry 40s"), Text("CHECKED: backing off after errors, next check in 40 s")
            )
            yield Static(states)
            yield Static("Filter", classes="dialog-title")
            yield Static(Text(FILTER_HELP))
            yield Static("ctrl+p opens the command palette with the same actions.", classes="muted")

    def action_close(self) -> None:
        self.dismiss(None)
