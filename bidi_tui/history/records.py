"""What the writer keeps in memory per endpoint until it is committed: hours, sketches."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from bidi_tui.model import State

RECENT_LENGTH = 60  # checks kept per endpoint for flapping, as the engine keeps

LETTERS = {State.READY: "r", State.NOT_READY: "n", State.ERROR: "e"}
STATES = {letter: state for state, letter in LETTERS.items()}
COLUMN = {State.READY: 0, State.NOT_READY: 1, State.ERROR: 2}


class LatencySketch:
    """One hour's latencies in logarithmic buckets 2 % wide: a percentile is off by at
    most 1 %, and a few dozen counters hold thousands of checks."""

    GAMMA = 1.02
    _LOG_GAMMA = math.log(GAMMA)
    SMALLEST_MS = 0.001

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0

    def add(self, milliseconds: float) -> None:
        index = math.ceil(math.log(max(milliseconds, self.SMALLEST_MS)) / self._LOG_GAMMA)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1

    def quantile(self, fraction: float) -> float | None:
        if not self.count:
            return None
        rank = fraction * (self.count - 1)
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                # The bucket's middle in relative terms: within 1 % of any value in it.
                return 2 * self.GAMMA**index / (self.GAMMA + 1)
        raise AssertionError("unreachable: the ranks sum to the count")


@dataclass
class HourRecord:
    """This program's view of one endpoint's hour: totals, and how much is committed."""

    checks: list[int] = field(default_factory=lambda: [0, 0, 0])
    ms: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    latency: LatencySketch = field(default_factory=LatencySketch)
    flushed_checks: list[int] = field(default_factory=lambda: [0, 0, 0])
    flushed_ms: list[int] = field(default_factory=lambda: [0, 0, 0])
    flushed_latency: int = 0
    dirty: bool = False


@dataclass
class Track:
    name: str
    endpoint_id: int | None = None
    url: str = ""
    stored_state: State | None = None  # the file's latest state, as far as known
    last_at: float | None = None  # Unix time of the last check, None after a pause
    last_state: State | None = None
    last_check: float = 0.0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_LENGTH))
    hours: dict[int, HourRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingChange:
    name: str
    at: float
    to: State
    message: str
    error_kind: str | None
