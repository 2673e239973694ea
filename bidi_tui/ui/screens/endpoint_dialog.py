"""The add/edit dialog, validated with the same spec parser as the CLI and the config."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from bidi_tui.endpoints import MASK, Endpoint, SpecError, parse_spec
from bidi_tui.settings import SettingError, checked_interval, checked_timeout
from bidi_tui.ui.screens.focus_keys import FOCUS_KEYS


class DialogError(ValueError):
    """A field that is not valid; ``field`` names the input to focus."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _seconds(
    text: str, field: str, label: str, check: Callable[[float, str], float]
) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return check(float(text), label)
    except SettingError as exc:
        raise DialogError(field, str(exc)) from None
    except ValueError:
        raise DialogError(field, f"{label} must be a number of seconds, e.g. 5") from None


def build_endpoints(
    *,
    name: str,
    spec: str,
    timeout: str,
    interval: str,
    tags: str,
    insecure: bool,
    taken_names: Collection[str],
    original: Endpoint | None,
) -> list[Endpoint]:
    """Turn the dialog's fields into endpoints, or raise :class:`DialogError`."""
    if not spec.strip():
        raise DialogError("spec", "enter an endpoint, e.g. ws://127.0.0.1:9222/session")
    try:
        endpoints = parse_spec(
            spec,
            name=name.strip() or None,
            timeout=_seconds(timeout, "timeout", "Timeout", checked_timeout),
            interval=_seconds(interval, "interval", "Interval", checked_interval),
            tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
            insecure=insecure,
            headers=original.headers if original is not None else None,
            enabled=original.enabled if original is not None else True,
        )
    except SpecError as exc:
        target = "name" if "name" in exc.problem and name.strip() else "spec"
        raise DialogError(target, str(exc)) from None
    if original is not None and len(endpoints) != 1:
        raise DialogError("spec", "an edited endpoint takes one port, not a range")
    if original is not None and original.password is not None:
        # The dialog shows the password as ***; leaving it so keeps the real one.
        endpoints = [
            replace(e, password=original.password) if e.password == MASK else e for e in endpoints
        ]
    for endpoint in endpoints:
        if endpoint.name in taken_names:
            raise DialogError(
                "name" if name.strip() else "spec",
                f"the name {endpoint.name!r} is taken; choose another name",
            )
        if endpoint.insecure and not endpoint.secure:
            endpoints = [replace(e, insecure=False) for e in endpoints]
    return endpoints


class CheckMark(Checkbox):
    """A checkbox whose box says its state without colour: a tick when on, empty when off
    (Textual's draws an X either way and tells them apart by colour alone)."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super()._button


SPEC_PLACEHOLDER = "ws://HOST:PORT/session, HOST:PORT, HOST:9222-9231"


class EndpointDialog(ModalScreen[list[Endpoint] | None]):
    """Add (``original`` None) or edit an endpoint. Dismisses with the new endpoints."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        *FOCUS_KEYS,
    ]

    def __init__(self, taken_names: Collection[str], original: Endpoint | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.original = original
        self.taken_names = set(taken_names) - ({original.name} if original else set())

    def compose(self) -> ComposeResult:
        original = self.original
        title = "Add endpoint" if original is None else f"Edit {original.name}"
        with Vertical(classes="dialog", id="endpoint-dialog"):
            yield Label(title, classes="dialog-title")
            for label, field_id, value, placeholder in (
                ("Endpoint", "spec", original.display_url if original else "", SPEC_PLACEHOLDER),
                ("Name", "name", original.name if original else "", "optional: host:port"),
                (
                    "Timeout s",
                    "timeout",
                    _number_text(original.timeout if original else None),
                    "default",
                ),
                (
                    "Interval s",
                    "interval",
                    _number_text(original.interval if original else None),
                    "default",
                ),
                (
                    "Tags",
                    "tags",
                    ", ".join(original.tags) if original else "",
                    "comma separated: firefox, rack-2",
                ),
            ):
                with Horizontal(classes="field-row"):
                    yield Label(label, classes="field-label")
                    yield Input(value=value, placeholder=placeholder, id=field_id, compact=True)
            yield CheckMark(
                "Skip TLS certificate checks (wss:// only)",
                value=original.insecure if original is not None else False,
                id="insecure",
                compact=True,
            )
            yield Label("", id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    "Save" if original else "Add", id="submit", variant="primary", compact=True
                )
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#spec", Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value

    def submit(self) -> None:
        error_label = self.query_one("#dialog-error", Label)
        try:
            endpoints = build_endpoints(
                name=self._value("name"),
                spec=self._value("spec"),
                timeout=self._value("timeout"),
                interval=self._value("interval"),
                tags=self._value("tags"),
                insecure=self.query_one("#insecure", Checkbox).value,
                taken_names=self.taken_names,
                original=self.original,
            )
        except DialogError as exc:
            error_label.update(str(exc))
            error_label.add_class("visible")
            self.query_one(f"#{exc.field}", Input).focus()
            return
        self.dismiss(endpoints)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#dialog-error", Label).remove_class("visible")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"
