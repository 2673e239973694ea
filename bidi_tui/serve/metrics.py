"""Per-endpoint metrics, read from the engine's watches when scraped.

The checks feed only :class:`CheckCounts` (a few dictionary updates per check); every
gauge is read from the watches at scrape time, as a :class:`Row` per endpoint.
:data:`FAMILIES` says what each family holds, and :func:`collect_families` turns rows into
``prometheus_client`` metric families; ``bidi_tui.serve.exposition`` writes the same
families fast for ``/metrics``. No series carries an endpoint's message: labels are the
operator's name and the masked URL, the state, the error kind, the phase and the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bidi_tui.engine import CheckFinished, CheckStarted, Engine, EngineEvent, Watch, WatchChanged
from bidi_tui.model import ProbeResult, State

STATE_NAMES = ("ready", "not_ready", "error", "paused", "pending")
RESULT_NAMES = tuple(state.value for state in State)  # ready, not_ready, error
LATENESS_WINDOW = 60.0  # seconds the max-lateness gauge looks back (two halves)


@dataclass
class EndpointCounts:
    """Finished checks of one endpoint (at one URL) by result, and its state changes."""

    url: str
    by_result: list[int] = field(default_factory=lambda: [0, 0, 0])
    changes: int = 0


class CheckCounts:
    """An engine listener: counts checks and state changes, tracks lateness.

    Its cost per check is a clock read and a few dictionary updates; the counts are read
    when scraped.
    """

    def __init__(self, engine: Engine, wall_clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.wall_clock = wall_clock
        self.counts: dict[str, EndpointCounts] = {}
        self.last_check_wall = wall_clock()  # start-up counts as a check, for the alert
        self._lateness_half = LATENESS_WINDOW / 2
        self._lateness_started = engine.now()
        self._lateness_now = 0.0
        self._lateness_before = 0.0
        engine.subscribe(self.on_event)

    def close(self) -> None:
        self.engine.unsubscribe(self.on_event)

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, CheckFinished):
            watch = self.engine.watches.get(event.name)
            if watch is None:
                return
            counts = self.counts_for(event.name, watch)
            counts.by_result[RESULT_NAMES.index(event.result.state.value)] += 1
            if event.changed:
                counts.changes += 1
            self.last_check_wall = self.wall_clock()
        elif isinstance(event, CheckStarted):
            watch = self.engine.watches.get(event.name)
            if watch is not None:
                self._note_lateness(self.engine.now() - watch.next_due)
        elif isinstance(event, WatchChanged):
            watch = self.engine.watches.get(event.name)
            if watch is None:
                self.counts.pop(event.name, None)
            else:
                self.counts_for(event.name, watch)  # a new URL starts new counters

    def counts_for(self, name: str, watch: Watch) -> EndpointCounts:
        """The endpoint's counters (all zero until its first check, so rate() works)."""
        url = watch.endpoint.display_url
        counts = self.counts.get(name)
        if counts is None or counts.url != url:
            counts = self.counts[name] = EndpointCounts(url)
        return counts

    def _roll_lateness(self) -> None:
        now = self.engine.now()
        elapsed = now - self._lateness_started
        if elapsed >= self._lateness_half:
            self._lateness_before = self._lateness_now if elapsed < 2 * self._lateness_half else 0
            self._lateness_now = 0.0
            self._lateness_started = now

    def _note_lateness(self, late: float) -> None:
        self._roll_lateness()
        self._lateness_now = max(self._lateness_now, late)

    def max_lateness(self) -> float:
        """The latest start of a scheduled check past its due time, over the last minute."""
        self._roll_lateness()
        return max(self._lateness_now, self._lateness_before)


class Row(NamedTuple):  # a tuple: 2,000 of them are made per scrape
    """One endpoint as the metrics see it at one moment."""

    name: str
    url: str  # masked: never a password; headers are not part of it
    state: str  # one of STATE_NAMES
    result: ProbeResult | None  # the last check, None while pending or paused
    last_check: float | None  # Unix time of the last check, paused or not
    since: float | None  # Unix time the current state began (None: paused or pending)
    counts: EndpointCounts | None = None  # None: no counters (check --format prometheus)


def row_from_watch(watch: Watch, counts: EndpointCounts | None, url: str | None = None) -> Row:
    """``url``: the endpoint's masked URL when the caller has it already."""
    last = watch.last
    if watch.paused:
        state, result, since = "paused", None, None
    elif last is None:
        state, result, since = "pending", None, None
    else:
        state, result = last.state.value, last
        since = None if watch.state_since is None else watch.state_since.timestamp()
    return Row(
        name=watch.endpoint.name,
        url=watch.endpoint.display_url if url is None else url,
        state=state,
        result=result,
        last_check=None if last is None else last.checked_at.timestamp(),
        since=since,
        counts=counts,
    )


def row_from_result(result: ProbeResult) -> Row:
    """A one-shot check's result (``check --format prometheus``): no counters, no since."""
    return Row(
        name=result.endpoint.name,
        url=result.endpoint.display_url,
        state=result.state.value,
        result=result,
        last_check=result.checked_at.timestamp(),
        since=None,
    )


# --- the families -----------------------------------------------------------------------

# (extra label value or None, sample value) pairs of one row in one family
Values = Callable[[Row], Sequence[tuple[str | None, float]]]


