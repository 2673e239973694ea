"""Dashboard CPU: ``bidi-tui`` watching 2,000 endpoints every 5 s against the engine alone,
and the CPU of one full table repaint.

    python bench/dashboard_load.py                       # ~4 min
    python bench/dashboard_load.py --reuse-connections   # also both with that option
    python bench/dashboard_load.py --seconds 20 --runs 1

Watching: the demo farm (``python -m bidi_tui.demo --healthy N``) in its own process;
``bidi-tui --config FILE`` (the installed command, this checkout's code) in a 120x40 tmux
window (``bench/tmux.py``), and as the baseline the engine alone (``bidi_tui.engine.Engine``
on the same file's endpoints and settings, no Textual) in a worker process of this script.
Each is measured from ``WARMUP`` s after its start (the first round is over) for
``--seconds``: its CPU time (``/proc``) over wall time, 100% = one core, and its peak RSS.
The runs alternate dashboard and engine, ``--runs`` times, so a change of the machine's
load falls on both.

Repaint (a worker process): ``BidiTuiApp`` with 2,000 endpoints and a history of results
each (recorded through ``Engine.record_result``; no checks run, so nothing else is on the
loop) under ``App.run_test(size=(120, 40))``. One sample is this thread's CPU time from the
call that changes the screen until the compositor's update has been rendered to the escape
codes a terminal would get (headless Textual skips that step; the worker does it in
``App._display``, as the real driver does):

- full table repaint: the app's clock moves 1 s, so every visible row's age changes, and
  ``EndpointTable.refresh_visible()`` (the once-a-second tick) redraws every row on screen;
- the same repaint with nothing changed (``refresh()``: every line from the line cache);
- a key (``G``, ``g``, ``down``, ``up``) posted as Textual's input thread posts it, until the
  cursor's move is rendered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
import tmux

ENDPOINTS = 2_000
WARMUP = 10.0  # seconds: 2,000 first checks are spread over 4 s
SIZE = (tmux.WIDTH, tmux.HEIGHT)
SAMPLES = 40
HISTORY = 12


# --- the engine alone, in a worker ---------------------------------------------------------


def engine_worker(config_path: Path, reuse: bool, seconds: float) -> None:
    """The engine on the config's endpoints and settings, as the dashboard runs it."""
    from bidi_tui.config import load_config
    from bidi_tui.engine import Engine
    from bidi_tui.settings import Settings

    config = load_config(config_path)
    settings = Settings(
        default_interval=config.defaults.interval,
        default_timeout=config.defaults.timeout,
        reuse_connections=reuse,
    )

    async def run() -> None:
        engine = Engine(config.endpoints, settings=settings)
        engine.start()
        await asyncio.sleep(seconds)
        await engine.stop(grace=0.1)

    asyncio.run(run())


def watch_cpu(pid: int, seconds: float) -> dict[str, float]:
    """CPU % of one core of process ``pid`` from WARMUP s on, for ``seconds``; peak RSS."""
    time.sleep(WARMUP)
    cpu, wall = report.cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    spent = report.cpu_seconds(pid) - cpu
    return {
        "cpu": 100 * spent / (time.perf_counter() - wall),
        "rss": report.rss_kib(pid, peak=True) / 1024,
    }


def measure_dashboard(terminal: tmux.Tmux, config: Path, reuse: bool, seconds: float) -> Any:
    command = [*farm.bidi_tui_command(), "--config", str(config)]
    with tmux.running(
        terminal, command + ["--reuse-connections"] * reuse, farm.terminal_env()
    ) as pane:
        painted, screen = pane.wait_for(lambda s: "demo-1 " in s, 60)
        if painted is None:
            raise RuntimeError(f"the dashboard never drew:\n{screen}")
        return watch_cpu(pane.pid, seconds)


