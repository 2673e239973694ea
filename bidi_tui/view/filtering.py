"""Which rows show and in what order: the filter box's language and the sort keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bidi_tui.engine import Watch
from bidi_tui.view.rows import message_text
from bidi_tui.view.states import LOOKS, RowState, row_state


class SortKey(StrEnum):
    CONFIG = "config order"
    STATE = "state"
    NAME = "name"
    LATENCY = "latency"
    LAST_CHECK = "last check"


SORT_CYCLE = (SortKey.CONFIG, SortKey.STATE, SortKey.NAME, SortKey.LATENCY, SortKey.LAST_CHECK)

STATE_WORDS = {
    "ready": {RowState.READY},
    "not_ready": {RowState.NOT_READY},
    "notready": {RowState.NOT_READY},
    "busy": {RowState.NOT_READY},
    "error": {RowState.ERROR},
    "errors": {RowState.ERROR},
    "paused": {RowState.PAUSED},
    "pending": {RowState.PENDING, RowState.CHECKING},
}
# The states a filter can name, as the palette and the help offer them.
FILTER_STATES = ("error", "not_ready", "ready", "paused", "pending", "stale")


def verdict_state(watch: Watch) -> RowState:
    """The last verdict even while paused or checking."""
    if watch.last is None:
        return row_state(watch)
    return RowState(watch.last.state.value)


@dataclass(frozen=True)
class RowFilter:
    """``is:STATE`` terms (any of them) plus words that must all appear in the row."""

    states: frozenset[RowState] = frozenset()
    stale: bool = False
    words: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.states or self.stale or self.words)

    def matches(self, watch: Watch, now_clock: float) -> bool:
        if (
            self.states
            and verdict_state(watch) not in self.states
            and (row_state(watch) not in self.states)
        ):
            return False
        if self.stale and not watch.is_stale(now_clock):
            return False
        if self.words:
            haystack = " ".join(
                (
                    watch.endpoint.name,
                    watch.endpoint.display_url,
                    message_text(watch.last),
                    " ".join(watch.endpoint.tags),
                )
            ).lower()
            return all(word in haystack for word in self.words)
        return True


def parse_filter(text: str) -> RowFilter:
    """``ff is:error`` keeps rows in error whose name, URL, message or tags hold 'ff'."""
    states: set[RowState] = set()
    words: list[str] = []
    problems: list[str] = []
    stale = False
    for term in text.lower().split():
        if term.startswith(("is:", "state:")):
            value = term.split(":", 1)[1]
            if value == "stale":
                stale = True
            elif value in STATE_WORDS:
                states |= STATE_WORDS[value]
            else:
                problems.append(
                    f"unknown state {value!r}: use "
                    + ", ".join(f"is:{state}" for state in FILTER_STATES)
                )
        else:
            words.append(term)
    return RowFilter(frozenset(states), stale, tuple(words), tuple(problems))


def sort_value(key: SortKey, watch: Watch, config_index: int) -> tuple[object, ...]:
    """A sort key; ties keep config order so the order never jitters."""
    if key is SortKey.STATE:
        return (LOOKS[row_state(watch)].rank, config_index)
    if key is SortKey.NAME:
        return (watch.endpoint.name.lower(), config_index)
    if key is SortKey.LATENCY:
        latency = None if watch.last is None else watch.last.latency_ms
        return (latency is None, latency or 0.0, config_index)
    if key is SortKey.LAST_CHECK:
        checked = None if watch.last is None else watch.last.checked_at.timestamp()
        return (checked is None, -(checked or 0.0), config_index)
    return (config_index,)


def next_sort(current: SortKey, order: Sequence[SortKey] = SORT_CYCLE) -> SortKey:
    return order[(order.index(current) + 1) % len(order)]
