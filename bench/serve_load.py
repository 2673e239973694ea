"""Benchmark 4, `bidi-tui serve` under load: 2,000 endpoints checked every 5 s.

    python bench/serve_load.py                  # 90 s each watching phase (about 4 minutes)
    python bench/serve_load.py --seconds 30     # shorter

The demo farm (``python -m bidi_tui.demo --healthy N``) runs in its own process, and so do
the two workers, one after the other on the same farm:

- the baseline, the polling engine alone (``bidi_tui.engine.Engine``, no HTTP);
- serve: ``bidi_tui.serve.command.Serve``, what ``bidi-tui serve`` runs, listening on
  127.0.0.1 with the same endpoints, interval and timeout.

What is measured, from this (the parent) process:

- CPU: the worker's user + system CPU (``/proc``) from the end of the first round
  (``--warmup``, 10 s) to the end of the phase, over wall time (100% = one core). serve is
  scraped every 15 s (Prometheus's default) meanwhile, as it would be in production.
- One scrape of ``/metrics``: the CPU the worker's loop thread spends in the handler
  (``time.thread_time`` around it, inside the worker): the scrapes every 15 s of the CPU
  phase (every endpoint was checked since the one before: nothing is reused), then 20 each
  of the text format, OpenMetrics and OpenMetrics with gzip, one every 0.5 s (as the second
  Prometheus of an HA pair scrapes: most lines are kept from the scrape before). Also the
  wall time and size as the client sees them.
- ``/probe``: then, for ``--probe-seconds`` (30 s), 10 requests at once every second
  (targets drawn from the configured endpoints, by name); their status and wall time.
- Lateness: per scheduled check, its start minus its due time (the first round apart),
  recorded in the worker at ``CheckStarted``; p50/p99/max while only watching and while
  ``/probe`` runs, against the engine alone.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import farm
import report

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import CheckStarted, Engine, EngineEvent

INTERVAL = 5.0
TIMEOUT = 5.0
SCRAPE_EVERY = 15.0
SCRAPES_EACH = 20
SCRAPE_GAP = 0.5
PROBES_PER_SECOND = 10
ACCEPT_OPENMETRICS = "application/openmetrics-text;version=1.0.0"


def _load_endpoints(specs_path: Path) -> list[Endpoint]:
    return [e for spec in specs_path.read_text().split() for e in parse_spec(spec)]


class LatenessLog:
    """(wall time, lateness) of every scheduled check after each endpoint's first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: set[str] = set()
        self.samples: list[tuple[float, float]] = []
        engine.subscribe(self.on_event)

    def on_event(self, event: EngineEvent) -> None:
        if not isinstance(event, CheckStarted):
            return
        watch = self.engine.watches.get(event.name)
        if watch is None:
            return
        if event.name in self.seen:
            late = max(0.0, self.engine.now() - watch.next_due)
            self.samples.append((time.time(), late))
        else:
            self.seen.add(event.name)


# --- workers ------------------------------------------------------------------------------


async def _until_sigterm() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


async def run_engine(specs: Path, out: Path) -> None:
    from bidi_tui.settings import Settings

    engine = Engine(
        _load_endpoints(specs),
        settings=Settings(default_interval=INTERVAL, default_timeout=TIMEOUT),
    )
    lateness = LatenessLog(engine)
    engine.start()
    print("ready", flush=True)
    try:
        await _until_sigterm()
    finally:
        await engine.stop(0.3)
    await asyncio.to_thread(out.write_text, json.dumps({"lateness": lateness.samples}))


async def run_serve(specs: Path, out: Path) -> None:
    from aiohttp import web

    from bidi_tui.serve.command import Serve, ServeOptions
    from bidi_tui.serve.http import Listen

    options = ServeOptions(listen=Listen("127.0.0.1", 0), interval=INTERVAL, timeout=TIMEOUT)
    serve = Serve(options, None, _load_endpoints(specs))
    lateness = LatenessLog(serve.engine)
    scrapes: list[dict[str, Any]] = []
    handler = serve.http.metrics

    async def timed_metrics(request: web.Request) -> web.Response:
        started = time.thread_time()
        response = await handler(request)  # renders without awaiting: all of it is here
        scrapes.append(
            {
                "cpu": time.thread_time() - started,
                "openmetrics": "openmetrics" in request.headers.get("Accept", ""),
                "gzip": "gzip" in request.headers.get("Accept-Encoding", ""),
                "bytes": len(response.body or b""),
            }
        )
        return response

    serve.http.metrics = timed_metrics  # type: ignore[method-assign]
    serve.stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serve.stopping.set)
    await serve.run()
    result = json.dumps({"lateness": lateness.samples, "scrapes": scrapes})
    await asyncio.to_thread(out.write_text, result)


# --- the parent ---------------------------------------------------------------------------