def measure_engine(config: Path, reuse: bool, seconds: float) -> Any:
    command = [sys.executable, str(Path(__file__).resolve()), "--engine-worker", str(config)]
    command += ["--seconds", str(WARMUP + seconds + 5)] + ["--reuse-connections"] * reuse
    worker = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        return watch_cpu(worker.pid, seconds)
    finally:
        farm.stop(worker)


# --- the repaint, in a worker --------------------------------------------------------------


async def repaint_worker() -> dict[str, list[float]]:
    from textual import events

    from bidi_tui.config import Config
    from bidi_tui.endpoints import parse_spec
    from bidi_tui.model import ProbeResult, State
    from bidi_tui.settings import Settings
    from bidi_tui.ui.app import BidiTuiApp

    endpoints = [
        endpoint
        for index in range(1, ENDPOINTS + 1)
        for endpoint in parse_spec(f"demo-{index}=ws://127.0.0.1:9/session/demo-{index}")
    ]
    started = datetime.now(UTC)
    shift = timedelta()
    app = BidiTuiApp(
        Config(path=Path(tempfile.gettempdir()) / "bidi-bench-never-saved.toml"),
        endpoints,
        settings=Settings(default_interval=5.0),
        start_engine=False,
        now=lambda: started + shift,
    )
    for endpoint in endpoints:
        for age in range(HISTORY, 0, -1):
            app.engine.record_result(
                endpoint.name,
                ProbeResult(
                    endpoint,
                    State.READY,
                    started - timedelta(seconds=5 * age),
                    2.0,
                    ready=True,
                    message="",
                    latency_ms=1.0 + age % 7,
                ),
            )
    rendered = asyncio.Event()
    display = app._display

    def display_rendered(screen: Any, update: Any) -> None:
        display(screen, update)
        if update is not None and not app._batch_count and hasattr(update, "render_segments"):
            update.render_segments(app.console)  # what the real driver writes to the terminal
            rendered.set()

    app._display = display_rendered
    costs: dict[str, list[float]] = {}

    async def sample(label: str, change: Callable[[], None], done: Callable[[], bool]) -> None:
        await asyncio.sleep(0.05)  # the app's timers run between samples, not inside
        rendered.clear()
        cpu = time.thread_time()
        change()
        while True:
            await rendered.wait()
            rendered.clear()
            if done():
                break
        costs.setdefault(label, []).append(time.thread_time() - cpu)

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        table = app.table
        driver = app._driver
        assert driver is not None

        def age_tick() -> None:
            nonlocal shift
            shift += timedelta(seconds=1)
            table.refresh_visible()

        def press(key: str) -> Callable[[], None]:
            def post() -> None:
                event = events.Key(key, key if len(key) == 1 else None)
                event.set_sender(app)
                driver.send_message(event)

            return post

        for _ in range(SAMPLES):
            await sample("full table repaint (every visible row changed)", age_tick, lambda: True)
            await sample("table repaint, nothing changed (line cache)", table.refresh, lambda: True)
            for key, row in (("G", ENDPOINTS - 1), ("g", 0), ("down", 1), ("up", 0)):
                await sample(f"key {key}", press(key), lambda row=row: table.cursor_row == row)
    return costs


# --- the parent ------------------------------------------------------------------------------


def print_cpu(runs: dict[str, list[dict[str, float]]], reuse: bool) -> list[tuple[str, str, bool]]:
    rows = []
    results = []
    for suffix in ["", ", --reuse-connections"] if reuse else [""]:
        dash, alone = runs["dashboard" + suffix], runs["engine alone" + suffix]
        ratio = report.median([r["cpu"] for r in dash]) / report.median([r["cpu"] for r in alone])
        for label, values in (("dashboard" + suffix, dash), ("engine alone" + suffix, alone)):
            cpus = [r["cpu"] for r in values]
            rows.append(
                [
                    label,
                    f"{report.median(cpus):.1f}",
                    " ".join(f"{c:.1f}" for c in cpus),
                    f"{report.median([r['rss'] for r in values]):.0f}",
                ]
            )
        rows.append([f"  ratio{suffix}", f"{ratio:.2f}x", "", ""])
        if not suffix:
            results.append(
                (
                    f"dashboard CPU at {ENDPOINTS} every 5 s <= 1.15x the engine alone",
                    f"{report.median([r['cpu'] for r in dash]):.1f}% / "
                    f"{report.median([r['cpu'] for r in alone]):.1f}% = {ratio:.2f}x",
                    ratio <= 1.15,
                )
            )
    report.say(
        report.table(
            ["% of one core", "median", "runs", "peak RSS MB"],
            rows,
            title=f"{ENDPOINTS} endpoints every 5 s, CPU from {WARMUP:g} s after start",
        )
    )
    return results


