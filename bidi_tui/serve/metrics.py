"""Per-endpoint metrics, computed when scraped from the engine's watches.

:class:`EndpointSeries` is a ``prometheus_client`` collector: ``collect()`` yields the
families below as ``GaugeMetricFamily`` / ``CounterMetricFamily``. Rendering those through
``prometheus_client.generate_latest`` costs about 4 µs a sample (125 ms for the 30,000
samples of 2,000 endpoints, 185 ms as OpenMetrics), so ``/metrics`` renders the same
families with :meth:`EndpointSeries.exposition`, which keeps each endpoint's escaped label
text between scrapes; the tests check that both give the same bytes. The rest of
``/metrics`` (process, engine, probe and reload metrics) is ``prometheus_client``'s own.

The checks feed only :class:`CheckCounts` (a few dictionary updates per check); every
gauge is read from the watches at scrape time. No series carries an endpoint's message:
labels are the operator's name and the masked URL, the error kind and the phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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


def row_from_watch(watch: Watch, counts: EndpointCounts | None) -> Row:
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
        url=watch.endpoint.display_url,
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


def _by_state(row: Row) -> object:
    return row.state


def _by_error(row: Row) -> object:
    error = None if row.result is None else row.result.error
    return row.state, None if error is None else error.kind


def _by_result(row: Row) -> object:
    return row.result


def _by_last_check(row: Row) -> object:
    return row.last_check


def _by_since(row: Row) -> object:
    return row.since


def _by_checks(row: Row) -> object:
    return None if row.counts is None else tuple(row.counts.by_result)


def _by_changes(row: Row) -> object:
    return None if row.counts is None else row.counts.changes


@dataclass(frozen=True)
class Family:
    name: str  # as exposed in the 0.0.4 text format (a counter's with _total)
    kind: str  # "gauge" or "counter"
    documentation: str
    extra_label: str | None
    values: Values
    # What a row's lines depend on besides its labels, cheaper to read than the values: a
    # scrape reuses the last one's lines of a row while it stays equal (the same object,
    # with ``identity``), so a second Prometheus scraping the same serve costs little.
    key: Callable[[Row], object]
    counter: bool = False
    identity: bool = False


FAMILIES: tuple[Family, ...] = (
    Family(
        "bidi_endpoint_up", "gauge",
        "1 when the last check got a BiDi answer (ready or not ready), 0 on error", None, _up,
        _by_state,
    ),
    Family(
        "bidi_endpoint_ready", "gauge", "1 when the last check said ready, else 0", None, _ready,
        _by_state,
    ),
    Family(
        "bidi_endpoint_state", "gauge",
        "1 for the endpoint's current state: ready, not_ready, error, paused or pending",
        "state", _state, _by_state,
    ),
    Family(
        "bidi_endpoint_error", "gauge",
        "1 for the last check's error kind (absent when it answered)", "kind", _error,
        _by_error,
    ),
    Family(
        "bidi_check_duration_seconds", "gauge", "How long the last check took", None, _duration,
        _by_result, identity=True,
    ),
    Family(
        "bidi_check_phase_seconds", "gauge",
        "Time the last check spent in each phase it reached: connect, handshake, response",
        "phase", _phases, _by_result, identity=True,
    ),
    Family(
        "bidi_last_check_timestamp_seconds", "gauge",
        "Unix time the last check started", None, _last_check, _by_last_check,
    ),
    Family(
        "bidi_state_since_timestamp_seconds", "gauge",
        "Unix time the endpoint entered its current state", None, _since, _by_since,
    ),
    Family(
        "bidi_checks_total", "counter", "Finished checks by result: ready, not_ready, error",
        "result", _checks, _by_checks, counter=True,
    ),
    Family(
        "bidi_state_changes_total", "counter",
        "Changes between ready, not_ready and error", None, _changes, _by_changes,
        counter=True,
    ),
)  # fmt: skip

ONE_SHOT_FAMILIES = tuple(family for family in FAMILIES if not family.counter)


def _escape(value: str) -> str:
    """A label value as the exposition formats write it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _number(value: float) -> str:
    """``floatToGoString``, with its commonest cases first (half the samples are 0 or 1)."""
    if value == 1.0:
        return "1.0"
    if value == 0.0:
        return "0.0"
    if 0 < value < 1e6:  # no exponent in Go's form either: Python's repr is it
        return repr(float(value))
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


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


