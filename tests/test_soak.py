"""Soak: the engine runs tens of thousands of checks and its resources stay flat.

Issue 4, "Resource hygiene". A few hundred endpoints, a tenth of them misbehaving (a
WebSocket that never answers, a refused port, a Chrome DevTools endpoint, a wrong path, a
flapping and two busy ones), are checked every 50 ms with a 0.3 s deadline and 64 checks in
flight, until tens of thousands of checks have finished. The servers run in two
``python -m bidi_tui.demo`` processes, so what is measured here is the checking side alone:
open file descriptors, asyncio tasks, live Python objects and resident memory are taken at
quiet moments (every endpoint paused, nothing in flight) after a warm-up and again at the
end, and must not have grown. Nothing may reach the loop's exception handler (a "Task was
destroyed but it is pending", an "Unclosed connection"), nor raise a ResourceWarning.

The engine keeps a bounded history per endpoint (tests/test_engine.py checks the bound);
here it is cut to :data:`HISTORY` entries so that the warm-up fills it in seconds and the
rest of the run measures only what each check leaves behind.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from bidi_tui import engine as engine_module
from bidi_tui.demo import DemoFarm, Kind
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import Engine
from bidi_tui.model import ErrorKind, State
from bidi_tui.settings import Settings

HEALTHY = 250
COPIES_OF_THE_MISBEHAVING = 3  # of each non-healthy demo kind
INTERVAL = 0.05
TIMEOUT = 0.3
CONCURRENCY = 64
MAX_BACKOFF = 0.5  # errors back off, but not so far that the zoo drops out of the mix
HISTORY = 5
TARGET_CHECKS = 25_000
MIN_CHECKS = 5_000  # a floor for a machine busy with other work; idle, it reaches the target
TIME_LIMIT = 30.0  # seconds of checking after the warm-up, at most
WARM_UP_LIMIT = 15.0

# Growth allowed between the warm-up and the end, both measured at a quiet moment.
FD_TOLERANCE = 2
TASK_TOLERANCE = 0
OBJECT_TOLERANCE = 300
RSS_TOLERANCE_KIB = 4096


@dataclass(frozen=True)
class Resources:
    fds: int
    tasks: int
    objects: int
    rss_kib: int
    checks: int

    def __str__(self) -> str:
        return (
            f"{self.fds} fds, {self.tasks} tasks, {self.objects} objects, "
            f"{self.rss_kib / 1024:.1f} MiB RSS after {self.checks} checks"
        )


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def measure(checks: int) -> Resources:
    gc.collect()
    return Resources(
        fds=len(os.listdir("/proc/self/fd")),
        tasks=len(asyncio.all_tasks()),
        objects=len(gc.get_objects()),
        rss_kib=rss_kib(),
        checks=checks,
    )


async def quiet_measure(engine: Engine) -> Resources:
    """Pause every endpoint, let the checks in flight finish, measure, resume."""
    for name in engine.watches:
        engine.set_paused(name, True)
    deadline = time.monotonic() + 5 * TIMEOUT + 5
    while engine.in_flight:
        assert time.monotonic() < deadline, f"{engine.in_flight} checks never finished"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # closed transports finish their callbacks
    resources = measure(engine.stats.checks_finished)
    for name in engine.watches:
        engine.set_paused(name, False)
    return resources


@contextmanager
def demo_farm(count: int, *args: str) -> Iterator[list[str]]:
    """``python -m bidi_tui.demo ARGS`` in its own process; its ``count`` specs."""
    farm = subprocess.Popen(
        [sys.executable, "-m", "bidi_tui.demo", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert farm.stdout is not None
        specs: list[str] = []
        while len(specs) < count:
            line = farm.stdout.readline()
            assert line, f"the demo farm ended early (status {farm.poll()})"
            specs.append(line.strip())
        yield specs
    finally:
        farm.terminate()
        try:
            farm.wait(10)
        except subprocess.TimeoutExpired:
            farm.kill()
            farm.wait()
        if farm.stdout is not None:
            farm.stdout.close()


MIXED_SEED = 4
MIXED_KINDS = DemoFarm.start(seed=MIXED_SEED).kinds  # what each endpoint of that farm does


def zoo(specs: list[str]) -> list[Endpoint]:
    """Copies of every demo endpoint that is not a plain ready one."""
    endpoints = []
    for spec in specs:
        name, _, url = spec.partition("=")
        if MIXED_KINDS[name] in (Kind.FIREFOX, Kind.CHROME):
            continue
        for copy in range(1, COPIES_OF_THE_MISBEHAVING + 1):
            endpoints += parse_spec(f"{name}-x{copy}={url}")
    return endpoints


@asynccontextmanager
async def loop_problems() -> AsyncIterator[list[dict[str, Any]]]:
    """Everything that reaches the running loop's exception handler meanwhile."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: seen.append(context))
    try:
        yield seen
    finally:
        gc.collect()  # a pending task destroyed now still reports to the handler
        loop.set_exception_handler(previous)