def print_repaint(costs: dict[str, list[float]]) -> list[tuple[str, str, bool]]:
    report.say(
        report.table(
            ["CPU ms, headless 120x40, rendered", "n", "median", "p90", "max"],
            [
                [
                    label,
                    str(len(values)),
                    report.ms(report.median(values)),
                    report.ms(report.percentile(values, 0.9)),
                    report.ms(max(values)),
                ]
                for label, values in costs.items()
            ],
            title=f"Repaint costs: {ENDPOINTS} endpoints with {HISTORY} results each",
        )
    )
    full = costs["full table repaint (every visible row changed)"]
    return [
        (
            "one full table repaint at 120x40 <= 15 ms CPU",
            f"median {report.ms(report.median(full))} ms, p90 "
            f"{report.ms(report.percentile(full, 0.9))}",
            report.median(full) <= 0.015,
        )
    ]


def watching(count: int, seconds: float, reuse_too: bool) -> list[tuple[str, str, bool]]:
    """The dashboard and the engine alone, alternately, ``count`` times each."""
    runs: dict[str, list[dict[str, float]]] = {}
    loads = []
    with (
        tempfile.TemporaryDirectory(prefix="bidi-bench-") as tmp,
        farm.demo_server(ENDPOINTS) as server,
        tmux.Tmux() as terminal,
    ):
        config = farm.write_config(Path(tmp) / "endpoints.toml", server.urls())
        for run in range(count):
            for reuse in [False, True] if reuse_too else [False]:
                suffix = ", --reuse-connections" if reuse else ""
                order = ["dashboard", "engine alone"]
                for label in order if run % 2 == 0 else order[::-1]:
                    report.note(f"  run {run + 1}: {label}{suffix}")
                    loads.append(report.load_now())
                    if label == "dashboard":
                        result = measure_dashboard(terminal, config, reuse, seconds)
                    else:
                        result = measure_engine(config, reuse, seconds)
                    runs.setdefault(label + suffix, []).append(result)
    report.say(f"load average at the starts: {min(loads):.2f}-{max(loads):.2f}")
    return print_cpu(runs, reuse_too)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured, per run")
    parser.add_argument("--runs", type=int, default=2, help="0: the repaint costs only")
    parser.add_argument("--reuse-connections", action="store_true")
    parser.add_argument("--no-repaint", action="store_true")
    parser.add_argument("--engine-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repaint-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    farm.raise_fd_limit()
    if args.engine_worker:
        engine_worker(args.engine_worker, args.reuse_connections, args.seconds)
        return
    if args.repaint_worker:
        print(json.dumps(asyncio.run(repaint_worker())), flush=True)
        return

    report.say(f"bench/dashboard_load.py: {report.machine_line()}")
    results = []
    if not args.no_repaint:
        report.note("  repaint costs")
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--repaint-worker"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"the repaint worker failed:\n{done.stderr[-3000:]}")
        report.say(f"load average {report.load_now():.2f}")
        results += print_repaint(json.loads(done.stdout.splitlines()[-1]))
        report.say()
    if args.runs:
        results = watching(args.runs, args.seconds, args.reuse_connections) + results
    report.say()
    report.say(report.targets(results, "Targets (issue 9): dashboard CPU"))
    report.say()
    report.say(f"done; {report.machine_line()}")


if __name__ == "__main__":
    main()
