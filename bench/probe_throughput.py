"""Benchmark 1, probe throughput: what one ``session.status`` check costs the client.

    python bench/probe_throughput.py                  # the table and the scaling curve
    python bench/probe_throughput.py --no-scaling     # the table only (about a minute)
    python bench/probe_throughput.py --profile bidi_tui   # cProfile of one variant

A demo farm (``python -m bidi_tui.demo --healthy N``) serves N ready endpoints on one
loopback socket in its own process. Each variant below checks all of them in a fresh
worker process (this script with ``--worker``), which reports the CPU time and wall time
of the checking alone (imports and spec parsing excluded) and its peak RSS. Variants run
interleaved, ``--repeat`` times each; the table shows medians, and every ratio is against
the raw-socket floor measured in the same run, never an absolute threshold.

The floor is ``bench/raw_client.py``: connect, upgrade with a fixed key, one masked text
frame, one answer frame, close handshake. The connection-reuse rows measure the product's
reuse mode (``probe(..., held=HeldConnection())``, what ``--reuse-connections`` runs): one
``/session`` connection per endpoint held open and ``session.status`` sent on it each round.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import farm
import raw_client
import report

from bidi_tui.checks import check_all
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.model import State
from bidi_tui.probe import CLOSE_GRACE, MAX_MESSAGE_SIZE, USER_AGENT, HeldConnection, probe
from bidi_tui.settings import Settings

CONCURRENCY = 256  # checks in flight, the same for every variant here
TIMEOUT = 5.0
REUSE_ROUNDS = 5
WORKER_TIMEOUT = 600.0
SCALING_SIZES = (10, 100, 1_000, 10_000)
SCALING_MIN_CHECKS = 1_000  # small farms are checked in rounds until this many checks

Work = Callable[[list[str], list[Endpoint], int], Awaitable[dict[str, Any]]]


# --- the variants, run inside a worker process ----------------------------------------------


async def _gathered(count: int, make: Callable[[int], Awaitable[bool]]) -> int:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int) -> bool:
        async with gate:
            return await make(index)

    return sum(await asyncio.gather(*(one(i) for i in range(count))))


async def run_raw(urls: list[str], endpoints: list[Endpoint], rounds: int) -> dict[str, Any]:
    ready = 0
    for _ in range(rounds):
        ready += await raw_client.check_many(urls, CONCURRENCY, TIMEOUT)
    return {"checks": len(urls) * rounds, "ready": ready}


async def run_check_all(urls: list[str], endpoints: list[Endpoint], rounds: int) -> dict[str, Any]:
    ready = 0
    for _ in range(rounds):
        results = await check_all(
            endpoints, settings=Settings(cli_timeout=TIMEOUT), concurrency=CONCURRENCY
        )
        ready += sum(r.state is State.READY for r in results)
    return {"checks": len(endpoints) * rounds, "ready": ready}


async def _ws_check(url: str, options: dict[str, Any]) -> bool:
    from websockets.asyncio.client import connect

    async with connect(url, **options) as websocket:
        await websocket.send(json.dumps({"id": 1, "method": "session.status", "params": {}}))
        answer = json.loads(await websocket.recv())
        return answer["result"]["ready"] is True


# What bidi_tui.probe.probe passes to websockets' connect(), without its result-building.
WS_LIKE_PROBE: dict[str, Any] = {
    "origin": None,
    "compression": None,
    "user_agent_header": USER_AGENT,
    "proxy": None,
    "open_timeout": None,
    "ping_interval": None,
    "close_timeout": CLOSE_GRACE,
    "max_size": MAX_MESSAGE_SIZE,
    "max_queue": 4,
}


def _ws_concurrent(options: dict[str, Any]) -> Work:
    async def run(urls: list[str], endpoints: list[Endpoint], rounds: int) -> dict[str, Any]:
        ready = 0
        for _ in range(rounds):
            ready += await _gathered(len(urls), lambda i: _ws_check(urls[i], options))
        return {"checks": len(urls) * rounds, "ready": ready}

    return run


def _measured(started_cpu: float, started_wall: float) -> dict[str, float]:
    return {
        "cpu": time.process_time() - started_cpu,
        "wall": time.perf_counter() - started_wall,
    }


async def run_reuse_ws(urls: list[str], endpoints: list[Endpoint], rounds: int) -> dict[str, Any]:
    """The product's reuse mode: a first check opens each endpoint's held connection, then
    the rounds ask session.status on them."""
    held = [(HeldConnection(), endpoint) for endpoint in endpoints]
    cpu, wall = time.process_time(), time.perf_counter()

    async def open_one(index: int) -> bool:
        connection, endpoint = held[index]
        result = await probe(endpoint, timeout=TIMEOUT, held=connection)
        return result.state is State.READY

    await _gathered(len(urls), open_one)
    opened = _measured(cpu, wall)
    held_rss = report.rss_kib()
    cpu, wall = time.process_time(), time.perf_counter()
    ready = 0
    for _ in range(REUSE_ROUNDS * rounds):
        results = await asyncio.gather(*(probe(e, timeout=TIMEOUT, held=c) for c, e in held))
        ready += sum(r.state is State.READY for r in results)
    checked = _measured(cpu, wall)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(c.close() for c, _ in held))
    closed = _measured(cpu, wall)
    return {
        "checks": len(held) * REUSE_ROUNDS * rounds,
        "ready": ready,
        "phases": {"open": opened, "checks": checked, "close": closed},
        "held_rss_kib": held_rss,
    }


async def run_reuse_raw(urls: list[str], endpoints: list[Endpoint], rounds: int) -> dict[str, Any]:
    """The floor of the reuse mode: raw connections held open, one frame out and in."""
    connections: list[raw_client.RawConnection] = []
    cpu, wall = time.process_time(), time.perf_counter()

    async def open_one(index: int) -> bool:
        connections.append(await raw_client.RawConnection.open(urls[index]))
        return True

    await _gathered(len(urls), open_one)
    opened = _measured(cpu, wall)
    held_rss = report.rss_kib()
    cpu, wall = time.process_time(), time.perf_counter()
    ready = 0
    for _ in range(REUSE_ROUNDS * rounds):
        answers = await asyncio.gather(*(c.status() for c in connections))
        ready += sum(r for r, _ in answers)
    checked = _measured(cpu, wall)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(c.close() for c in connections))
    closed = _measured(cpu, wall)
    return {
        "checks": len(connections) * REUSE_ROUNDS * rounds,
        "ready": ready,
        "phases": {"open": opened, "checks": checked, "close": closed},
        "held_rss_kib": held_rss,
    }


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    in_flight: str
    work: Work | None  # None: the CLI, run as a subprocess by the parent
    floor: str  # the key of the floor it is compared with


ws_probe_opts = _ws_concurrent(WS_LIKE_PROBE)
VARIANTS = [
    Variant("raw", "raw-socket client (floor)", "256", run_raw, "raw"),
    Variant("bidi_tui", "bidi_tui check_all()", "256", run_check_all, "raw"),
    Variant("cli", "bidi-tui check (CLI process)", "256", None, "raw"),
    Variant("ws_probe_opts", "websockets, probe's options", "256", ws_probe_opts, "raw"),
    Variant("reuse_raw", "reuse: raw, held connections", "all", run_reuse_raw, "reuse_raw"),
    Variant("reuse_ws", "reuse: websockets + probe result", "all", run_reuse_ws, "reuse_raw"),
]
BY_KEY = {v.key: v for v in VARIANTS}


async def _abort_instead_of_close(connection: Any, budget: float) -> None:
    connection.transport.abort()


async def _close_frame_no_wait(connection: Any, budget: float) -> None:
    """Send our close frame and end TCP after it, without waiting for the server's reply."""
    try:
        connection.protocol.send_close(1000)
        connection.send_data()
    except Exception:
        pass
    connection.transport.close()


