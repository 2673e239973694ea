"""Benchmark 2, the dashboard under load: 2,000 endpoints checked every 5 s for a minute.

    python bench/dashboard_load.py                 # 60 s of dashboard, 60 s of engine alone
    python bench/dashboard_load.py --seconds 20    # shorter
    python bench/dashboard_load.py --profile FILE  # also cProfile the dashboard run

The demo farm (``python -m bidi_tui.demo --healthy N``) runs in its own process. The
dashboard, ``bidi_tui.ui.app.BidiTuiApp(config, endpoints, interval=5, timeout=5)``, runs in
a worker process under ``App.run_test(size=(120, 40))`` (headless), so everything the
worker spends is the dashboard's. Headless Textual skips turning screen updates into
terminal escape codes; the worker does that work anyway (``CompositorUpdate.
render_segments``, the string is dropped) so its CPU is counted as in a real terminal.

What is measured:

- CPU: the worker's process CPU time over the run / wall time (100% = one core); also
  from 10 s on (the first round, 2,000 checks due in the first second, is over) to
  half-time, while only watching, and in the second half, while keys are pressed.
- Peak RSS: the worker's ``VmHWM`` at the end.
- Key press to screen: in the second half of the run, every 0.1-0.3 s (random, after the
  previous one was drawn) a ``down`` key event is posted the way
  Textual's input thread posts it (``driver.send_message``); the sample ends when the app
  hands the screen a compositor update (``App._display``) with the table's cursor row
  changed, after that update is rendered to escape codes. So it covers queueing behind
  checks and table refreshes, the binding, the cursor move, Textual's frame timer and the
  render.
- Lateness: for every check, when it started minus when it was due (the engine's
  ``next_due`` at ``CheckStarted``); first checks (spread over the first second) apart.
- Table refresh cost: wall time of each call of ``BidiTuiApp._apply_engine_updates``
  (every 0.2 s: results coalesced into cell updates, plus the summary line) and of
  ``BidiTuiApp._tick`` (every 1 s: ages of the visible rows), and of Textual's screen
  update (``Screen._on_timer_update``: compositor plus render).

The baseline, measured in the same run: the polling engine alone (``bidi_tui.engine``, no
Textual) on the same farm for the same time, in its own worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import farm
import report

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import CheckStarted, Engine, EngineEvent
from bidi_tui.model import ProbeResult, State
from bidi_tui.probe import HeldConnection
from bidi_tui.settings import Settings

INTERVAL = 5.0
TIMEOUT = 5.0
SIZE = (120, 40)
WARMUP_SECONDS = 10.0  # the first round and its burst of results
KEY_GAP = (0.1, 0.3)
KEYS_FROM = 0.5  # keys are pressed in the second half of the run only
KEY_DEADLINE = 5.0
TABLE_SIZES = (1_000, 2_000, 5_000)


def _load_endpoints(specs_path: Path) -> list[Endpoint]:
    return [e for spec in specs_path.read_text().split() for e in parse_spec(spec)]


class Lateness:
    """Per-check lateness from the engine's events: started minus due."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.first: list[float] = []
        self.later: list[float] = []
        self.seen: set[str] = set()

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, CheckStarted):
            watch = self.engine.watches.get(event.name)
            if watch is None:
                return
            late = max(0.0, self.engine.now() - watch.next_due)
            if event.name in self.seen:
                self.later.append(late)
            else:
                self.seen.add(event.name)
                self.first.append(late)

    def summary(self) -> dict[str, Any]:
        return {
            "first_max": max(self.first, default=0.0),
            "first_p99": report.percentile(self.first, 0.99),
            "later_max": max(self.later, default=0.0),
            "later_p99": report.percentile(self.later, 0.99),
            "later_p50": report.percentile(self.later, 0.50),
            "later_over_1s": sum(x > 1.0 for x in self.later),
            "checks": len(self.first) + len(self.later),
        }


