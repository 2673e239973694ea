"""Notifications of state changes: one toast per change, or one for many at once; and
the terminal's desktop notifications of them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from textual.app import App

from bidi_tui.desktop_notify import NotifyProtocol, desktop_notification
from bidi_tui.engine import CheckFinished
from bidi_tui.model import State
from bidi_tui.view.states import verdict_look

MAX_CHANGE_TOASTS = 3  # more state changes than this in one update make one summary toast
SEVERITY: dict[State, Literal["information", "warning", "error"]] = {
    State.READY: "information",
    State.NOT_READY: "warning",
    State.ERROR: "error",
}


def change_text(change: CheckFinished) -> str:
    """``ff-3: READY → ERROR (refused)``: names and words of ours, never endpoint text."""
    assert change.previous_state is not None
    text = (
        f"{change.name}: {verdict_look(change.previous_state).word} → "
        f"{verdict_look(change.result.state).word}"
    )
    if change.result.error is not None:
        text += f" ({change.result.error.kind.value})"
    return text


def announce_changes(app: App[Any], changes: Sequence[CheckFinished], *, bell: bool) -> None:
    went_to_error = any(c.result.state is State.ERROR for c in changes)
    if went_to_error and bell:
        app.bell()
    if len(changes) > MAX_CHANGE_TOASTS:
        counts: dict[State, int] = {}
        for change in changes:
            counts[change.result.state] = counts.get(change.result.state, 0) + 1
        summary = ", ".join(f"{n} → {verdict_look(s).word}" for s, n in counts.items())
        app.notify(
            f"{len(changes)} endpoints changed state: {summary}",
            severity="error" if went_to_error else "information",
            timeout=5,
            markup=False,
        )
        return
    for change in changes:
        app.notify(
            change_text(change), severity=SEVERITY[change.result.state], timeout=5, markup=False
        )


class Notices:
    """What the dashboard tells its user besides the table: state changes (toasts, the
    bell, the terminal's desktop notifications) and warnings of ours."""

    def __init__(self, app: App[Any], *, bell: bool, desktop: NotifyProtocol | None) -> None:
        """``bell``: ring when an endpoint goes to error; ``desktop``: also tell the
        terminal (OSC 777 or OSC 9)."""
        self.app = app
        self.bell_on_error = bell
        self.desktop = desktop

    def warn(self, text: str, *, title: str = "", timeout: float = 10) -> None:
        """A warning of ours, shown as plain text (never markup)."""
        self.app.notify(text, title=title, severity="warning", timeout=timeout, markup=False)

    def announce(self, changes: Sequence[CheckFinished]) -> None:
        announce_changes(self.app, changes, bell=self.bell_on_error)
        driver = self.app._driver
        if self.desktop is not None and driver is not None:
            for change in changes[:MAX_CHANGE_TOASTS]:
                driver.write(
                    desktop_notification(
                        "bidi-tui", change_text(change), self.desktop, tmux="TMUX" in os.environ
                    )
                )