async def run_check_all_close_no_wait(
    urls: list[str], endpoints: list[Endpoint], rounds: int
) -> dict[str, Any]:
    """check_all() sending the close frame but not waiting for the close handshake."""
    import bidi_tui.probe.transport

    polite = bidi_tui.probe.transport._close_quietly
    bidi_tui.probe.transport._close_quietly = _close_frame_no_wait
    try:
        return await run_check_all(urls, endpoints, rounds)
    finally:
        bidi_tui.probe.transport._close_quietly = polite


async def run_check_all_abort(
    urls: list[str], endpoints: list[Endpoint], rounds: int
) -> dict[str, Any]:
    """check_all() with the polite close handshake replaced by a TCP abort (what it costs)."""
    import bidi_tui.probe.transport

    polite = bidi_tui.probe.transport._close_quietly
    bidi_tui.probe.transport._close_quietly = _abort_instead_of_close
    try:
        return await run_check_all(urls, endpoints, rounds)
    finally:
        bidi_tui.probe.transport._close_quietly = polite


INTERLEAVED: list[tuple[str, Work]] = [
    ("raw-socket client (floor)", run_raw),
    ("websockets, probe's options", ws_probe_opts),
    ("bidi_tui check_all()", run_check_all),
    ("bidi_tui check_all(), close frame, no wait", run_check_all_close_no_wait),
    ("bidi_tui check_all(), close = abort", run_check_all_abort),
]
INTERLEAVED_BATCH = 250
INTERLEAVED_ROUNDS = 20