class Sampler:
    """CPU and RSS of this process every second, to tell the start-up burst from the rest."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float, int]] = []  # (wall, cpu, rss KiB)

    def sample(self) -> None:
        self.points.append((time.perf_counter(), time.process_time(), report.current_rss_kib()))

    def cpu_percent(self, since: float, until: float = float("inf")) -> float:
        """CPU % of one core between ``since`` and ``until`` seconds after the first sample."""
        origin = self.points[0][0]
        inside = [p for p in self.points if since <= p[0] - origin <= until]
        if len(inside) < 2:
            return float("nan")
        start, end = inside[0], inside[-1]
        return 100 * (end[1] - start[1]) / (end[0] - start[0])


async def _sample_forever(sampler: Sampler) -> None:
    while True:
        sampler.sample()
        await asyncio.sleep(1.0)


def _timed(store: list[float], function: Callable[..., Any]) -> Callable[..., Any]:
    """Record each call's CPU time (this thread's: time spent descheduled does not count)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            store.append(time.thread_time() - started)

    return wrapper


LEVERS = ("summary", "tick", "reuse", "spread", "noop")
LEVER_HELP = """\
levers prototyped by patching the app and engine inside the worker (summary, tick and spread
have since landed in the product in their own form; reuse is the product's option):
  summary  the summary line is re-set only when its text changed, with layout=False (its
           height is fixed at 1), so it no longer re-lays out the whole screen 5x a second
  tick     _apply_engine_updates updates no rows: _tick (1 s) diff-updates the visible rows,
           results included, so the table repaints about once a second
  reuse    the product's reuse mode, Engine(settings=Settings(reuse_connections=True)), what
           `bidi-tui --reuse-connections` runs: one connection per endpoint kept open
  noop     (engine alone only) a probe that does no I/O: the engine's own cost per check
  spread   the first round is spread over one interval instead of FIRST_ROUND_SPREAD (1 s)
"""


def _apply_levers(app: Any, levers: set[str]) -> None:
    """Patch the UI-side levers into a constructed ``BidiTuiApp``."""
    if "summary" in levers:
        summary = app._summary
        update = summary.update
        shown: list[Any] = []

        def update_if_changed(content: Any = "", *, layout: bool = True) -> None:
            if shown and shown[0] == content:
                return
            shown[:] = [content]
            update(content, layout=False)

        summary.update = update_if_changed
    if "tick" in levers:
        apply = app._apply_engine_updates

        def apply_without_rows() -> None:
            app._dirty_rows = set()
            apply()

        app._apply_engine_updates = apply_without_rows


