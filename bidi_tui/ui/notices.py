"""Notifications of state changes: one toast per change, or one for many at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from textual.app import App

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