def interleaved_worker(specs_path: Path) -> None:
    """All INTERLEAVED variants in one process, alternating batches, so a change in the
    machine's load hits them all alike; prints per-batch CPU per check (ms) as JSON."""
    farm.raise_fd_limit()
    specs = specs_path.read_text().split()[:INTERLEAVED_BATCH]
    endpoints = [e for spec in specs for e in parse_spec(spec)]
    urls = [e.url for e in endpoints]
    costs: dict[str, list[float]] = {label: [] for label, _ in INTERLEAVED}

    async def run() -> None:
        for round_index in range(INTERLEAVED_ROUNDS):
            turn = round_index % len(INTERLEAVED)
            for label, work in INTERLEAVED[turn:] + INTERLEAVED[:turn]:
                cpu = time.process_time()
                outcome = await work(urls, endpoints, 1)
                spent = time.process_time() - cpu
                assert outcome["ready"] == len(urls), f"{label}: not all ready"
                costs[label].append(spent / len(urls) * 1000)

    asyncio.run(run())
    print(json.dumps(costs), flush=True)


def interleaved(server: farm.DemoServer, workdir: Path) -> None:
    specs_path = server.write_specs(workdir / "specs-interleaved.txt", INTERLEAVED_BATCH)
    command = [sys.executable, str(Path(__file__).resolve()), "--interleaved-worker"]
    load = report.load_now()
    done = subprocess.run(
        [*command, str(specs_path)],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"interleaved worker failed:\n{done.stderr[-3000:]}")
    costs: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    floor = report.median(costs[INTERLEAVED[0][0]])
    rows = [
        [
            label,
            f"{report.median(values):.3f}",
            f"{report.percentile(values, 0.25):.3f}-{report.percentile(values, 0.75):.3f}",
            f"{report.median(values) / floor:.2f}",
        ]
        for label, values in costs.items()
    ]
    report.say()
    report.say(
        report.table(
            ["variant (256 in flight)", "CPU ms/check", "(quartiles)", "x floor"],
            rows,
            title=f"Interleaved in one process: {INTERLEAVED_ROUNDS} alternating batches of "
            f"{INTERLEAVED_BATCH} checks each (load {load:.2f} at start)",
        )
    )


def worker(key: str, specs_path: Path, rounds: int, profile_path: Path | None) -> None:
    """Run one variant and print one JSON line with its measurements."""
    farm.raise_fd_limit()
    specs = specs_path.read_text().split()
    endpoints = [e for spec in specs for e in parse_spec(spec)]
    urls = [e.url for e in endpoints]
    work = BY_KEY[key].work
    assert work is not None
    rss_before = report.rss_kib()
    profiler = cProfile.Profile() if profile_path is not None else None

    async def measured() -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        outcome = await work(urls, endpoints, rounds)
        if profiler is not None:
            profiler.disable()
        outcome.update(_measured(cpu, wall))
        after = resource.getrusage(resource.RUSAGE_SELF)
        total = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
        outcome["kernel_share"] = (after.ru_stime - usage.ru_stime) / total if total else 0.0
        return outcome

    outcome = asyncio.run(measured())
    if profiler is not None and profile_path is not None:
        profiler.dump_stats(str(profile_path))
    outcome.update(rss_before_kib=rss_before, peak_rss_kib=report.rss_kib(peak=True))
    print(json.dumps(outcome), flush=True)