async def run_dashboard(
    specs_path: Path, seconds: float, profile_path: Path | None, levers: set[str]
) -> None:
    from textual import events
    from textual.screen import Screen

    from bidi_tui.config import Config
    from bidi_tui.engine import FIRST_ROUND_SPREAD
    from bidi_tui.ui.app import BidiTuiApp

    endpoints = _load_endpoints(specs_path)
    engine = Engine(
        endpoints,
        first_round_spread=INTERVAL if "spread" in levers else FIRST_ROUND_SPREAD,
        settings=Settings(
            default_interval=INTERVAL, default_timeout=TIMEOUT, reuse_connections="reuse" in levers
        ),
    )
    workdir = tempfile.TemporaryDirectory(prefix="bidi-dash-")
    config = Config(path=Path(workdir.name) / "endpoints.toml")
    app = BidiTuiApp(config, endpoints, interval=INTERVAL, timeout=TIMEOUT, engine=engine)
    _apply_levers(app, levers)

    applies: list[float] = []
    apply_rows: list[int] = []
    ticks: list[float] = []
    summaries: list[float] = []
    screen_updates: list[float] = []
    renders: list[float] = []
    key_latencies: list[float] = []
    key_misses = 0

    apply = _timed(applies, app._apply_engine_updates)

    def counted_apply() -> None:
        apply_rows.append(len(app._dirty_rows))
        apply()

    app._apply_engine_updates = counted_apply
    app._tick = _timed(ticks, app._tick)
    app._update_summary = _timed(summaries, app._update_summary)
    original_update = Screen._on_timer_update
    update_kinds: dict[str, list[float]] = {"layout": [], "scroll": [], "repaint": []}

    def timed_update(screen: Any) -> None:
        # What Textual is about to do: a full layout, a scroll, or repainting dirty widgets.
        kind = (
            "layout"
            if screen._layout_required
            else "scroll"
            if screen._scroll_required
            else "repaint"
        )
        started = time.thread_time()
        try:
            original_update(screen)
        finally:
            spent = time.thread_time() - started
            screen_updates.append(spent)
            update_kinds[kind].append(spent)

    Screen._on_timer_update = timed_update  # type: ignore[assignment,method-assign]

    lateness = Lateness(engine)
    engine.subscribe(lateness.on_event)

    pending: dict[str, Any] = {}
    display = app._display

    def rendered_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is None or app._batch_count:
            return
        started = time.thread_time()
        if hasattr(renderable, "render_segments"):
            renderable.render_segments(app.console)  # what a terminal would be sent
        renders.append(time.thread_time() - started)
        if pending and app.table.cursor_row != pending["row"]:
            pending["done"].set()
            pending["ended"] = time.perf_counter()

    app._display = rendered_display

    sampler = Sampler()
    profiler = cProfile.Profile() if profile_path is not None else None
    rng = random.Random(5)
    started_wall = time.perf_counter()
    started_cpu = time.process_time()
    try:
        async with app.run_test(size=SIZE) as pilot:
            sampling = asyncio.get_running_loop().create_task(_sample_forever(sampler))
            if profiler is not None:
                profiler.enable()
            driver = app._driver
            assert driver is not None
            deadline = time.perf_counter() + seconds
            keys_from = time.perf_counter() + seconds * KEYS_FROM
            while time.perf_counter() < deadline:
                await asyncio.sleep(rng.uniform(*KEY_GAP))
                if time.perf_counter() < keys_from:
                    continue  # the first part only watches: CPU without key handling
                table = app.table
                if app.screen is not app.screen_stack[0] or table.row_count == 0:
                    continue
                key = "down" if table.cursor_row < table.row_count - 1 else "home"
                done = asyncio.Event()
                pending.update(row=table.cursor_row, done=done)
                event = events.Key(key, None)
                event.set_sender(app)
                pressed = time.perf_counter()
                driver.send_message(event)
                try:
                    async with asyncio.timeout(KEY_DEADLINE):
                        await done.wait()
                    key_latencies.append(pending["ended"] - pressed)
                except TimeoutError:
                    key_misses += 1
                pending.clear()
            if profiler is not None:
                profiler.disable()
            sampler.sample()
            wall = time.perf_counter() - started_wall
            cpu = time.process_time() - started_cpu
            steady_cpu = sampler.cpu_percent(WARMUP_SECONDS)
            watch_cpu = sampler.cpu_percent(WARMUP_SECONDS, seconds * KEYS_FROM)
            keys_cpu = sampler.cpu_percent(seconds * KEYS_FROM)
            sampling.cancel()
            stats = engine.stats
            visible, everything = _update_rows_costs(app)
            await pilot.pause()
    finally:
        Screen._on_timer_update = original_update  # type: ignore[method-assign]
        workdir.cleanup()
    if profiler is not None and profile_path is not None:
        profiler.dump_stats(str(profile_path))
    result = {
        "wall": wall,
        "cpu": cpu,
        "cpu_percent": 100 * cpu / wall,
        "steady_cpu_percent": steady_cpu,
        "watch_cpu_percent": watch_cpu,
        "keys_cpu_percent": keys_cpu,
        "peak_rss_kib": report.peak_rss_kib(),
        "key_latencies": key_latencies,
        "key_misses": key_misses,
        "lateness": lateness.summary(),
        "engine_max_lateness": stats.max_lateness,
        "checks_finished": stats.checks_finished,
        "applies": applies,
        "apply_rows": apply_rows,
        "ticks": ticks,
        "summaries": summaries,
        "screen_updates": screen_updates,
        "update_kinds": update_kinds,
        "renders": renders,
        "update_rows_visible": visible,
        "update_rows_all": everything,
        "rows": len(endpoints),
    }
    print(json.dumps(result), flush=True)


def _update_rows_costs(app: Any) -> tuple[list[float], list[float]]:
    """``_update_rows`` for the visible rows vs every row, each with every age changed."""
    real_now = app.now
    visible: list[float] = []
    everything: list[float] = []
    names = list(app.engine.watches)
    try:
        for step in range(1, 6):
            shift = timedelta(seconds=97 * step)
            app.now = lambda shift=shift: real_now() + shift
            started = time.thread_time()
            app._update_rows(app._visible_names())
            visible.append(time.thread_time() - started)
            app.now = lambda shift=shift: real_now() + shift + timedelta(seconds=53)
            started = time.thread_time()
            app._update_rows(names)
            everything.append(time.thread_time() - started)
    finally:
        app.now = real_now
    return visible, everything


