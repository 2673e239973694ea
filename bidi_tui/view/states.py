"""A row's state and how every view says it: glyph, word, style, meaning, rank.

One table (:data:`LOOKS`) for the CLI, the dashboard, the help and the detail view. Colour
carries the hue (error red, not ready amber, ready green, chosen so that 16- and
256-colour terminals map them to the same families); bold and reverse carry the weight, so
without colour (``NO_COLOR``) an error still stands out more than anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bidi_tui.engine import Activity, Watch
from bidi_tui.model import State


class RowState(StrEnum):
    """What the state column says: the last verdict, or what the row is doing."""

    READY = "ready"
    NOT_READY = "not_ready"
    ERROR = "error"
    CHECKING = "checking"
    PAUSED = "paused"
    PENDING = "pending"


GREEN = "#3fb950"  # 16 colours: bright green; 256: 71
AMBER = "#e3b341"  # 16 colours: bright yellow; 256: 179
RED = "#f85149"  # 16 colours: bright red; 256: 203
INK = "#1a1a1a"  # the text on a red badge: 16 colours: black; 256: 234
BLUE = "#58a6ff"
GREY = "#8b949e"


@dataclass(frozen=True)
class StateLook:
    glyph: str
    word: str
    style: str  # a Rich style string (data, never markup)
    meaning: str
    rank: int  # sorting by state puts trouble first
    summary_word: str

    @property
    def label(self) -> str:
        return f"{self.glyph} {self.word}"

    def style_in(self, colour: bool) -> str:
        """The style on a terminal with colour, or without (see :func:`colourless`)."""
        return self.style if colour else colourless(self.style)


LOOKS: dict[RowState, StateLook] = {
    RowState.READY: StateLook(
        "●",
        "READY",
        f"bold {GREEN}",
        "session.status said ready: a new session can start",
        4,
        "ready",
    ),
    RowState.NOT_READY: StateLook(
        "◐",
        "NOT READY",
        f"bold {AMBER}",
        "it answered ready: false (e.g. 'Session already started')",
        1,
        "not ready",
    ),
    RowState.ERROR: StateLook(
        "✖",
        "ERROR",
        f"bold reverse {RED}",
        "no valid answer: refused, timeout, HTTP error, not BiDi ...",
        0,
        "error",
    ),
    RowState.CHECKING: StateLook(
        "↻", "CHECKING", f"bold {BLUE}", "its first check is running", 2, "checking"
    ),
    RowState.PENDING: StateLook("…", "PENDING", "", "not checked yet", 3, "pending"),
    RowState.PAUSED: StateLook(
        "⏸", "PAUSED", f"italic {GREY}", "not being checked (space resumes)", 5, "paused"
    ),
}
# An error's message is drawn in the state's hue, without its weight.
ERROR_TEXT_STYLE = RED
STALE_STYLE = f"bold {AMBER}"
INSECURE_STYLE = f"bold {AMBER}"
TREND_STYLE = BLUE


ATTRIBUTES = frozenset({"bold", "dim", "italic", "underline", "reverse", "strike", "blink"})


def colourless(style: str) -> str:
    """``style`` without its colours, for terminals without colour (``NO_COLOR``): Textual
    turns colours into greys there, and a grey badge is the least readable of all, so only
    the weight stays (the error's inverse video then has the terminal's own contrast)."""
    return " ".join(word for word in style.split() if word in ATTRIBUTES)


def verdict_look(state: State) -> StateLook:
    """The look of a check's verdict (the CLI table, notifications, history)."""
    return LOOKS[RowState(state.value)]


# A verdict's row state by lookup: the summary asks for every watch five times a second.
_VERDICT_STATES = {state: RowState(state.value) for state in State}


def row_state(watch: Watch) -> RowState:
    """PAUSED wins over the last verdict, and a first check in flight says CHECKING."""
    activity = watch.activity
    if activity is Activity.PAUSED:
        return RowState.PAUSED
    last = watch.last
    if last is None:
        return RowState.CHECKING if activity is Activity.CHECKING else RowState.PENDING
    return _VERDICT_STATES[last.state]