class Worker:
    def __init__(self, kind: str, specs: Path, out: Path) -> None:
        self.out = out
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, "--specs", str(specs), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.url = ""
        assert self.process.stdout is not None and self.process.stderr is not None
        stream = self.process.stderr if kind == "serve" else self.process.stdout
        line = stream.readline()
        if kind == "serve":
            self.url = line.split("metrics at ", 1)[1].split("/metrics", 1)[0]
        elif line.strip() != "ready":
            raise RuntimeError(f"worker {kind} did not start: {line!r}")
        self.started = time.perf_counter()

    def cpu(self) -> tuple[float, float]:
        return time.perf_counter(), report.cpu_seconds(self.process.pid)

    def stop(self) -> dict[str, Any]:
        peak = report.rss_kib(self.process.pid, peak=True)
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=60)
        if self.process.returncode != 0:
            raise RuntimeError(f"worker failed ({self.process.returncode}):\n{stderr[-3000:]}")
        result: dict[str, Any] = json.loads(self.out.read_text())
        result["peak_rss_kib"] = peak
        return result


def _cpu_percent(start: tuple[float, float], end: tuple[float, float]) -> float:
    return 100 * (end[1] - start[1]) / (end[0] - start[0])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, float, int]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=30) as response:
            body = response.read()
            return response.status, time.perf_counter() - started, len(body)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, time.perf_counter() - started, 0


def _watch(worker: Worker, seconds: float, warmup: float, tick: Callable[[float], None]) -> float:
    """Let the worker run ``seconds``; its CPU % from ``warmup`` on. ``tick(elapsed)`` runs
    about every 0.25 s."""
    warm: tuple[float, float] | None = None
    while (elapsed := time.perf_counter() - worker.started) < seconds:
        if warm is None and elapsed >= warmup:
            warm = worker.cpu()
        tick(elapsed)
        time.sleep(0.25)
    assert warm is not None
    return _cpu_percent(warm, worker.cpu())


def _split(samples: list[list[float]], start: float, end: float) -> list[float]:
    return [late for at, late in samples if start <= at < end]


