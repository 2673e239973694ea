"""Start-up: the one-shot command, and the dashboard's first paint in a real terminal.

    python bench/startup.py            # ~4 min
    python bench/startup.py -n 3       # fewer runs

One-shot (``-n`` runs after a warm-up, wall time from spawn to exit, median):
``python -c pass`` (the interpreter alone), ``bidi-tui check --help``,
``bench/raw_client.py URL`` (a check with nothing but asyncio: the floor) and ``bidi-tui
check URL`` of one demo endpoint; and whether ``bidi-tui check`` imports Textual
(``python -X importtime``).

First paint: ``bidi-tui --config FILE`` with 10, 10,000 and 50,000 endpoints in the file
(all on one loopback port that refuses connections: a first paint waits for no check), in
a 120x40 tmux window (``bench/tmux.py``), from the ``new-window`` command until the screen
shows the first row; the process's resident memory (``VmRSS``) then and 5 s later, when every
endpoint's check loop runs (the per-endpoint target is judged on the later one). The sizes
run in turn, ``-n`` times each after a warm-up, so a change of the machine's load falls on
all of them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import farm
import report
import tmux

PROCESS_TIMEOUT = 120.0
SIZES = (10, 10_000, 50_000)
SETTLE = 5.0  # seconds after the first paint: the engine has started every endpoint
FIRST_ROW = re.compile(r"demo-1 ")


def time_command(command: Sequence[str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` runs of ``command`` after one warm-up run."""
    times = []
    for index in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
            timeout=PROCESS_TIMEOUT,
            check=False,
        )
        if index:  # the first run warms the page cache and .pyc files
            times.append(time.perf_counter() - started)
    return times