@pytest.mark.soak
async def test_tens_of_thousands_of_checks_leave_resources_flat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "HISTORY_LENGTH", HISTORY)
    with (
        demo_farm(HEALTHY, "--healthy", str(HEALTHY)) as healthy,
        demo_farm(len(MIXED_KINDS), "--seed", str(MIXED_SEED)) as mixed,
        warnings.catch_warnings(record=True) as warned,
    ):
        warnings.simplefilter("always")
        endpoints = [e for spec in healthy for e in parse_spec(spec)] + zoo(mixed)
        async with loop_problems() as problems:
            baseline = measure(0)
            engine = Engine(
                endpoints,
                concurrency=CONCURRENCY,
                max_backoff=MAX_BACKOFF,
                first_round_spread=INTERVAL,
                settings=Settings(default_interval=INTERVAL, default_timeout=TIMEOUT),
            )
            started = time.monotonic()
            engine.start()
            # Warm-up: every history full, every connection pool and cache in use.
            while min(w.checks for w in engine.watches.values()) < HISTORY:
                assert time.monotonic() - started < WARM_UP_LIMIT, "the warm-up took too long"
                await asyncio.sleep(0.1)
            warm = await quiet_measure(engine)
            warm_at = time.monotonic()
            while time.monotonic() - warm_at < TIME_LIMIT:
                if engine.stats.checks_finished >= TARGET_CHECKS:
                    break
                await asyncio.sleep(0.25)
            end = await quiet_measure(engine)
            took = time.monotonic() - started
            verdicts = Counter(
                w.last.error.kind.value if w.last.error else w.last.state.value
                for w in engine.watches.values()
                if w.last is not None
            )
            await engine.stop()
            stopped = measure(engine.stats.checks_finished)

    report = (
        f"{len(endpoints)} endpoints, {end.checks} checks in {took:.1f} s "
        f"({end.checks / took:.0f}/s); verdicts {dict(verdicts)}\n"
        f"  before start: {baseline}\n  after warm-up: {warm}\n  at the end: {end}\n"
        f"  after stop: {stopped}"
    )
    print(report)
    assert end.checks >= MIN_CHECKS, report
    # The zoo was in the mix and got its verdicts.
    for kind in (ErrorKind.TIMEOUT, ErrorKind.REFUSED, ErrorKind.NOT_BIDI, ErrorKind.HTTP_STATUS):
        assert verdicts[kind.value] >= COPIES_OF_THE_MISBEHAVING, report
    assert verdicts[State.READY.value] >= HEALTHY, report
    # Flat between the warm-up and the end.
    assert end.fds - warm.fds <= FD_TOLERANCE, report
    assert end.tasks - warm.tasks <= TASK_TOLERANCE, report
    assert end.objects - warm.objects <= OBJECT_TOLERANCE, report
    assert end.rss_kib - warm.rss_kib <= RSS_TOLERANCE_KIB, report
    # Quiet means quiet: no connection is left open, one task per endpoint.
    assert warm.fds - baseline.fds <= FD_TOLERANCE, report
    assert end.tasks == baseline.tasks + len(endpoints), report
    # Stopped, everything the engine had is gone.
    assert stopped.fds - baseline.fds <= FD_TOLERANCE, report
    assert stopped.tasks == baseline.tasks, report
    assert problems == [], problems[:3]
    unwanted = [w for w in warned if issubclass(w.category, ResourceWarning | RuntimeWarning)]
    assert unwanted == [], [str(w.message) for w in unwanted[:3]]