def _late_row(label: str, values: list[float]) -> list[str]:
    return [
        label,
        str(len(values)),
        f"{report.percentile(values, 0.5):.3f}",
        f"{report.percentile(values, 0.99):.3f}",
        f"{max(values, default=float('nan')):.3f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=90.0, help="each watching phase")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--probe-seconds", type=float, default=30.0)
    parser.add_argument("--worker", choices=["engine", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--specs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        farm.raise_fd_limit()
        work: Callable[[Path, Path], Awaitable[None]] = (
            run_engine if args.worker == "engine" else run_serve
        )
        asyncio.run(work(args.specs, args.out))
        return

    farm.raise_fd_limit()
    report.say(f"bench/serve_load.py: {report.machine_line()}")
    with tempfile.TemporaryDirectory(prefix="bidi-bench-serve-") as tmp:
        workdir = Path(tmp)
        with farm.demo_server(args.endpoints) as server:
            specs = server.write_specs(workdir / "specs.txt")
            names = [spec.split("=", 1)[0] for spec in server.specs]
            report.say(f"demo farm: {args.endpoints} endpoints on one socket, pid {server.pid}")

            engine = Worker("engine", specs, workdir / "engine.json")
            engine_cpu = _watch(engine, args.seconds, args.warmup, lambda _: None)
            engine_result = engine.stop()
            report.say(f"engine alone: {engine_cpu:.1f}% of a core; load {report.load_now():.2f}")

            serve = Worker("serve", specs, workdir / "serve.json")
            next_scrape = [args.warmup / 2]

            periodic = [0]

            def scrape_now_and_then(elapsed: float) -> None:
                if elapsed >= next_scrape[0]:
                    periodic[0] += 1
                    _get(serve.url + "/metrics", {"Accept": ACCEPT_OPENMETRICS,
                                                  "Accept-Encoding": "gzip"})  # fmt: skip
                    next_scrape[0] += SCRAPE_EVERY

            watch_from = time.time()
            serve_cpu = _watch(serve, args.seconds, args.warmup, scrape_now_and_then)
            watch_until = time.time()
            report.say(f"serve: {serve_cpu:.1f}% of a core; load {report.load_now():.2f}")

            client: dict[str, list[tuple[int, float, int]]] = {}
            for label, headers in (
                ("text", {}),
                ("openmetrics", {"Accept": ACCEPT_OPENMETRICS}),
                ("openmetrics+gzip", {"Accept": ACCEPT_OPENMETRICS, "Accept-Encoding": "gzip"}),
            ):
                for _ in range(SCRAPES_EACH):
                    client.setdefault(label, []).append(_get(serve.url + "/metrics", headers))
                    time.sleep(SCRAPE_GAP)

            rng = random.Random(4)
            probes: list[tuple[int, float, int]] = []
            probe_from = time.time()
            probe_cpu_from = serve.cpu()
            with concurrent.futures.ThreadPoolExecutor(PROBES_PER_SECOND) as pool:
                deadline = time.perf_counter() + args.probe_seconds
                while time.perf_counter() < deadline:
                    second = time.perf_counter()
                    batch = [
                        pool.submit(_get, f"{serve.url}/probe?target={rng.choice(names)}")
                        for _ in range(PROBES_PER_SECOND)
                    ]
                    probes.extend(f.result() for f in batch)
                    time.sleep(max(0.0, 1.0 - (time.perf_counter() - second)))
            probe_until = time.time()
            probe_cpu = _cpu_percent(probe_cpu_from, serve.cpu())
            serve_result = serve.stop()

    engine_late = [late for _, late in engine_result["lateness"]]
    watch_late = _split(serve_result["lateness"], watch_from + args.warmup, watch_until)
    probe_late = _split(serve_result["lateness"], probe_from, probe_until)
    every_15s = serve_result["scrapes"][: periodic[0]]
    scrapes = serve_result["scrapes"][-3 * SCRAPES_EACH :]

    def scrape_cpu(openmetrics: bool, gzip: bool) -> list[float]:
        return [s["cpu"] for s in scrapes if s["openmetrics"] == openmetrics and s["gzip"] == gzip]

    ratio = serve_cpu / engine_cpu
    cpu_rows = [
        [f"CPU, % of one core, from {args.warmup:g} s", f"{engine_cpu:.1f}",
         f"{serve_cpu:.1f}", f"{ratio:.2f}"],
        ["peak RSS, MB", f"{engine_result['peak_rss_kib'] / 1024:.1f}",
         f"{serve_result['peak_rss_kib'] / 1024:.1f}", ""],
    ]  # fmt: skip
    report.say(
        report.table(
            ["", "engine alone", "serve", "ratio"],
            cpu_rows,
            title=f"{args.endpoints} endpoints every {INTERVAL:g} s, {args.seconds:g} s each "
            f"(serve scraped every {SCRAPE_EVERY:g} s meanwhile)",
        )
    )
    scrape_rows = []
    for label, openmetrics, gzip in (
        ("text", False, False),
        ("openmetrics", True, False),
        ("openmetrics+gzip", True, True),
    ):
        cpu = scrape_cpu(openmetrics, gzip)
        walls = [wall for _, wall, _ in client[label]]
        size = client[label][-1][2]
        scrape_rows.append(
            [label, str(len(cpu)), f"{report.median(cpu) * 1000:.1f}",
             f"{max(cpu, default=float('nan')) * 1000:.1f}",
             f"{report.median(walls) * 1000:.1f}", f"{size / 1e6:.2f}"]
        )  # fmt: skip
    periodic_cpu = [s["cpu"] for s in every_15s]
    scrape_rows.insert(
        0,
        ["every 15 s, openmetrics+gzip", str(len(periodic_cpu)),
         f"{report.median(periodic_cpu) * 1000:.1f}",
         f"{max(periodic_cpu, default=float('nan')) * 1000:.1f}", "-",
         f"{every_15s[-1]['bytes'] / 1e6:.2f}" if every_15s else "-"],
    )  # fmt: skip
    report.say(
        report.table(
            ["one /metrics scrape", "n", "CPU p50 ms", "CPU max ms", "wall p50 ms", "MB sent"],
            scrape_rows,
            title=f"/metrics at {args.endpoints} endpoints (handler CPU in serve's loop thread)",
        )
    )
    statuses = sorted({status for status, _, _ in probes})
    probe_walls = [wall for _, wall, _ in probes]
    report.say(
        "(every 15 s: each endpoint checked since the last scrape, nothing reused; the others "
        f"{SCRAPE_GAP:g} s apart, as a second Prometheus of an HA pair would scrape)"
    )
    probe_ms = (probe_cpu - serve_cpu) / 100 / PROBES_PER_SECOND * 1000
    report.say(
        f"serve CPU with {PROBES_PER_SECOND} /probe a second: {probe_cpu:.1f}% of a core "
        f"({probe_ms:.2f} ms of CPU per /probe above watching alone)"
    )
    report.say(
        f"/probe: {len(probes)} requests in {args.probe_seconds:g} s "
        f"({PROBES_PER_SECOND} at once every second), statuses {statuses}, wall p50 "
        f"{report.median(probe_walls) * 1000:.1f} ms, p99 "
        f"{report.percentile(probe_walls, 0.99) * 1000:.1f} ms"
    )
    report.say(
        report.table(
            ["lateness of scheduled checks, s", "checks", "p50", "p99", "max"],
            [
                _late_row("engine alone", engine_late),
                _late_row("serve, watching and scraped", watch_late),
                _late_row(f"serve, with {PROBES_PER_SECOND} /probe a second", probe_late),
            ],
        )
    )
    text_cpu = report.median(periodic_cpu)
    worst_cpu = max(periodic_cpu)
    probe_p99 = report.percentile(probe_late, 0.99)
    target_rows = [
        ("serve CPU within 1.1x the engine alone", f"{ratio:.2f}x", ratio <= 1.1),
        ("one /metrics scrape under 50 ms CPU (every 15 s)", f"p50 {text_cpu * 1000:.1f} ms, "
         f"worst of {len(periodic_cpu)}: {worst_cpu * 1000:.1f} ms", worst_cpu < 0.05),
        (f"{PROBES_PER_SECOND} /probe a second: lateness p99 < 0.1 s",
         f"{probe_p99:.3f} s", probe_p99 < 0.1),
    ]  # fmt: skip
    report.say(report.targets(target_rows, "Targets (issue 12)"))


if __name__ == "__main__":
    main()
