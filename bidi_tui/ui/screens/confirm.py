"""A question in a modal dialog, answered by a button, its underlined letter, or Escape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from bidi_tui.ui.screens.focus_keys import FOCUS_KEYS

Variant = Literal["default", "primary", "success", "warning", "error"]


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    key: str  # a letter of the label, underlined, that chooses it
    variant: Variant = "default"

    def content(self) -> Content:
        at = self.label.lower().find(self.key)
        if at < 0:
            return Content(self.label)
        return Content.assemble(
            self.label[:at], (self.label[at], "underline"), self.label[at + 1 :]
        )


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the id of the chosen button; Escape (and "cancel") give None. The
    first choice has the focus; Tab, Shift+Tab and the arrow keys move between buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        *FOCUS_KEYS,
        Binding("left,up", "app.focus_previous", "Previous", show=False),
        Binding("right,down", "app.focus_next", "Next", show=False),
    ]

    def __init__(self, title: str, question: str, choices: Sequence[Choice]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.question = question
        self.choices = tuple(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Label(self.question, classes="dialog-question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for choice in self.choices:
                    yield Button(
                        choice.content(), id=choice.id, variant=choice.variant, compact=True
                    )

    def on_mount(self) -> None:
        self.query_one(f"#{self.choices[0].id}", Button).focus()

    def on_key(self, event: events.Key) -> None:
        for choice in self.choices:
            if event.character is not None and event.character.lower() == choice.key:
                event.stop()
                self._choose(choice.id)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id is not None:
            self._choose(event.button.id)

    def _choose(self, choice_id: str) -> None:
        self.dismiss(None if choice_id == "cancel" else choice_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
