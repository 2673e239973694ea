"""A yes/no (or save/discard/cancel) question in a modal dialog."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class ConfirmScreen(ModalScreen[str | None]):
    """Asks a question; dismisses with the id of the chosen button, or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel")
    ]

    def __init__(self, title: str, question: str, choices: list[tuple[str, str, str]]) -> None:
        """``choices``: (button id, label, variant), the first one focused."""
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Label(self.question, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                for button_id, label, variant in self.choices:
                    yield Button(label, id=button_id, variant=variant, compact=True)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one(f"#{self.choices[0][0]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