# --- the parent: start the farm, run the workers, print the tables --------------------------


@dataclass
class Run:
    checks: int
    ready: int
    wall: float
    cpu: float
    peak_rss_kib: int
    rss_before_kib: int
    server_cpu: float
    load: float
    held_rss_kib: int = 0
    kernel_share: float = float("nan")
    open_cpu: float = 0.0
    open_wall: float = 0.0
    check_wall_inside: float = 0.0  # the CLI's own "in X s"

    @property
    def cpu_per_check_ms(self) -> float:
        return self.cpu / self.checks * 1000

    @property
    def server_per_check_ms(self) -> float:
        return self.server_cpu / self.checks * 1000


def run_cli(server: farm.DemoServer, specs: list[str]) -> Run:
    """``bidi-tui check SPEC...`` as a user runs it; CPU and peak RSS from ``wait4``."""
    load = report.load_now()
    server_before = server.cpu_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*farm.bidi_tui_command(), "check", "--timeout", str(TIMEOUT), *specs],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    ready_match = re.search(r"(\d+) ready", summary)
    inside = re.search(r"in ([0-9.]+) s", summary)
    return Run(
        checks=len(specs),
        ready=int(ready_match.group(1)) if ready_match else 0,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_kib=usage.ru_maxrss,
        rss_before_kib=0,
        server_cpu=server.cpu_seconds() - server_before,
        load=load,
        check_wall_inside=float(inside.group(1)) if inside else float("nan"),
    )


