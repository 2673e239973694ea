"""Every watched endpoint counted by row state, for the summary line.

Kept up to date from the names that changed since the last look, instead of a pass over
every watch five times a second (27 ms of the loop each time at 20,000 endpoints). Being
stale depends on the clock, not on an event: it is counted in a whole pass, once a tick.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from bidi_tui.engine import Watch
from bidi_tui.view.states import RowState, row_state


class StateTally:
    def __init__(self) -> None:
        self._states: dict[str, RowState] = {}
        self._counts: Counter[RowState] = Counter()
        self.stale = 0

    @property
    def counts(self) -> dict[RowState, int]:
        return {state: count for state, count in self._counts.items() if count}

    def __len__(self) -> int:
        return len(self._states)

    def recount(self, watches: Mapping[str, Watch], now: float) -> None:
        """Every watch anew (the list of endpoints changed)."""
        self._states = {name: row_state(watch) for name, watch in watches.items()}
        self._counts = Counter(self._states.values())
        self.count_stale(watches, now)

    def count_stale(self, watches: Mapping[str, Watch], now: float) -> None:
        self.stale = sum(watch.is_stale(now) for watch in watches.values())

    def update(self, watches: Mapping[str, Watch], names: Iterable[str]) -> None:
        """The watches of ``names`` changed (or are gone)."""
        for name in names:
            before = self._states.pop(name, None)
            if before is not None:
                self._counts[before] -= 1
            watch = watches.get(name)
            if watch is not None:
                state = self._states[name] = row_state(watch)
                self._counts[state] += 1