async def _noop_probe(
    endpoint: Endpoint, timeout: float, held: HeldConnection | None
) -> ProbeResult:
    """No network at all: what the engine's own scheduling and bookkeeping cost."""
    await asyncio.sleep(0)
    return ProbeResult(
        endpoint, State.READY, datetime.now(UTC), 0.1, ready=True, message="", latency_ms=0.1
    )


async def run_engine_only(specs_path: Path, seconds: float, levers: set[str]) -> None:
    """The baseline: the same engine, same farm, same interval, no UI at all."""
    from bidi_tui.engine import FIRST_ROUND_SPREAD

    endpoints = _load_endpoints(specs_path)
    engine = Engine(
        endpoints,
        probe_function=_noop_probe if "noop" in levers else None,
        first_round_spread=INTERVAL if "spread" in levers else FIRST_ROUND_SPREAD,
        settings=Settings(
            default_interval=INTERVAL, default_timeout=TIMEOUT, reuse_connections="reuse" in levers
        ),
    )
    lateness = Lateness(engine)
    engine.subscribe(lateness.on_event)
    sampler = Sampler()
    started_wall = time.perf_counter()
    started_cpu = time.process_time()
    engine.start()
    sampling = asyncio.get_running_loop().create_task(_sample_forever(sampler))
    try:
        await asyncio.sleep(seconds)
    finally:
        sampler.sample()
        wall = time.perf_counter() - started_wall
        cpu = time.process_time() - started_cpu
        sampling.cancel()
        await engine.stop()
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "cpu_percent": 100 * cpu / wall,
                "steady_cpu_percent": sampler.cpu_percent(WARMUP_SECONDS),
                "watch_cpu_percent": sampler.cpu_percent(WARMUP_SECONDS, seconds * KEYS_FROM),
                "keys_cpu_percent": sampler.cpu_percent(seconds * KEYS_FROM),
                "peak_rss_kib": report.peak_rss_kib(),
                "lateness": lateness.summary(),
                "engine_max_lateness": engine.stats.max_lateness,
                "checks_finished": engine.stats.checks_finished,
            }
        ),
        flush=True,
    )


# --- DataTable costs, on a bare table -----------------------------------------------------