def run_worker(
    server: farm.DemoServer,
    key: str,
    specs_path: Path,
    rounds: int = 1,
    profile_path: Path | None = None,
) -> Run:
    load = report.load_now()
    server_before = server.cpu_seconds()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        key,
        "--specs",
        str(specs_path),
        "--rounds",
        str(rounds),
    ]
    if profile_path is not None:
        command += ["--profile-out", str(profile_path)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=WORKER_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {key} failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    run = Run(
        checks=data["checks"],
        ready=data["ready"],
        wall=data["wall"],
        cpu=data["cpu"],
        peak_rss_kib=data["peak_rss_kib"],
        rss_before_kib=data["rss_before_kib"],
        server_cpu=server.cpu_seconds() - server_before,
        load=load,
        held_rss_kib=data.get("held_rss_kib", 0),
        kernel_share=data.get("kernel_share", float("nan")),
    )
    phases = data.get("phases")
    if phases:  # reuse: the per-check numbers are the rounds on held connections
        run.open_cpu, run.open_wall = phases["open"]["cpu"], phases["open"]["wall"]
        run.cpu, run.wall = phases["checks"]["cpu"], phases["checks"]["wall"]
    return run


def _fmt_ms(value: float) -> str:
    return f"{value:.3f}"


def _fmt_range(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def main_table(
    server: farm.DemoServer, count: int, repeat: int, workdir: Path, variants: list[Variant]
) -> None:
    specs_path = server.write_specs(workdir / f"specs-{count}.txt", count)
    specs = server.specs[:count]
    runs: dict[str, list[Run]] = {v.key: [] for v in variants}
    for repetition in range(repeat):
        # Rotate the order so a burst of load from elsewhere does not always hit one variant.
        turn = repetition % len(variants)
        order = variants[turn:] + variants[:turn]
        for variant in order:
            report.note(f"  run {repetition + 1}/{repeat}: {variant.key}")
            if variant.work is None:
                runs[variant.key].append(run_cli(server, specs))
            else:
                runs[variant.key].append(run_worker(server, variant.key, specs_path))

    floor_cpu = {
        key: report.median([r.cpu_per_check_ms for r in runs[key]]) for key in ("raw", "reuse_raw")
    }
    headers = [
        "variant",
        "in flight",
        "wall s",
        "client CPU ms/check",
        "(min-max)",
        "x floor",
        "x raw 256",
        "kernel %",
        "peak RSS MB",
        "server CPU ms/check",
        "ready",
    ]
    rows = []
    for variant in variants:
        variant_runs = runs[variant.key]
        per_check = [r.cpu_per_check_ms for r in variant_runs]
        cpu = report.median(per_check)
        ready = min(r.ready for r in variant_runs)
        checks = variant_runs[0].checks
        rows.append(
            [
                variant.label,
                variant.in_flight,
                f"{report.median([r.wall for r in variant_runs]):.3f}",
                _fmt_ms(cpu),
                _fmt_range(per_check),
                f"{cpu / floor_cpu[variant.floor]:.2f}",
                f"{cpu / floor_cpu['raw']:.2f}",
                f"{100 * report.median([r.kernel_share for r in variant_runs]):.0f}",
                f"{report.median([r.peak_rss_kib for r in variant_runs]) / 1024:.1f}",
                _fmt_ms(report.median([r.server_per_check_ms for r in variant_runs])),
                "all" if ready == checks else f"{ready}/{checks}!",
            ]
        )
    report.say(
        report.table(
            headers,
            rows,
            title=f"Checks of {count} loopback endpoints, median of {repeat} runs "
            f"(x floor: against the raw client with the same concurrency)",
        )
    )
    cli = runs["cli"]
    reuse = runs["reuse_ws"]
    reuse_raw = runs["reuse_raw"]
    report.say()
    report.say(
        "CLI: client CPU includes interpreter start-up and imports; the CLI's own timer "
        f"(its 'in X s' line) says {report.median([r.check_wall_inside for r in cli]):.3f} s "
        "of checking."
    )
    report.say(
        f"Reuse rows: {REUSE_ROUNDS} rounds of session.status on {count} held connections; "
        "opening them once cost "
        f"{report.median([r.open_cpu / r.checks * REUSE_ROUNDS * 1000 for r in reuse]):.3f} "
        "ms CPU per connection (websockets) and "
        f"{report.median([r.open_cpu / r.checks * REUSE_ROUNDS * 1000 for r in reuse_raw]):.3f}"
        " (raw); RSS with all held: "
        f"{report.median([r.held_rss_kib for r in reuse]) / 1024:.1f} MB (websockets), "
        f"{report.median([r.held_rss_kib for r in reuse_raw]) / 1024:.1f} MB (raw)."
    )
    noisy = [
        v.label for v in variants if report.spread([r.cpu_per_check_ms for r in runs[v.key]]) > 0.25
    ]
    if noisy:
        report.say(f"Noisy (runs disagree by over 25%): {', '.join(noisy)}.")
    loads = [r.load for variant_runs in runs.values() for r in variant_runs]
    report.say(f"Load average during the runs: median {report.median(loads):.2f}")

    bidi = report.median([r.cpu_per_check_ms for r in runs["bidi_tui"]])
    cli_wall = report.median([r.wall for r in cli])
    check_all_wall = report.median([r.wall for r in runs["bidi_tui"]])
    report.say()
    report.say(
        report.targets(
            [
                (
                    "client CPU per check <= 1.5x the raw floor",
                    f"{bidi:.3f} ms = {bidi / floor_cpu['raw']:.2f}x",
                    bidi <= 1.5 * floor_cpu["raw"],
                ),
                (
                    f"{count} endpoints checked in < 1 s wall (check_all)",
                    f"{check_all_wall:.3f} s",
                    check_all_wall < 1.0,
                ),
                (
                    f"{count} endpoints in < 1 s wall (CLI process, start to exit)",
                    f"{cli_wall:.3f} s",
                    cli_wall < 1.0,
                ),
            ],
            "Targets (issue 5)",
        )
    )


def scaling(server: farm.DemoServer, sizes: list[int], repeat: int, workdir: Path) -> None:
    keys = ["raw", "bidi_tui", "reuse_ws"]
    rows = []
    per_size: dict[str, list[float]] = {k: [] for k in keys}
    for size in sizes:
        specs_path = server.write_specs(workdir / f"specs-{size}.txt", size)
        rounds = max(1, SCALING_MIN_CHECKS // size)
        row = [f"{size:,}", str(rounds)]
        for key in keys:
            # Reuse already runs REUSE_ROUNDS rounds per round.
            key_rounds = max(1, rounds // REUSE_ROUNDS) if key == "reuse_ws" else rounds
            results = []
            for _ in range(repeat):
                report.note(f"  scaling {size}: {key}")
                results.append(run_worker(server, key, specs_path, key_rounds))
            cpu = report.median([r.cpu_per_check_ms for r in results])
            per_size[key].append(cpu)
            ready = min(r.ready for r in results)
            flag = "" if ready == results[0].checks else f" ({ready}/{results[0].checks} ready!)"
            row.append(f"{cpu:.3f}{flag}")
            if key == "bidi_tui":
                row.append(f"{report.median([r.wall for r in results]) / rounds:.3f}")
                row.append(f"{report.median([r.peak_rss_kib for r in results]) / 1024:.0f}")
        row.append(f"{report.median([r.load for r in results]):.2f}")
        rows.append(row)
    report.say()
    report.say(
        report.table(
            [
                "endpoints",
                "rounds",
                "raw ms/check",
                "bidi_tui ms/check",
                "bidi_tui wall s/round",
                "bidi_tui peak RSS MB",
                "reuse ms/check",
                "load",
            ],
            rows,
            title=f"Scaling: client CPU per check, median of {repeat} (small farms in rounds)",
        )
    )
    for key in ("raw", "bidi_tui"):
        values = per_size[key]
        report.say(
            f"{key}: largest/smallest cost per check = {max(values) / min(values):.2f}x "
            f"(flat means near 1)"
        )


def print_profile(server: farm.DemoServer, key: str, count: int, workdir: Path) -> None:
    specs_path = server.write_specs(workdir / f"specs-{count}.txt", count)
    profile_path = workdir / f"{key}.prof"
    run = run_worker(server, key, specs_path, profile_path=profile_path)
    report.say(
        f"cProfile of {key} on {count} endpoints (profiler overhead included): "
        f"{run.cpu_per_check_ms:.3f} ms CPU per check"
    )
    for sort in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(str(profile_path), stream=buffer)
        stats.strip_dirs().sort_stats(sort).print_stats(30)
        report.say(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scaling-repeat", type=int, default=3)
    parser.add_argument("--scaling-sizes", default=",".join(map(str, SCALING_SIZES)))
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--no-table", action="store_true")
    parser.add_argument("--profile", choices=sorted(BY_KEY.keys() - {"cli"}))
    parser.add_argument("--worker", choices=sorted(BY_KEY), help=argparse.SUPPRESS)
    parser.add_argument("--specs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--interleaved-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-interleaved", action="store_true")
    args = parser.parse_args()
    if args.interleaved_worker:
        interleaved_worker(args.interleaved_worker)
        return
    if args.worker:
        worker(args.worker, args.specs, args.rounds, args.profile_out)
        return

    sizes = [int(s) for s in args.scaling_sizes.split(",") if s]
    scaled = not (args.no_scaling or args.profile)
    largest = max([args.endpoints, *(sizes if scaled else [])])
    fd_limit = farm.raise_fd_limit()
    report.say(f"bench/probe_throughput.py: {report.machine_line()}; fd limit {fd_limit}")
    with (
        tempfile.TemporaryDirectory(prefix="bidi-bench-") as tmp,
        farm.demo_server(largest) as server,
    ):
        workdir = Path(tmp)
        report.say(f"demo farm: {largest} endpoints on one socket, pid {server.pid}")
        report.say()
        if args.profile:
            print_profile(server, args.profile, args.endpoints, workdir)
            return
        if not args.no_table:
            main_table(server, args.endpoints, args.repeat, workdir, VARIANTS)
        if not args.no_interleaved:
            interleaved(server, workdir)
        if scaled:
            scaling(server, sizes, args.scaling_repeat, workdir)
    report.say()
    report.say(f"done; {report.machine_line()}")


if __name__ == "__main__":
    main()
