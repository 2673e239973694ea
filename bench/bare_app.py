"""The floor of a key press in Textual: an app that swaps one label on ``G``, ``g`` and
``down``, the keys ``key_latency.py`` presses in the dashboard.

    python bench/bare_app.py

Each press shows ``<key> <presses so far>``, so every press changes the screen.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label


class BareApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("G", "show('G')"),
        Binding("g", "show('g')"),
        Binding("down", "show('down')"),
        Binding("q", "quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0

    def compose(self) -> ComposeResult:
        yield Label("bare app ready", id="label")

    def action_show(self, key: str) -> None:
        self.presses += 1
        self.query_one(Label).update(f"{key} {self.presses}")


if __name__ == "__main__":
    BareApp().run()