def _up(row: Row) -> Sequence[tuple[str | None, float]]:
    if row.result is None:
        return ()
    return ((None, 0.0 if row.result.state is State.ERROR else 1.0),)


def _ready(row: Row) -> Sequence[tuple[str | None, float]]:
    if row.result is None:
        return ()
    return ((None, 1.0 if row.result.state is State.READY else 0.0),)


def _state(row: Row) -> Sequence[tuple[str | None, float]]:
    return [(state, 1.0 if state == row.state else 0.0) for state in STATE_NAMES]


def _error(row: Row) -> Sequence[tuple[str | None, float]]:
    if row.result is None or row.result.error is None:
        return ()
    return ((row.result.error.kind.value, 1.0),)


def _duration(row: Row) -> Sequence[tuple[str | None, float]]:
    return () if row.result is None else ((None, row.result.elapsed_ms / 1000),)


def _phases(row: Row) -> Sequence[tuple[str | None, float]]:
    if row.result is None:
        return ()
    timings = row.result.timings
    pairs = (
        ("connect", timings.connect_ms),
        ("handshake", timings.handshake_ms),
        ("response", timings.response_ms),
    )
    return [(phase, ms / 1000) for phase, ms in pairs if ms is not None]


def _last_check(row: Row) -> Sequence[tuple[str | None, float]]:
    return () if row.last_check is None else ((None, row.last_check),)


def _since(row: Row) -> Sequence[tuple[str | None, float]]:
    return () if row.since is None else ((None, row.since),)


def _checks(row: Row) -> Sequence[tuple[str | None, float]]:
    if row.counts is None:
        return ()
    return list(zip(RESULT_NAMES, map(float, row.counts.by_result), strict=True))


def _changes(row: Row) -> Sequence[tuple[str | None, float]]:
    return () if row.counts is None else ((None, float(row.counts.changes)),)


@dataclass(frozen=True)
class Family:
    name: str  # as exposed in the 0.0.4 text format (a counter's with _total)
    kind: str  # "gauge" or "counter"
    documentation: str
    extra_label: str | None
    values: Values
    counter: bool = False


FAMILIES: tuple[Family, ...] = (
    Family(
        "bidi_endpoint_up", "gauge",
        "1 when the last check got a BiDi answer (ready or not ready), 0 on error", None, _up,
    ),
    Family(
        "bidi_endpoint_ready", "gauge", "1 when the last check said ready, else 0", None, _ready,
    ),
    Family(
        "bidi_endpoint_state", "gauge",
        "1 for the endpoint's current state: ready, not_ready, error, paused or pending",
        "state", _state,
    ),
    Family(
        "bidi_endpoint_error", "gauge",
        "1 for the last check's error kind (absent when it answered)", "kind", _error,
    ),
    Family(
        "bidi_check_duration_seconds", "gauge", "How long the last check took", None, _duration,
    ),
    Family(
        "bidi_check_phase_seconds", "gauge",
        "Time the last check spent in each phase it reached: connect, handshake, response",
        "phase", _phases,
    ),
    Family(
        "bidi_last_check_timestamp_seconds", "gauge",
        "Unix time the last check started", None, _last_check,
    ),
    Family(
        "bidi_state_since_timestamp_seconds", "gauge",
        "Unix time the endpoint entered its current state", None, _since,
    ),
    Family(
        "bidi_checks_total", "counter", "Finished checks by result: ready, not_ready, error",
        "result", _checks, counter=True,
    ),
    Family(
        "bidi_state_changes_total", "counter",
        "Changes between ready, not_ready and error", None, _changes,
        counter=True,
    ),
)  # fmt: skip

ONE_SHOT_FAMILIES = tuple(family for family in FAMILIES if not family.counter)


def _metric_family(family: Family) -> GaugeMetricFamily | CounterMetricFamily:
    labels = sorted(["name", "url", *([family.extra_label] if family.extra_label else [])])
    if family.counter:
        return CounterMetricFamily(family.name, family.documentation, labels=labels)
    return GaugeMetricFamily(family.name, family.documentation, labels=labels)


def collect_families(
    rows: Sequence[Row], families: Iterable[Family] = FAMILIES
) -> Iterator[Metric]:
    """The families as ``prometheus_client`` metric families (the standard collector path)."""
    for family in families:
        metric = _metric_family(family)
        for row in rows:
            for extra, value in family.values(row):
                labels = {"name": row.name, "url": row.url}
                if family.extra_label is not None and extra is not None:
                    labels[family.extra_label] = extra
                metric.add_metric([labels[key] for key in sorted(labels)], value)
        yield metric


class EngineGauges(Collector):
    """The engine's own state: one small gauge set per ``serve``."""

    def __init__(self, engine: Engine, counts: CheckCounts) -> None:
        self.engine = engine
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "bidi_engine_endpoints",
            "Endpoints watched, paused ones included",
            value=len(self.engine.watches),
        )
        yield GaugeMetricFamily(
            "bidi_engine_checks_in_flight",
            "Scheduled checks running now",
            value=self.engine.in_flight,
        )
        yield GaugeMetricFamily(
            "bidi_engine_max_lateness_seconds",
            "Largest delay of a scheduled check's start past its due time, last minute",
            value=self.counts.max_lateness(),
        )
        yield GaugeMetricFamily(
            "bidi_engine_last_check_timestamp_seconds",
            "Unix time the last scheduled check finished (start-up until the first one)",
            value=self.counts.last_check_wall,
        )  # fmt: skip