def imports_textual(command: Sequence[str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    return re.search(r"\|\s+textual(\.|$)", done.stderr, re.MULTILINE) is not None


def one_shot(runs: int) -> list[tuple[str, str, bool]]:
    cli = farm.bidi_tui_command()
    rows: list[list[str]] = []

    def measure(label: str, command: Sequence[str], floor: float | None = None) -> float:
        report.note(f"  {label}")
        times = time_command(command, runs)
        middle = report.median(times)
        ratio = "-" if floor is None else f"{middle / floor:.2f}"
        rows.append([label, report.ms(middle), report.ms(min(times)), report.ms(max(times)), ratio])
        return middle

    interpreter = measure("python -c pass (floor)", [sys.executable, "-c", "pass"])
    help_time = measure("bidi-tui check --help", [*cli, "check", "--help"], interpreter)
    with farm.demo_server(1) as server:
        url = server.urls()[0]
        raw_client = str(Path(__file__).with_name("raw_client.py"))
        raw = measure("raw_client.py URL (floor of a check)", [sys.executable, raw_client, url])
        check = measure("bidi-tui check URL", [*cli, "check", url], raw)
        entry = [cli[0]] if len(cli) == 1 else ["-m", "bidi_tui"]
        textual = imports_textual([*entry, "check", url])
    report.say(
        report.table(
            ["command", "median ms", "min", "max", "x floor"],
            rows,
            title=f"One-shot command, spawn to exit ({runs} runs after a warm-up)",
        )
    )
    return [
        ("bidi-tui check of one endpoint under 0.3 s", f"{report.ms(check)} ms", check < 0.3),
        ("the one-shot path imports no Textual", "YES" if textual else "no", not textual),
        ("(bidi-tui check --help, no target)", f"{report.ms(help_time)} ms", True),
    ]


def first_paint(terminal: tmux.Tmux, config: Path) -> tuple[float, int, int]:
    """(seconds from launch to the first row on screen, VmRSS KiB then, SETTLE s later)."""
    started = time.perf_counter()
    pane = terminal.launch([*farm.bidi_tui_command(), "--config", str(config)], farm.terminal_env())
    try:
        seen, screen = pane.wait_for(lambda s: FIRST_ROW.search(s) is not None, PROCESS_TIMEOUT)
        rss = report.rss_kib(pane.pid)
        if seen is None:
            raise RuntimeError(f"no first row after {PROCESS_TIMEOUT:g} s; the pane:\n{screen}")
        time.sleep(SETTLE)
        return seen - started, rss, report.rss_kib(pane.pid)
    finally:
        pane.close()


def first_paints(runs: int, sizes: Sequence[int]) -> list[tuple[str, str, bool]]:
    paints: dict[int, list[float]] = {size: [] for size in sizes}
    at_paint: dict[int, list[int]] = {size: [] for size in sizes}
    settled: dict[int, list[int]] = {size: [] for size in sizes}
    loads = []
    with (
        tempfile.TemporaryDirectory(prefix="bidi-bench-") as tmp,
        farm.refused_port() as port,
        tmux.Tmux() as terminal,
    ):
        configs = {
            size: farm.write_config(
                Path(tmp) / f"{size}.toml",
                [f"ws://127.0.0.1:{port}/session/demo-{i}" for i in range(1, size + 1)],
            )
            for size in sizes
        }
        first_paint(terminal, configs[sizes[0]])  # warm-up: page cache, .pyc files
        for run in range(runs):
            turn = run % len(sizes)
            for size in [*sizes[turn:], *sizes[:turn]]:
                report.note(f"  first paint, {size} endpoints, run {run + 1}")
                loads.append(report.load_now())
                seconds, painted_kib, settled_kib = first_paint(terminal, configs[size])
                paints[size].append(seconds)
                at_paint[size].append(painted_kib)
                settled[size].append(settled_kib)
    small, biggest = sizes[0], max(sizes)
    base = report.median(paints[small])

    def per_endpoint(rss: dict[int, list[int]], size: int) -> float:
        """KiB of RSS per endpoint beyond the smallest config's."""
        return (report.median(rss[size]) - report.median(rss[small])) / (size - small)

    rows = []
    for size in sizes:
        middle = report.median(paints[size])
        rows.append(
            [
                f"{size:,}",
                report.ms(middle),
                report.ms(min(paints[size])),
                report.ms(max(paints[size])),
                f"{middle / base:.2f}",
                f"{report.median(at_paint[size]) / 1024:.1f}",
                f"{report.median(settled[size]) / 1024:.1f}",
                "-" if size == small else f"{per_endpoint(settled, size):.2f}",
            ]
        )
    report.say(
        report.table(
            [
                "endpoints",
                "median ms",
                "min",
                "max",
                f"x {small}",
                "RSS MB at paint",
                f"{SETTLE:g} s later",
                "KiB/endpoint",
            ],
            rows,
            title=f"First paint in tmux 120x40: launch to first row on screen ({runs} runs "
            f"each after a warm-up; load average {min(loads):.2f}-{max(loads):.2f}); "
            f"KiB/endpoint: RSS {SETTLE:g} s later beyond the {small}-endpoint one",
        )
    )
    results: list[tuple[str, str, bool]] = []
    for size, limit in ((10_000, 2.0), (50_000, 3.0)):
        if size in paints:
            ratio = report.median(paints[size]) / base
            results.append(
                (
                    f"first paint with {size:,} endpoints <= {limit:g}x with {small}",
                    f"{report.ms(report.median(paints[size]))} / {report.ms(base)} ms "
                    f"= {ratio:.2f}x",
                    ratio <= limit,
                )
            )
    kib = per_endpoint(settled, biggest)
    results.append(
        (
            f"RSS per endpoint at {biggest:,} < 6 KB",
            f"{kib:.2f} KiB = {kib * 1.024:.2f} KB ({kib * 1.024 / 6:.2f}x the limit; "
            f"at paint {per_endpoint(at_paint, biggest):.2f} KiB)",
            kib * 1.024 < 6.0,
        )
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="first paint sizes")
    parser.add_argument("--no-one-shot", action="store_true")
    args = parser.parse_args()
    farm.raise_fd_limit()
    report.say(f"bench/startup.py: {report.machine_line()}")
    results = []
    if not args.no_one_shot:
        results += one_shot(args.runs)
        report.say()
    results += first_paints(args.runs, [int(size) for size in args.sizes.split(",")])
    report.say()
    report.say(report.targets(results, "Targets (issues 5 and 9)"))
    report.say()
    report.say(f"done; {report.machine_line()}")


if __name__ == "__main__":
    main()
