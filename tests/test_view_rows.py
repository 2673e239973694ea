"""Row texts, filtering, sorting and column layout: pure functions over engine watches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import Activity, HistoryEntry, Watch
from bidi_tui.model import ErrorKind, ProbeError, ProbeResult, State
from bidi_tui.view.columns import (
    COLUMN_BY_KEY,
    COLUMNS,
    GAP,
    MARGIN,
    MAX_NAME_WIDTH,
    MAX_URL_WIDTH,
    MESSAGE_FLOOR,
    MIN_MESSAGE_WIDTH,
    MIN_NAME_WIDTH,
    NARROW_MESSAGE_WIDTH,
    fit_columns,
)
from bidi_tui.view.filtering import (
    SORT_CYCLE,
    RowFilter,
    SortKey,
    next_sort,
    parse_filter,
    sort_value,
    verdict_state,
)
from bidi_tui.view.formats import (
    SPARK_CHARS,
    SPARK_WIDTH,
    format_duration,
    format_latency,
    sparkline,
)
from bidi_tui.view.rows import RowView, row_view
from bidi_tui.view.states import LOOKS, RowState, row_state

STATE_TEXT = {state: look.label for state, look in LOOKS.items()}
COLUMN_LABELS = {column.key: column.label for column in COLUMNS}
FIXED_WIDTHS = {column.key: column.width for column in COLUMNS if column.width}
OPTIONAL_COLUMNS = tuple(
    column.key
    for column in sorted((c for c in COLUMNS if c.drop_order), key=lambda c: c.drop_order)
)


def column_layout(total: int, longest_name: int, longest_url: int) -> dict[str, int]:
    layout = fit_columns(total, longest_name, longest_url)
    return {column.key: width for column, width in layout.columns}


def row_cells(w: Watch, now_wall: datetime, now_clock: float) -> RowView:
    return row_view(w, now_wall, now_clock)


T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def endpoint(spec: str, **options: object) -> Endpoint:
    (parsed,) = parse_spec(spec, **options)  # type: ignore[arg-type]
    return parsed


def result(
    ep: Endpoint,
    state: State,
    *,
    latency_ms: float | None = 12.0,
    message: str | None = None,
    at: datetime = T0,
    kind: ErrorKind = ErrorKind.REFUSED,
    detail: str = "connection refused",
) -> ProbeResult:
    if state is State.ERROR:
        return ProbeResult(
            endpoint=ep,
            state=state,
            checked_at=at,
            elapsed_ms=1.0,
            error=ProbeError(kind, detail, hint="is it running?"),
        )
    return ProbeResult(
        endpoint=ep,
        state=state,
        checked_at=at,
        elapsed_ms=latency_ms or 0.0,
        ready=state is State.READY,
        message=message if message is not None else ("" if state is State.READY else "busy"),
        latency_ms=latency_ms,
    )


def watch(
    spec: str,
    state: State | None = None,
    *,
    activity: Activity = Activity.WAITING,
    tags: tuple[str, ...] = (),
    interval: float = 5.0,
    **result_options: object,
) -> Watch:
    ep = endpoint(spec, tags=tags)
    w = Watch(endpoint=ep, interval=interval, timeout=5.0)
    w.activity = activity
    if state is not None:
        w.last = result(ep, state, **result_options)  # type: ignore[arg-type]
        w.state_since = w.last.checked_at
        w.last_finished_at = 100.0
        w.next_due = 100.0 + interval  # as the engine schedules the next check
    return w


def entry(state: State, latency_ms: float | None) -> HistoryEntry:
    return HistoryEntry(
        checked_at=T0,
        state=state,
        latency_ms=latency_ms,
        summary="",
        error_kind=ErrorKind.TIMEOUT if state is State.ERROR else None,
    )


# --- texts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3, "0s"),
        (0, "0s"),
        (4.9, "4s"),
        (59.99, "59s"),
        (60, "1m00s"),
        (125, "2m05s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (3 * 3600 + 12 * 60 + 59, "3h12m"),
        (86399, "23h59m"),
        (86400, "1d00h"),
        (2 * 86400 + 4 * 3600 + 59 * 60, "2d04h"),
        (400 * 86400, "400d00h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("latency", "text"),
    [
        (None, "-"),
        (0.0, "0.0 ms"),
        (3.456, "3.5 ms"),
        (10.0, "10 ms"),
        (42.4, "42 ms"),
        (9999.0, "9999 ms"),
        (12_345.0, "12.3 s"),
    ],
)
def test_format_latency(latency: float | None, text: str) -> None:
    assert format_latency(latency) == text


def test_sparkline_heights_follow_latency() -> None:
    history = [entry(State.READY, ms) for ms in (0.0, 10.0, 20.0, 70.0)]
    assert sparkline(history, width=4) == "▁▂▃█"
    assert SPARK_CHARS[0] == "▁" and SPARK_CHARS[-1] == "█"


def test_sparkline_marks_errors_and_not_ready() -> None:
    history = [
        entry(State.READY, 50.0),
        entry(State.ERROR, None),
        entry(State.NOT_READY, 5.0),
        entry(State.READY, 20.0),
    ]
    line = sparkline(history)
    assert len(line) == SPARK_WIDTH
    assert line.endswith("█✖◐▄")
    assert line[:-4] == " " * (SPARK_WIDTH - 4)


def test_sparkline_keeps_the_most_recent_entries() -> None:
    history = [entry(State.ERROR, None)] * 5 + [entry(State.READY, 1.0)] * SPARK_WIDTH
    line = sparkline(history)
    assert len(line) == SPARK_WIDTH
    assert "✖" not in line
    assert set(line) == {"█"}


def test_sparkline_of_nothing_and_of_zero_latencies() -> None:
    assert sparkline([]) == " " * SPARK_WIDTH
    assert sparkline([entry(State.READY, 0.0), entry(State.READY, None)], width=2) == "▁▁"
    assert sparkline([entry(State.ERROR, None)], width=1) == "✖"


def test_row_state_and_verdict() -> None:
    assert row_state(watch("a:1")) is RowState.PENDING
    assert row_state(watch("a:1", activity=Activity.CHECKING)) is RowState.CHECKING
    ready_checking = watch("a:1", State.READY, activity=Activity.CHECKING)
    assert row_state(ready_checking) is RowState.READY  # a recheck does not hide the verdict
    paused = watch("a:1", State.ERROR, activity=Activity.PAUSED)
    assert row_state(paused) is RowState.PAUSED
    assert verdict_state(paused) is RowState.ERROR
    assert row_state(watch("a:1", State.NOT_READY)) is RowState.NOT_READY
    assert set(STATE_TEXT) == set(RowState)
    for state in (RowState.READY, RowState.NOT_READY, RowState.ERROR):
        assert STATE_TEXT[state].split(" ", 1)[1] in ("READY", "NOT READY", "ERROR")


def test_row_cells_texts() -> None:
    w = watch(
        "ff=ws://user:hunter2@127.0.0.1:9222/session",
        State.ERROR,
        at=T0,
        detail="connection refused",
    )
    w.state_since = T0 - timedelta(minutes=2, seconds=5)
    w.history.append(entry(State.ERROR, None))
    cells = row_cells(w, now_wall=T0 + timedelta(seconds=4), now_clock=101.0)
    assert cells.state is RowState.ERROR
    assert cells.name == "ff"
    assert cells.url == "ws://user:***@127.0.0.1:9222/session"
    assert "hunter2" not in repr(cells)
    assert cells.message == "refused: connection refused"
    assert cells.latency == "-"
    assert cells.age == "4s"
    assert cells.since == "2m09s"
    assert cells.trend.endswith("✖")


def test_row_cells_mark_stale_rows_and_pending_ones() -> None:
    w = watch("a:1", State.READY, latency_ms=3.0, interval=5.0)
    w.last_finished_at = 100.0
    fresh = row_cells(w, now_wall=T0 + timedelta(seconds=9), now_clock=110.0)
    assert fresh.age == "9s"
    stale = row_cells(w, now_wall=T0 + timedelta(seconds=11), now_clock=110.5)
    assert stale.age == "⚠ 11s"
    assert stale.latency == "3.0 ms"

    pending = row_cells(watch("b:2"), now_wall=T0, now_clock=0.0)
    assert pending.state is RowState.PENDING
    assert (pending.age, pending.since, pending.latency, pending.message) == ("-", "-", "-", "")


def test_row_cells_clip_long_texts_to_one_line() -> None:
    long_message = "line one\nline two " + "x" * 500
    w = watch("a:1", State.NOT_READY, message=long_message)
    cells = row_cells(w, now_wall=T0, now_clock=100.0)
    assert "\n" not in cells.message
    assert cells.message.startswith("line one line two x")
    assert cells.message.endswith("…")
    long_url = watch("ws://127.0.0.1:9222/" + "p" * 100)
    url = row_cells(long_url, now_wall=T0, now_clock=0.0).url
    shown = COLUMN_BY_KEY["url"].cut(url, column_layout(300, 10, len(url))["url"])
    assert len(shown) == MAX_URL_WIDTH
    assert shown.endswith("…")


def test_stale_needs_two_intervals_and_is_never_set_while_paused() -> None:
    w = watch("a:1", State.READY, interval=5.0)
    w.last_finished_at = 100.0
    w.next_due = 105.0
    assert not w.is_stale(110.0)
    assert w.is_stale(110.1)
    w.activity = Activity.PAUSED
    assert not w.is_stale(1000.0)
    assert not watch("b:2").is_stale(1000.0)  # never checked yet


# --- filtering ----------------------------------------------------------------------------


def test_parse_filter_words_and_states() -> None:
    parsed = parse_filter("  FF   Linux ")
    assert parsed.words == ("ff", "linux")
    assert parsed.states == frozenset()
    assert parsed.problems == ()
    assert parsed.active

    assert parse_filter("is:error").states == {RowState.ERROR}
    assert parse_filter("IS:Errors").states == {RowState.ERROR}
    assert parse_filter("is:busy").states == {RowState.NOT_READY}
    assert parse_filter("state:ready").states == {RowState.READY}
    assert parse_filter("is:pending").states == {RowState.PENDING, RowState.CHECKING}
    both = parse_filter("is:ready is:not_ready chrome")
    assert both.states == {RowState.READY, RowState.NOT_READY}
    assert both.words == ("chrome",)
    stale = parse_filter("is:stale")
    assert stale.stale and stale.active and stale.states == frozenset()


def test_parse_filter_unknown_state_gives_a_problem() -> None:
    parsed = parse_filter("is:foo ff")
    assert len(parsed.problems) == 1
    assert "'foo'" in parsed.problems[0]
    assert "is:ready" in parsed.problems[0]
    assert parsed.states == frozenset()
    assert parsed.words == ("ff",)
    only_problem = parse_filter("is:foo")
    assert not only_problem.active


def test_empty_filter_is_inactive_and_matches_all() -> None:
    empty = parse_filter("   ")
    assert empty == RowFilter()
    assert not empty.active
    assert empty.matches(watch("a:1"), 0.0)
    assert empty.matches(watch("b:2", State.ERROR), 0.0)


def test_row_filter_matches_name_url_message_and_tags() -> None:
    ff = watch("ff-1=127.0.0.1:9222", State.READY, tags=("Linux",))
    cd = watch("cd-1=10.0.0.9:9515", State.NOT_READY, message="already connected")
    err = watch("grid=127.0.0.1:4444", State.ERROR, detail="HTTP 404 Not Found")

    def kept(text: str) -> list[str]:
        f = parse_filter(text)
        return [w.endpoint.name for w in (ff, cd, err) if f.matches(w, 100.0)]

    assert kept("ff") == ["ff-1"]
    assert kept("10.0.0") == ["cd-1"]
    assert kept("ALREADY") == ["cd-1"]
    assert kept("linux") == ["ff-1"]
    assert kept("404") == ["grid"]
    assert kept("refused") == ["grid"]  # the error kind is part of the message text
    assert kept("127.0.0.1 ff") == ["ff-1"]  # every word must appear
    assert kept("127.0.0.1") == ["ff-1", "grid"]
    assert kept("is:error") == ["grid"]
    assert kept("is:error is:busy") == ["cd-1", "grid"]
    assert kept("is:ready 127") == ["ff-1"]
    assert kept("is:ready cd") == []
    assert kept("nothing-like-this") == []


def test_row_filter_states_match_the_verdict_or_what_happens_now() -> None:
    paused_ready = watch("p:1", State.READY, activity=Activity.PAUSED)
    pending = watch("q:1")
    checking = watch("r:1", activity=Activity.CHECKING)
    assert parse_filter("is:paused").matches(paused_ready, 0.0)
    assert parse_filter("is:ready").matches(paused_ready, 0.0)
    assert not parse_filter("is:error").matches(paused_ready, 0.0)
    assert parse_filter("is:pending").matches(pending, 0.0)
    assert parse_filter("is:pending").matches(checking, 0.0)
    assert not parse_filter("is:ready").matches(pending, 0.0)


def test_row_filter_stale() -> None:
    w = watch("a:1", State.READY, interval=1.0)
    w.last_finished_at = 100.0
    f = parse_filter("is:stale")
    assert not f.matches(w, 101.0)
    assert f.matches(w, 103.0)
    assert not parse_filter("is:stale nomatch").matches(w, 103.0)


# --- sorting ------------------------------------------------------------------------------


def sorted_names(key: SortKey, watches: list[Watch], reverse: bool = False) -> list[str]:
    indexed = list(enumerate(watches))
    indexed.sort(key=lambda pair: sort_value(key, pair[1], pair[0]), reverse=reverse)
    return [w.endpoint.name for _, w in indexed]


@pytest.fixture
def farm() -> list[Watch]:
    """Config order: the index in this list."""
    return [
        watch("b-ready=h:1", State.READY, latency_ms=30.0, at=T0),
        watch("A-err=h:2", State.ERROR, at=T0 + timedelta(seconds=5)),
        watch("c-paused=h:3", State.READY, activity=Activity.PAUSED, latency_ms=1.0, at=T0),
        watch("d-pending=h:4"),
        watch("e-busy=h:5", State.NOT_READY, latency_ms=30.0, at=T0 + timedelta(seconds=9)),
        watch("a-ready=h:6", State.READY, latency_ms=5.0, at=T0 + timedelta(seconds=5)),
        watch("f-checking=h:7", activity=Activity.CHECKING),
        watch("g-err=h:8", State.ERROR, at=T0 + timedelta(seconds=1)),
        watch("h-ready=h:9", State.READY, latency_ms=30.0, at=T0 + timedelta(seconds=9)),
    ]


def test_sort_by_config_order(farm: list[Watch]) -> None:
    assert sorted_names(SortKey.CONFIG, farm) == [w.endpoint.name for w in farm]


def test_sort_by_state_puts_trouble_first_and_ties_in_config_order(farm: list[Watch]) -> None:
    assert sorted_names(SortKey.STATE, farm) == [
        "A-err",
        "g-err",
        "e-busy",
        "f-checking",
        "d-pending",
        "b-ready",
        "a-ready",
        "h-ready",
        "c-paused",
    ]


def test_sort_by_name_ignores_case(farm: list[Watch]) -> None:
    assert sorted_names(SortKey.NAME, farm) == [
        "A-err",
        "a-ready",
        "b-ready",
        "c-paused",
        "d-pending",
        "e-busy",
        "f-checking",
        "g-err",
        "h-ready",
    ]


def test_sort_by_name_ties_keep_config_order() -> None:
    watches = [watch("Node=h:1"), watch("node=h:2"), watch("NODE=h:3")]
    assert sorted_names(SortKey.NAME, watches) == ["Node", "node", "NODE"]


def test_sort_by_latency_fastest_first_unknown_last(farm: list[Watch]) -> None:
    assert sorted_names(SortKey.LATENCY, farm) == [
        "c-paused",  # 1 ms
        "a-ready",  # 5 ms
        "b-ready",  # 30 ms, config order among equals
        "e-busy",
        "h-ready",
        "A-err",  # no latency: config order
        "d-pending",
        "f-checking",
        "g-err",
    ]


def test_sort_by_last_check_most_recent_first_never_checked_last(farm: list[Watch]) -> None:
    assert sorted_names(SortKey.LAST_CHECK, farm) == [
        "e-busy",  # T0+9
        "h-ready",  # T0+9
        "A-err",  # T0+5
        "a-ready",  # T0+5
        "g-err",  # T0+1
        "b-ready",  # T0
        "c-paused",  # T0
        "d-pending",  # never
        "f-checking",  # never
    ]


def test_sort_cycle() -> None:
    assert SORT_CYCLE[0] is SortKey.CONFIG
    assert set(SORT_CYCLE) == set(SortKey)
    key = SortKey.CONFIG
    seen = []
    for _ in SORT_CYCLE:
        seen.append(key)
        key = next_sort(key)
    assert seen == list(SORT_CYCLE)
    assert key is SortKey.CONFIG


# --- column layout ------------------------------------------------------------------------


def layout_total(widths: dict[str, int]) -> int:
    return MARGIN + sum(widths.values()) + GAP * (len(widths) - 1)


def fits_with(columns: list[str], total: int, name: int, url: int) -> bool:
    """Whether ``columns`` (message included) leave the message its minimum width."""
    widths = {
        c: FIXED_WIDTHS.get(c, name if c == "name" else url if c == "url" else 0) for c in columns
    }
    return total - layout_total(widths) >= MIN_MESSAGE_WIDTH


@pytest.mark.parametrize(
    ("total", "longest_name", "longest_url"),
    [
        (78, 10, 30),
        *((total, 10, 30) for total in (80, 100, 120, 200)),
        *((total, 6, 120) for total in (78, 80, 100, 120, 200)),
        (78, 24, 40),
        (80, 24, 40),
        *((total, 24, 40) for total in (100, 120, 200)),
    ],
)
def test_column_layout(total: int, longest_name: int, longest_url: int) -> None:
    widths = column_layout(total, longest_name, longest_url)
    # Display order is kept; mandatory columns are always there.
    assert list(widths) == [c for c in COLUMN_LABELS if c in widths]
    for mandatory in set(COLUMN_LABELS) - set(OPTIONAL_COLUMNS):
        assert mandatory in widths
    if set(widths) & set(OPTIONAL_COLUMNS):
        assert widths["message"] >= MIN_MESSAGE_WIDTH
    assert widths["message"] >= NARROW_MESSAGE_WIDTH
    assert layout_total(widths) <= total
    # The name column only gives way once every optional column is gone.
    assert widths["name"] <= min(longest_name, MAX_NAME_WIDTH)
    if widths["name"] < min(longest_name, MAX_NAME_WIDTH):
        assert set(widths).isdisjoint(OPTIONAL_COLUMNS)
        assert widths["message"] == NARROW_MESSAGE_WIDTH
    if "url" in widths:
        assert widths["url"] == min(longest_url, MAX_URL_WIDTH)
    # Columns go in the documented order and only when they must.
    dropped = sorted((c for c in COLUMN_LABELS if c not in widths), key=OPTIONAL_COLUMNS.index)
    assert tuple(dropped) == OPTIONAL_COLUMNS[: len(dropped)]
    if dropped:
        one_fewer = [c for c in COLUMN_LABELS if c in widths or c == dropped[-1]]
        name = min(longest_name, MAX_NAME_WIDTH)
        assert not fits_with(one_fewer, total, name, min(longest_url, MAX_URL_WIDTH))
    # Nothing is wasted: the message takes what is left.
    assert layout_total(widths) == total


@pytest.mark.parametrize(
    ("total", "dropped"),
    [
        (200, set()),
        (120, {"trend", "since", "uptime"}),
        (100, {"trend", "since", "uptime", "url"}),
        (80, {"trend", "since", "uptime", "url"}),
    ],
)
def test_column_layout_at_common_widths(total: int, dropped: set[str]) -> None:
    widths = column_layout(total, longest_name=10, longest_url=30)
    assert set(COLUMN_LABELS) - set(widths) == dropped


def test_column_layout_too_narrow_keeps_the_minimum_message() -> None:
    widths = column_layout(40, longest_name=30, longest_url=60)
    assert set(widths).isdisjoint(OPTIONAL_COLUMNS)
    assert widths["message"] == MESSAGE_FLOOR
    assert widths["name"] == MIN_NAME_WIDTH  # names gave way before the message did
    assert len("NAME") <= widths["name"] <= MAX_NAME_WIDTH


def test_column_layout_short_names_get_room_for_the_header() -> None:
    widths = column_layout(200, longest_name=1, longest_url=1)
    assert widths["name"] >= len("NAME")
    assert widths["url"] >= len("URL")


def test_an_insecure_endpoint_says_so_in_its_url_cell() -> None:
    from datetime import UTC, datetime

    from bidi_tui.endpoints import parse_spec
    from bidi_tui.engine import Watch

    [secure] = parse_spec("wss://h:1/session")
    [insecure] = parse_spec("wss://h:1/session", insecure=True)
    now = datetime.now(UTC)
    assert row_cells(Watch(secure, 5, 5), now, 0.0).url == "wss://h:1/session"
    assert row_cells(Watch(insecure, 5, 5), now, 0.0).url == "⚠insecure wss://h:1/session"


def test_an_80_column_terminal_keeps_demo_names_whole() -> None:
    # "chromium-1" is the demo farm's longest name: the message narrows first.
    widths = column_layout(78, len("chromium-1"), 40)
    assert widths["name"] == len("chromium-1")
    assert widths["message"] >= NARROW_MESSAGE_WIDTH