async def _table_costs(size: int) -> dict[str, float]:
    """One bare DataTable of ``size`` rows; median cost of each way of changing one column."""
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import DataTable

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(id="t", cursor_type="row", zebra_stripes=True)

    app = TableApp()
    painted = asyncio.Event()
    display = app._display

    def display_and_render(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None and not app._batch_count:
            if hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            painted.set()

    app._display = display_and_render  # type: ignore[method-assign]
    paints: list[float] = []
    update = Screen._on_timer_update
    Screen._on_timer_update = _timed(paints, update)  # type: ignore[method-assign]
    costs: dict[str, list[float]] = {}
    columns = ["state", "name", "url", "message", "latency", "age", "since", "trend"]
    widths = [11, 12, 36, 40, 7, 10, 8, 12]

    def values(i: int, tick: int) -> list[Text | str]:
        return [
            Text("● READY", style="green"),
            f"demo-{i}",
            f"ws://127.0.0.1:4444/session/demo-{i}",
            "",
            "1.2ms",
            f"{tick}s ago",
            f"{tick}s",
            Text("▁▂▃▄▅▆▇█▁▂▃▄", style="cyan"),
        ]

    async with app.run_test(size=SIZE) as pilot:
        table: DataTable[Text | str] = app.query_one(DataTable)
        for column, width in zip(columns, widths, strict=True):
            table.add_column(column.upper(), key=column, width=width)
        for i in range(size):
            table.add_row(*values(i, 0), key=f"demo-{i}")
        await pilot.pause()

        def visible_range() -> range:
            first = int(table.scroll_offset.y)
            return range(first, min(size, first + table.size.height))

        def all_rows(tick: int) -> None:
            for i in range(size):
                table.update_cell(f"demo-{i}", "age", f"{tick}s ago")

        def visible_rows(tick: int) -> None:
            for i in visible_range():
                table.update_cell(f"demo-{i}", "age", f"{tick}s ago")

        def one_offscreen_row(tick: int) -> None:
            table.update_cell(f"demo-{size - 1}", "age", f"{tick}s ago")

        def refill(tick: int) -> None:
            table.clear()
            for i in range(size):
                table.add_row(*values(i, tick), key=f"demo-{i}")

        def visible_update_width(tick: int) -> None:
            for i in visible_range():
                table.update_cell(f"demo-{i}", "age", f"{tick}s ago", update_width=True)

        actions: list[tuple[str, Callable[[int], None]]] = [
            ("update_cell, all rows", all_rows),
            ("update_cell, visible rows", visible_rows),
            ("update_cell, one off-screen row", one_offscreen_row),
            ("clear and refill", refill),
            ("update_cell(update_width=True), visible rows", visible_update_width),
        ]
        for label, action in actions:
            for tick in range(1, 6):
                painted.clear()
                paints.clear()
                started = time.perf_counter()
                cpu = time.thread_time()
                with app.batch_update():
                    action(tick)
                called = time.thread_time() - cpu
                try:
                    async with asyncio.timeout(5.0):
                        await painted.wait()
                    until_painted = time.perf_counter() - started
                except TimeoutError:  # nothing was repainted
                    until_painted = float("nan")
                await pilot.pause()
                costs.setdefault(label + ": CPU in the calls", []).append(called)
                costs.setdefault(label + ": CPU in screen updates", []).append(sum(paints))
                costs.setdefault(label + ": wall until painted", []).append(until_painted)
    Screen._on_timer_update = update  # type: ignore[method-assign]
    return {label: report.median(v) for label, v in costs.items()}


async def _line_table_costs(size: int) -> dict[str, float]:
    """The same changes on a minimal Line API table (a ``ScrollView`` whose ``render_line``
    joins pre-formatted cells into one cached ``Strip`` per row): the lever's size."""
    from rich.segment import Segment
    from rich.style import Style
    from textual.app import App, ComposeResult
    from textual.geometry import Size
    from textual.screen import Screen
    from textual.scroll_view import ScrollView
    from textual.strip import Strip

    widths = [11, 12, 36, 40, 7, 10, 8, 12]
    zebra = [Style(bgcolor="grey11"), Style(bgcolor="grey15")]
    cursor_style = Style(bgcolor="blue", bold=True)
    cell_styles: list[Style | None] = [Style(color="green"), *[None] * 6, Style(color="cyan")]

    class LineTable(ScrollView):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.versions: list[int] = []
            self.cursor = 0
            self.strips: dict[int, tuple[int, bool, Strip]] = {}

        def load(self, rows: list[list[str]]) -> None:
            self.rows = rows
            self.versions = [0] * len(rows)
            self.virtual_size = Size(sum(widths) + 2 * len(widths), len(rows))

        def update_cell(self, index: int, column: int, value: str) -> None:
            self.rows[index][column] = value
            self.versions[index] += 1
            line = index - int(self.scroll_offset.y)
            if 0 <= line < self.size.height:  # off-screen rows cost nothing until shown
                self.refresh_line(line)

        def render_line(self, y: int) -> Strip:
            index = y + int(self.scroll_offset.y)
            if index >= len(self.rows):
                return Strip.blank(self.size.width)
            selected = index == self.cursor
            cached = self.strips.get(index)
            if cached is None or cached[0] != self.versions[index] or cached[1] != selected:
                base = cursor_style if selected else zebra[index % 2]
                segments = [
                    Segment(f" {text[:width]:<{width}} ", base + style if style else base)
                    for text, width, style in zip(
                        self.rows[index], widths, cell_styles, strict=True
                    )
                ]
                cached = (self.versions[index], selected, Strip(segments))
                self.strips[index] = cached
            return cached[2].crop(
                int(self.scroll_offset.x), int(self.scroll_offset.x) + self.size.width
            )

    class LineApp(App[None]):
        def compose(self) -> ComposeResult:
            yield LineTable()

    app = LineApp()
    painted = asyncio.Event()
    display = app._display

    def display_and_render(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None and not app._batch_count:
            if hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            painted.set()

    app._display = display_and_render  # type: ignore[method-assign]
    paints: list[float] = []
    update = Screen._on_timer_update
    Screen._on_timer_update = _timed(paints, update)  # type: ignore[method-assign]
    costs: dict[str, list[float]] = {}
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(LineTable)
        table.load(
            [
                ["● READY", f"demo-{i}", f"ws://127.0.0.1:4444/session/demo-{i}", "", "1.2ms",
                 "0s ago", "0s", "▁▂▃▄▅▆▇█▁▂▃▄"]
                for i in range(size)
            ]
        )  # fmt: skip
        await pilot.pause()

        def visible_rows(tick: int) -> None:
            first = int(table.scroll_offset.y)
            for i in range(first, min(size, first + table.size.height)):
                table.update_cell(i, 5, f"{tick}s ago")

        def one_visible_row(tick: int) -> None:
            table.update_cell(int(table.scroll_offset.y) + 3, 5, f"{tick}s ago")

        def all_rows(tick: int) -> None:
            for i in range(size):
                table.update_cell(i, 5, f"{tick}s ago")

        actions: list[tuple[str, Callable[[int], None]]] = [
            ("update_cell, all rows", all_rows),
            ("update_cell, visible rows", visible_rows),
            ("update_cell, one visible row", one_visible_row),
        ]
        for label, action in actions:
            for tick in range(1, 6):
                painted.clear()
                paints.clear()
                cpu = time.thread_time()
                with app.batch_update():
                    action(tick)
                called = time.thread_time() - cpu
                async with asyncio.timeout(5.0):
                    await painted.wait()
                await pilot.pause()
                costs.setdefault("Line API " + label + ": CPU in the calls", []).append(called)
                costs.setdefault("Line API " + label + ": CPU in screen updates", []).append(
                    sum(paints)
                )
    Screen._on_timer_update = update  # type: ignore[method-assign]
    return {label: report.median(v) for label, v in costs.items()}


async def run_table_costs(sizes: list[int]) -> None:
    """update_cell on all rows vs visible rows vs clear-and-refill, until painted; and the
    same on a Line API table."""
    results = {}
    for size in sizes:
        results[str(size)] = {**await _table_costs(size), **await _line_table_costs(size)}
    print(json.dumps(results), flush=True)


# --- the parent ---------------------------------------------------------------------------


def _worker(args: list[str], timeout: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {args[:2]} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ms(value: float) -> str:
    return f"{value * 1000:.1f}"


def _dist(values: list[float]) -> list[str]:
    return [
        str(len(values)),
        _ms(report.percentile(values, 0.5)),
        _ms(report.percentile(values, 0.99)),
        _ms(max(values, default=float("nan"))),
        _ms(sum(values) / len(values)) if values else "nan",
    ]


def _lever_label(kind: str, levers: list[str]) -> str:
    base = "dashboard" if kind == "dashboard" else "engine alone"
    return base + (" +" + "+".join(levers) if levers else "")


def print_comparison(
    count: int, seconds: float, runs: list[tuple[str, dict[str, Any]]], baseline: str
) -> None:
    """One column per configuration; CPU also as a ratio to the engine-alone baseline."""
    base = dict(runs).get(baseline)

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> list[str]:
        return [label, *(cell(result) for _, result in runs)]

    def keys(result: dict[str, Any], fraction: float) -> str:
        values = result.get("key_latencies")
        return "-" if values is None else _ms(report.percentile(values, fraction))

    def ratio(result: dict[str, Any]) -> str:
        return "-" if base is None else f"{result['cpu_percent'] / base['cpu_percent']:.2f}"

    def per_second(result: dict[str, Any], key: str) -> str:
        values = result.get(key)
        return "-" if values is None else f"{100 * sum(values) / result['wall']:.1f}"

    rows = [
        row("CPU, % of one core, whole run", lambda r: f"{r['cpu_percent']:.1f}"),
        row("  x engine alone (same run)", ratio),
        row(
            f"CPU, % of one core, after {WARMUP_SECONDS:g} s",
            lambda r: f"{r['steady_cpu_percent']:.1f}",
        ),
        row(
            f"  from {WARMUP_SECONDS:g} s to half-time: watching only",
            lambda r: f"{r['watch_cpu_percent']:.1f}",
        ),
        row("  second half: a key press every 0.1-0.3 s", lambda r: f"{r['keys_cpu_percent']:.1f}"),
        row("peak RSS, MB", lambda r: f"{r['peak_rss_kib'] / 1024:.1f}"),
        row("key press to screen p50, ms", lambda r: keys(r, 0.5)),
        row("key press to screen p99, ms", lambda r: keys(r, 0.99)),
        row("checks finished", lambda r: str(r["checks_finished"])),
        row("late, after round 1: p50, s", lambda r: f"{r['lateness']['later_p50']:.3f}"),
        row("late, after round 1: p99, s", lambda r: f"{r['lateness']['later_p99']:.3f}"),
        row("late, after round 1: max, s", lambda r: f"{r['lateness']['later_max']:.3f}"),
        row("checks over 1 s late, after round 1", lambda r: str(r["lateness"]["later_over_1s"])),
        row("late, round 1: max, s", lambda r: f"{r['lateness']['first_max']:.3f}"),
        row("engine.stats.max_lateness, s", lambda r: f"{r['engine_max_lateness']:.3f}"),
        row("CPU % in _apply_engine_updates", lambda r: per_second(r, "applies")),
        row("CPU % in _tick", lambda r: per_second(r, "ticks")),
        row("CPU % in Textual screen updates", lambda r: per_second(r, "screen_updates")),
    ]
    report.say(
        report.table(
            ["", *(label for label, _ in runs)],
            rows,
            title=f"{count} endpoints every {INTERVAL:g} s for {seconds:g} s "
            f"(headless {SIZE[0]}x{SIZE[1]}, output rendered; one worker process each)",
        )
    )


def print_costs(label: str, dash: dict[str, Any]) -> None:
    rows = dash["apply_rows"]
    report.say(
        report.table(
            ["ms (key: wall; others: CPU)", "calls", "p50", "p99", "max", "mean"],
            [
                ["key press to screen (down)", *_dist(dash["key_latencies"])],
                ["_apply_engine_updates (every 0.2 s)", *_dist(dash["applies"])],
                ["  of which _update_summary", *_dist(dash["summaries"])],
                ["_tick (every 1 s, visible rows)", *_dist(dash["ticks"])],
                ["Screen._on_timer_update (compositor)", *_dist(dash["screen_updates"])],
                ["  with a layout (e.g. Static.update)", *_dist(dash["update_kinds"]["layout"])],
                ["  with a scroll", *_dist(dash["update_kinds"]["scroll"])],
                ["  repaint of dirty widgets only", *_dist(dash["update_kinds"]["repaint"])],
                ["rendering an update to escape codes", *_dist(dash["renders"])],
                ["_update_rows(visible rows), ages changed", *_dist(dash["update_rows_visible"])],
                [f"_update_rows(all {dash['rows']})", *_dist(dash["update_rows_all"])],
            ],
            title=f"Latency and cost per call: {label}",
        )
    )  # fmt: skip
    report.say(
        f"rows marked dirty per _apply_engine_updates: median {report.median(rows):.0f}, "
        f"max {max(rows, default=0)}; key presses with no screen update within "
        f"{KEY_DEADLINE:g} s: {dash['key_misses']}"
    )


def print_targets(label: str, dash: dict[str, Any]) -> None:
    keys = dash["key_latencies"]
    p99 = report.percentile(keys, 0.99)
    late = dash["lateness"]
    report.say(
        report.table(
            ["target", "measured", "verdict"],
            [
                [
                    "CPU under 40% of one core (watching, after warm-up)",
                    f"{dash['watch_cpu_percent']:.1f}% (whole run with keys "
                    f"{dash['cpu_percent']:.1f}%)",
                    report.verdict(dash["watch_cpu_percent"] < 40),
                ],
                [
                    "RSS under 150 MB",
                    f"{dash['peak_rss_kib'] / 1024:.1f} MB",
                    report.verdict(dash["peak_rss_kib"] / 1024 < 150),
                ],
                [
                    "key press to screen p99 under 100 ms",
                    f"{p99 * 1000:.1f} ms (p50 {report.percentile(keys, 0.5) * 1000:.1f})",
                    report.verdict(p99 < 0.1 and dash["key_misses"] == 0),
                ],
                [
                    "no check more than 1 s late",
                    f"max {late['later_max']:.3f} s after round 1; "
                    f"round 1 max {late['first_max']:.3f} s",
                    report.verdict(late["later_max"] <= 1.0 and late["first_max"] <= 1.0),
                ],
            ],
            title=f"Targets (issue 5): {label}",
        )
    )


def print_table_costs(costs: dict[str, dict[str, float]]) -> None:
    sizes = list(costs)
    labels = list(costs[sizes[0]])
    rows = [[label, *(_ms(costs[size][label]) for size in sizes)] for label in labels]
    report.say(
        report.table(
            ["ms, median of 5", *(f"{s} rows" for s in sizes)],
            rows,
            title="Bare DataTable, one column changed inside batch_update: the calls, and "
            "until the next screen update is rendered",
        )
    )


def print_profile(path: Path) -> None:
    for sort in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(str(path), stream=buffer).strip_dirs().sort_stats(sort).print_stats(35)
        report.say(buffer.getvalue())


def _levers(text: str) -> list[str]:
    levers = [lever for lever in text.split(",") if lever]
    unknown = set(levers) - set(LEVERS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown lever(s) {', '.join(sorted(unknown))}")
    return levers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=LEVER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--endpoints", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--levers", type=_levers, default=[], help="also run the dashboard with these levers"
    )
    parser.add_argument(
        "--compare", action="store_true", help="run the dashboard with each lever group too"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the engine-alone run")
    parser.add_argument("--no-table-costs", action="store_true")
    parser.add_argument("--profile", type=Path, help="cProfile the first dashboard run here")
    parser.add_argument(
        "--worker", choices=["dashboard", "engine", "table"], help=argparse.SUPPRESS
    )
    parser.add_argument("--specs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        farm.raise_fd_limit()
        chosen = set(args.levers)
        if args.worker == "dashboard":
            asyncio.run(run_dashboard(args.specs, args.seconds, args.profile_out, chosen))
        elif args.worker == "engine":
            asyncio.run(run_engine_only(args.specs, args.seconds, chosen))
        else:
            asyncio.run(run_table_costs(list(TABLE_SIZES)))
        return

    configs: list[tuple[str, list[str]]] = [("dashboard", [])]
    if args.compare:
        configs += [
            ("dashboard", ["summary"]),
            ("dashboard", ["summary", "tick"]),
            ("dashboard", ["reuse"]),
            ("dashboard", ["summary", "tick", "reuse", "spread"]),
        ]
    elif args.levers:
        configs.append(("dashboard", args.levers))
    if not args.no_baseline:
        configs.append(("engine", []))
        if args.compare or "reuse" in args.levers:
            configs.append(("engine", ["reuse"]))
        if args.compare:
            configs.append(("engine", ["noop"]))

    farm.raise_fd_limit()
    report.say(f"bench/dashboard_load.py: {report.machine_line()}")
    budget = args.seconds + 180
    runs: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="bidi-bench-") as tmp:
        workdir = Path(tmp)
        with farm.demo_server(args.endpoints) as server:
            specs = server.write_specs(workdir / "specs.txt")
            report.say(f"demo farm: {args.endpoints} endpoints on one socket, pid {server.pid}")
            for index, (kind, levers) in enumerate(configs):
                label = _lever_label(kind, levers)
                report.note(f"  {label} for {args.seconds:g} s")
                command = ["--worker", kind, "--specs", str(specs)]
                command += ["--seconds", str(args.seconds), "--levers", ",".join(levers)]
                if args.profile and index == 0:
                    command += ["--profile-out", str(args.profile.resolve())]
                load = report.load_now()
                before = server.cpu_seconds()
                result = _worker(command, budget)
                result["server_cpu_percent"] = (
                    100 * (server.cpu_seconds() - before) / result["wall"]
                )
                result["load"] = load
                runs.append((label, result))
    report.say(
        "load average at each start: "
        + ", ".join(f"{label} {result['load']:.2f}" for label, result in runs)
    )
    report.say(
        "demo server CPU, % of a core: "
        + ", ".join(f"{label} {result['server_cpu_percent']:.0f}" for label, result in runs)
    )
    report.say()
    print_comparison(args.endpoints, args.seconds, runs, _lever_label("engine", []))
    for label, result in runs:
        if label.startswith("dashboard"):
            report.say()
            print_costs(label, result)
    for label, result in runs:
        if label.startswith("dashboard"):
            report.say()
            print_targets(label, result)
    if not args.no_table_costs:
        report.note("  DataTable costs")
        report.say()
        print_table_costs(_worker(["--worker", "table"], 900))
    if args.profile:
        report.say()
        report.say(
            f"cProfile of the first dashboard run (profiler overhead included): {args.profile}"
        )
        print_profile(args.profile)
    report.say()
    report.say(f"done; {report.machine_line()}")


if __name__ == "__main__":
    main()
