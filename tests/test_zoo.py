"""The zoo of misbehaving endpoints: each gets the right verdict by its deadline, and the
rest of a farm keeps being checked on schedule meanwhile.

With ``BIDI_TUI_RELIABILITY_JSON=PATH`` set, the tests also write what they measured to
PATH; ``scripts/reliability_report.py`` renders that into ``docs/reliability.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import websockets

from bidi_tui.checks import check_all
from bidi_tui.demo import DemoFarm
from bidi_tui.engine import CheckFinished, CheckStarted, Engine, EngineEvent
from bidi_tui.model import ErrorKind, ProbeResult, State
from bidi_tui.settings import Settings
from tests.zoo import (
    ANNOUNCED_FRAME_BYTES,
    DEADLINE_MARGIN,
    ZOO,
    ZOO_DEADLINE,
    ZooCase,
    ZooOutcome,
    available_cases,
    ipv6_loopback_available,
    open_zoo,
    run_case,
    run_zoo,
    run_zoo_measured,
    trust_zoo_ca,
    zoo_case,
    zoo_in_thread,
    zoo_tls,
)

RECORD_ENV = "BIDI_TUI_RELIABILITY_JSON"
DEADLINE = ZOO_DEADLINE
# Longest one-line detail or hint we accept: a table cell, not a paragraph.
MAX_LINE = 300

# What the tests measured, written to $BIDI_TUI_RELIABILITY_JSON at the end of the module.
REPORT: dict[str, Any] = {"cases": {}}


@pytest.fixture(scope="module", autouse=True)
def reliability_record() -> Iterator[None]:
    yield
    target = os.environ.get(RECORD_ENV)
    if not target:
        return
    REPORT.update(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        deadline_s=DEADLINE,
        margin_s=DEADLINE_MARGIN,
        python=platform.python_version(),
        websockets=websockets.__version__,
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        order=[case.name for case in ZOO],
    )
    Path(target).write_text(json.dumps(REPORT, indent=2) + "\n", encoding="utf-8")


def one_line(text: str | None, what: str) -> None:
    assert text, f"{what} is empty"
    assert "\n" not in text and "\r" not in text, f"{what} is not one line: {text!r}"
    assert len(text) <= MAX_LINE, f"{what} is {len(text)} characters: {text!r}"


def assert_verdict(case: ZooCase, result: ProbeResult) -> None:
    """The state, kind, phase, detail and hint ``case`` expects."""
    assert result.state is case.state, (case.name, result)
    if case.state is not State.ERROR:
        assert result.error is None, (case.name, result.error)
        return
    error = result.error
    assert error is not None, case.name
    assert error.kind in case.kinds, (case.name, error)
    if case.phase is not None:
        assert error.phase is case.phase, (case.name, error)
    one_line(error.detail, f"{case.name}: the detail")
    for part in case.detail:
        assert part in error.detail, (case.name, part, error.detail)
    if case.hint is not None:
        one_line(error.hint, f"{case.name}: the hint")
        assert error.hint is not None and case.hint in error.hint, (case.name, error.hint)
    elif error.hint is not None:
        one_line(error.hint, f"{case.name}: the hint")
    assert result.ready is None and result.latency_ms is None


def assert_by_deadline(outcome: ZooOutcome) -> None:
    limit = outcome.deadline + DEADLINE_MARGIN
    assert outcome.wall < limit, f"{outcome.case.name}: took {outcome.wall:.2f} s"
    assert outcome.result.elapsed_ms < limit * 1000


# --- every case, timed about as if alone ---------------------------------------------


@pytest.fixture(scope="module")
def zoo_outcomes() -> dict[str, ZooOutcome]:
    with trust_zoo_ca():
        outcomes = asyncio.run(run_zoo_measured(deadline=DEADLINE))
    return {outcome.case.name: outcome for outcome in outcomes}


@pytest.mark.parametrize("case", ZOO, ids=[case.name for case in ZOO])
def test_zoo_case(case: ZooCase, zoo_outcomes: dict[str, ZooOutcome]) -> None:
    if case.needs_ipv6 and not ipv6_loopback_available():
        pytest.skip("this machine has no IPv6 loopback")
    outcome = zoo_outcomes[case.name]
    record = REPORT["cases"][case.name] = {**outcome.to_json(), "passed": False}
    assert_verdict(case, outcome.result)
    assert_by_deadline(outcome)
    if case.at_deadline:
        assert outcome.wall >= DEADLINE - 0.05, f"ended {outcome.wall:.2f} s, before its deadline"
    elif case.at_deadline is False:
        assert outcome.wall < DEADLINE / 2, f"took {outcome.wall:.2f} s; expected an early verdict"
    if case.check is not None:
        case.check(outcome)
    record["passed"] = True


def test_the_zoo_covers_every_failure_the_issue_lists() -> None:
    names = [case.name for case in ZOO]
    assert len(names) == len(set(names)), "zoo case names must be unique"
    kinds = {kind for case in ZOO for kind in case.kinds}
    wanted = set(ErrorKind) - {ErrorKind.INVALID_URL, ErrorKind.NETWORK}
    assert wanted <= kinds, f"no zoo case for {sorted(wanted - kinds)}"
    for name in (
        "http-drip", "101-bad-accept", "http-301", "http-302", "http-401", "http-403",
        "http-503", "not-http", "wss-to-plain", "ws-to-tls", "tls-self-signed",
        "tls-self-signed-insecure", "tls-expired", "close-1000", "close-1001", "close-1011",
        "dropped", "cdp-error", "wrong-id-first", "endless-events", "error-id-null",
        "error-no-id", "huge-meta", "frame-100mb", "ping-flood", "close-ignored", "dns",
        "refused", "ipv6-loopback",
    ):  # fmt: skip
        zoo_case(name)


# --- the 100 MB frame: refused at the header, memory flat ----------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc for RSS")
async def test_announced_100mb_frame_keeps_memory_flat() -> None:
    case = zoo_case("frame-100mb")
    rss_before = _rss_bytes()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        traced_before = tracemalloc.get_traced_memory()[0]
        outcome = await run_case(case, DEADLINE)
        traced_after, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = _rss_bytes()
    REPORT["memory"] = {
        "case": case.name,
        "announced_bytes": ANNOUNCED_FRAME_BYTES,
        "traced_peak_growth_bytes": traced_peak - traced_before,
        "traced_after_growth_bytes": traced_after - traced_before,
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "wall_s": round(outcome.wall, 3),
    }
    assert_verdict(case, outcome.result)
    assert outcome.result.error is not None and outcome.result.error.kind is ErrorKind.TOO_LARGE
    assert outcome.wall < DEADLINE / 2, "refused at the header, not at the deadline"
    # Nothing near the announced size was ever allocated, nor stays allocated.
    assert traced_peak - traced_before < 4 * 1024 * 1024
    assert traced_after - traced_before < 1024 * 1024
    assert rss_after - rss_before < 20 * 1024 * 1024


# --- all at once ---------------------------------------------------------------------


async def test_the_whole_zoo_at_once_ends_by_the_deadline() -> None:
    started = time.perf_counter()
    with trust_zoo_ca():
        outcomes = await run_zoo(deadline=DEADLINE)
    wall = time.perf_counter() - started
    REPORT["at_once"] = {"cases": len(outcomes), "wall_s": round(wall, 3)}
    assert len(outcomes) == len(available_cases())
    for outcome in outcomes:
        assert_verdict(outcome.case, outcome.result)
        assert_by_deadline(outcome)
    assert wall < DEADLINE + DEADLINE_MARGIN + 0.5  # teardown of every server included


# --- the farm keeps moving -----------------------------------------------------------

HEALTHY = 50
FARM_INTERVAL = 1.0
FARM_TIMEOUT = 1.0
FARM_JITTER = 0.1
FARM_SECONDS = 5.5
MIN_CHECKS = 4


async def test_healthy_endpoints_stay_on_schedule_beside_the_zoo() -> None:
    starts: dict[str, list[float]] = {}
    finished: dict[str, list[ProbeResult]] = {}

    def listener(event: EngineEvent) -> None:
        if isinstance(event, CheckStarted):
            starts.setdefault(event.name, []).append(time.monotonic())
        elif isinstance(event, CheckFinished):
            finished.setdefault(event.name, []).append(event.result)

    # The suite's own heap (hundreds of apps by now) makes a full collection take up to
    # 0.5 s; frozen, the collector scans only what this test allocates.
    gc.collect()
    gc.freeze()
    with trust_zoo_ca(), contextlib.ExitStack() as stack:
        stack.callback(gc.unfreeze)
        async with open_zoo() as members, DemoFarm.start_healthy(HEALTHY) as farm:
            healthy = farm.endpoints
            engine = Engine(
                [*healthy, *(member.endpoint for member in members)],
                jitter=FARM_JITTER,
                listeners=[listener],
                settings=Settings(default_interval=FARM_INTERVAL, default_timeout=FARM_TIMEOUT),
            )
            began = time.monotonic()
            engine.start()
            lags: list[float] = []
            try:
                for _ in range(int(FARM_SECONDS / 0.05)):  # sleep, sampling the loop's lag
                    before = time.monotonic()
                    await asyncio.sleep(0.05)
                    lags.append(time.monotonic() - before - 0.05)
            finally:
                ended = time.monotonic()
                await engine.stop()

    # The loop's lag is reported, not asserted (timing belongs to bench/); the schedule
    # below is what a stalled loop would break.
    allowed_gap = FARM_INTERVAL * (1 + FARM_JITTER) + FARM_INTERVAL
    worst_gap = 0.0
    for endpoint in healthy:
        times = starts.get(endpoint.name, [])
        assert len(times) >= MIN_CHECKS, f"{endpoint.name} was checked {len(times)} times"
        # The first check within the first round's spread, then no gap between two starts
        # (nor after the last one) more than one interval past the schedule.
        first = times[0] - began
        assert first <= engine.first_round_spread + FARM_INTERVAL, (endpoint.name, first)
        gaps = [later - earlier for earlier, later in zip(times, [*times[1:], ended], strict=True)]
        worst_gap = max(worst_gap, *gaps)
        assert max(gaps) <= allowed_gap, f"{endpoint.name}: gaps {[round(g, 2) for g in gaps]}"
        assert all(r.state is State.READY for r in finished[endpoint.name])
    verdicts: dict[str, str] = {}
    for member in members:
        results = finished.get(member.endpoint.name, [])
        assert results, f"{member.case.name} was never checked"
        assert_verdict(member.case, results[0])
        kind = results[0].error.kind.value if results[0].error else results[0].state.value
        verdicts[member.case.name] = kind
    REPORT["farm"] = {
        "healthy": HEALTHY,
        "zoo": len(members),
        "seconds": round(ended - began, 2),
        "interval_s": FARM_INTERVAL,
        "timeout_s": FARM_TIMEOUT,
        "allowed_gap_s": round(allowed_gap, 2),
        "worst_gap_s": round(worst_gap, 3),
        "min_checks": min(len(starts[e.name]) for e in healthy),
        "max_lateness_s": round(engine.stats.max_lateness, 3),
        "max_loop_lag_s": round(max(lags), 3),
        "checks": engine.stats.checks_finished,
    }


async def test_check_all_on_zoo_and_healthy_takes_about_one_deadline() -> None:
    with trust_zoo_ca():
        async with open_zoo() as members, DemoFarm.start_healthy(HEALTHY) as farm:
            endpoints = [*(member.endpoint for member in members), *farm.endpoints]
            started = time.perf_counter()
            results = await check_all(endpoints, settings=Settings(cli_timeout=DEADLINE))
            wall = time.perf_counter() - started
    REPORT["check_all"] = {"endpoints": len(endpoints), "wall_s": round(wall, 3)}
    assert wall < DEADLINE + 1.5
    for member, result in zip(members, results[: len(members)], strict=True):
        assert_verdict(member.case, result)
    assert all(result.state is State.READY for result in results[len(members) :])


def _config_toml(endpoints: list[Any]) -> str:
    lines = []
    for endpoint in endpoints:
        lines += ["[[endpoints]]", f"name = {json.dumps(endpoint.name)}"]
        lines += [f"url = {json.dumps(endpoint.url)}"]
        if endpoint.insecure:
            lines.append("insecure = true")
    return "\n".join(lines) + "\n"


def test_bidi_tui_check_on_zoo_and_healthy_takes_about_one_deadline(tmp_path: Path) -> None:
    with zoo_in_thread(healthy=HEALTHY) as zoo:
        config = tmp_path / "endpoints.toml"
        config.write_text(_config_toml(zoo.endpoints), encoding="utf-8")
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "SSL_CERT_FILE": str(zoo_tls().ca_file),
            "XDG_CONFIG_HOME": str(tmp_path),
        }
        command = [sys.executable, "-m", "bidi_tui", "check", "--config", str(config)]
        command += ["--timeout", str(DEADLINE)]
        started = time.perf_counter()
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=30, check=False
        )
        wall = time.perf_counter() - started
    assert done.returncode == 2, done.stderr  # some endpoints are in error
    summary = done.stdout.strip().splitlines()[-1]
    match = re.search(
        r"(\d+) endpoints: (\d+) ready, (\d+) not ready, (\d+) error, in ([\d.]+) s", summary
    )
    assert match, summary
    total, ready, not_ready, errors, checked_in = match.groups()
    expected_errors = sum(1 for m in zoo.members if m.case.state is State.ERROR)
    assert int(total) == len(zoo.endpoints)
    assert int(errors) == expected_errors
    assert int(ready) + int(not_ready) == len(zoo.endpoints) - expected_errors
    REPORT["cli"] = {
        "endpoints": int(total),
        "checked_in_s": float(checked_in),
        "process_wall_s": round(wall, 3),
    }
    assert float(checked_in) < DEADLINE + 1.5
    assert wall < DEADLINE + 1.5 + 3.0  # plus the interpreter's start-up
    for member in zoo.members:
        row = next(line for line in done.stdout.splitlines() if f" {member.endpoint.name} " in line)
        if member.case.state is State.ERROR:
            assert any(f"{kind.value}: " in row for kind in member.case.kinds), row