class RenderCache:
    """What a scrape can reuse from the last one: each endpoint's escaped label text, and
    the lines of families whose :attr:`Family.key` did not change. Only what the last
    scrape used is kept."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, str], tuple[str, str, str]] = {}
        # (family, labels) -> (the key its lines were made for, the lines)
        self.blocks: dict[tuple[str, str], tuple[object, str]] = {}

    def label_texts(self, rows: Sequence[Row]) -> list[tuple[str, str, str]]:
        """Per row: ``name="…",url="…"``, ``name="…"``, ``url="…"``."""
        kept: dict[tuple[str, str], tuple[str, str, str]] = {}
        out = []
        for row in rows:
            key = (row.name, row.url)
            texts = self.labels.get(key)
            if texts is None:
                name_label = f'name="{_escape(row.name)}"'
                url_label = f'url="{_escape(row.url)}"'
                texts = (f"{name_label},{url_label}", name_label, url_label)
            kept[key] = texts
            out.append(texts)
        self.labels = kept
        return out


def _lines(family: Family, row: Row, texts: tuple[str, str, str], fragments: dict[str, str]) -> str:
    """One row's sample lines of one family."""
    both, name_label, url_label = texts
    name, extra = family.name, family.extra_label
    if extra is None:
        return "".join(f"{name}{{{both}}} {_number(value)}\n" for _, value in family.values(row))
    lines = []
    for extra_value, value in family.values(row):
        if extra is None or extra_value is None:
            inner = both
        else:
            fragment = fragments.get(extra_value)
            if fragment is None:
                fragment = fragments[extra_value] = f'{extra}="{_escape(extra_value)}"'
            if extra < "name":
                inner = f"{fragment},{both}"
            elif extra < "url":
                inner = f"{name_label},{fragment},{url_label}"
            else:
                inner = f"{both},{fragment}"
        lines.append(f"{name}{{{inner}}} {_number(value)}\n")
    return "".join(lines)


def render(
    rows: Sequence[Row],
    *,
    openmetrics: bool,
    families: Iterable[Family] = FAMILIES,
    cache: RenderCache | None = None,
) -> str:
    """The families in the text format (0.0.4) or OpenMetrics, without OpenMetrics' ``# EOF``:
    byte for byte what ``prometheus_client`` writes for :func:`collect_families`."""
    cache = cache or RenderCache()
    texts = cache.label_texts(rows)
    old_blocks, blocks = cache.blocks, {}
    out: list[str] = []
    for family in families:
        name = family.name
        head = name.removesuffix("_total") if family.counter and openmetrics else name
        out.append(f"# HELP {head} {family.documentation}\n# TYPE {head} {family.kind}\n")
        fragments: dict[str, str] = {}
        key_of, identity = family.key, family.identity
        for row, row_texts in zip(rows, texts, strict=True):
            slot = (name, row_texts[0])
            key = key_of(row)
            cached = old_blocks.get(slot)
            if cached is not None and (cached[0] is key or (not identity and cached[0] == key)):
                blocks[slot] = cached
                out.append(cached[1])
                continue
            block = _lines(family, row, row_texts, fragments)
            blocks[slot] = (key, block)
            out.append(block)
    cache.blocks = blocks
    return "".join(out)


class EndpointSeries(Collector):
    """The per-endpoint families of an engine's watches, read when scraped."""

    def __init__(self, engine: Engine, counts: CheckCounts) -> None:
        self.engine = engine
        self.counts = counts
        self._cache = RenderCache()

    def rows(self) -> list[Row]:
        counts = self.counts.counts
        counts_for = self.counts.counts_for
        return [
            row_from_watch(watch, counts.get(name) or counts_for(name, watch))
            for name, watch in self.engine.watches.items()
        ]

    def collect(self) -> Iterator[Metric]:
        return collect_families(self.rows())

    def exposition(self, *, openmetrics: bool) -> str:
        return render(self.rows(), openmetrics=openmetrics, cache=self._cache)


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
