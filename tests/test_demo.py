"""The embedded demo farm: every kind of endpoint, probed for real over loopback."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bidi_tui.demo import (
    CHROME_BUSY_MESSAGE,
    CHROME_READY_MESSAGE,
    FIREFOX_BUSY_MESSAGE,
    FLAP_PERIOD,
    DemoFarm,
    Kind,
)
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.model import ErrorKind, ProbeResult, State
from bidi_tui.probe import probe


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def names_of(farm: DemoFarm, kind: Kind) -> list[str]:
    return [name for name, k in farm.kinds.items() if k is kind]


async def probe_all(endpoints: list[Endpoint], timeout: float = 1.0) -> dict[str, ProbeResult]:
    results = await asyncio.gather(*(probe(e, timeout=timeout) for e in endpoints))
    return {r.endpoint.name: r for r in results}


async def probe_one(farm: DemoFarm, name: str) -> ProbeResult:
    (endpoint,) = [e for e in farm.endpoints if e.name == name]
    return await probe(endpoint, timeout=1.0)


async def test_specs_are_stable_parseable_and_cover_every_kind() -> None:
    async with DemoFarm.start(seed=3) as farm:
        specs = farm.specs
        assert 12 <= len(specs) <= 16
        assert set(farm.kinds.values()) == set(Kind)
        assert [e.name for e in farm.endpoints] == list(farm.kinds)
        for spec, endpoint in zip(specs, farm.endpoints, strict=True):
            family = endpoint.name.rsplit("-", 1)[0]
            assert endpoint.tags == (family,)  # so grouping by tag has something to show
            assert parse_spec(spec, tags=(family,)) == [endpoint]
            assert endpoint.host == "127.0.0.1"
            assert endpoint.port
        # scale=1: one port per endpoint, like a real farm
        assert len({e.port for e in farm.endpoints}) == len(specs)
        assert farm.specs == specs
    again = DemoFarm.start(seed=3)
    assert again.kinds == farm.kinds


async def test_every_kind_answers_like_the_real_thing() -> None:
    clock = FakeClock()
    async with DemoFarm.start(seed=1, clock=clock) as farm:
        for name in names_of(farm, Kind.FIREFOX_BUSY) + names_of(farm, Kind.CHROME_BUSY):
            farm.set_busy(name, True)
        results = await probe_all(farm.endpoints)

    expected_errors = {
        Kind.HANG: ErrorKind.TIMEOUT,
        Kind.REFUSED: ErrorKind.REFUSED,
        Kind.CDP: ErrorKind.NOT_BIDI,
        Kind.WRONG_PATH: ErrorKind.HTTP_STATUS,
    }
    for name, kind in farm.kinds.items():
        result = results[name]
        if kind in (Kind.FIREFOX, Kind.FLAPPING):
            assert result.state is State.READY, name
            assert result.message == ""
            assert result.meta == {}
        elif kind is Kind.CHROME:
            assert result.state is State.READY, name
            assert result.message == CHROME_READY_MESSAGE
            assert set(result.meta) == {"build", "os"}
            assert result.meta["build"]["version"]
            assert set(result.meta["os"]) == {"arch", "name", "version"}
        elif kind is Kind.FIREFOX_BUSY:
            assert result.state is State.NOT_READY, name
            assert result.message == FIREFOX_BUSY_MESSAGE
        elif kind is Kind.CHROME_BUSY:
            assert result.state is State.NOT_READY, name
            assert result.message == CHROME_BUSY_MESSAGE
            assert "build" in result.meta
        else:
            assert result.state is State.ERROR, name
            assert result.error is not None
            assert result.error.kind is expected_errors[kind], (name, result.error)
    wrong_path = results[names_of(farm, Kind.WRONG_PATH)[0]]
    assert wrong_path.error is not None
    assert "404" in wrong_path.error.detail
    ready = [r.latency_ms for r in results.values() if r.state is State.READY]
    assert ready
    assert all(lat is not None and lat < 500 for lat in ready)


async def test_forced_state_can_be_released() -> None:
    clock = FakeClock()
    async with DemoFarm.start(seed=2, clock=clock) as farm:
        (busy,) = names_of(farm, Kind.FIREFOX_BUSY)
        farm.set_busy(busy, True)
        assert farm.ready_now(busy) is False
        farm.set_busy(busy, False)
        assert (await probe_one(farm, busy)).state is State.READY
        farm.set_busy(busy, None)
        expected = State.READY if farm.ready_now(busy) else State.NOT_READY
        assert (await probe_one(farm, busy)).state is expected
        # a normally ready endpoint can be forced busy too
        farm.set_busy("chrome-1", True)
        result = await probe_one(farm, "chrome-1")
        assert (result.state, result.message) == (State.NOT_READY, CHROME_BUSY_MESSAGE)
        with pytest.raises(KeyError):
            farm.set_busy("no-such-browser", True)
        with pytest.raises(ValueError):
            farm.set_busy(names_of(farm, Kind.HANG)[0], True)
        assert farm.ready_now(names_of(farm, Kind.REFUSED)[0]) is None


def busy_timeline(seed: int, kind: Kind) -> list[bool | None]:
    clock = FakeClock()
    farm = DemoFarm.start(seed=seed, clock=clock)
    (name,) = names_of(farm, kind)
    timeline = []
    for _ in range(600):  # ten minutes, one second at a time
        timeline.append(farm.ready_now(name))
        clock.now += 1.0
    return timeline


@pytest.mark.parametrize("kind", [Kind.FIREFOX_BUSY, Kind.CHROME_BUSY])
def test_busy_schedule_alternates_over_tens_of_seconds(kind: Kind) -> None:
    timeline = busy_timeline(5, kind)
    assert timeline == busy_timeline(5, kind)  # seeded: reproducible
    changes = [i for i in range(1, len(timeline)) if timeline[i] != timeline[i - 1]]
    assert len(changes) >= 4
    spells = [b - a for a, b in itertools.pairwise(changes)]
    assert min(spells) >= 10
    assert max(spells) <= 60
    assert True in timeline and False in timeline


async def test_flapping_follows_the_injected_clock() -> None:
    clock = FakeClock()
    async with DemoFarm.start(seed=4, clock=clock) as farm:
        (flapping,) = names_of(farm, Kind.FLAPPING)
        states = []
        for _ in range(3):
            states.append((await probe_one(farm, flapping)).state)
            clock.now += FLAP_PERIOD
        assert states == [State.READY, State.NOT_READY, State.READY]
        clock.now += FLAP_PERIOD / 2  # still inside the not-ready spell
        result = await probe_one(farm, flapping)
        assert (result.state, result.message) == (State.NOT_READY, FIREFOX_BUSY_MESSAGE)


async def exchange(url: str, messages: list[str | bytes]) -> list[dict[str, Any]]:
    answers = []
    async with connect(url, open_timeout=2, close_timeout=0.5) as ws:
        for message in messages:
            await ws.send(message)
            async with asyncio.timeout(2):
                answers.append(json.loads(await ws.recv()))
    return answers


async def test_requests_are_validated_like_a_browser() -> None:
    async with DemoFarm.start(seed=1) as farm:
        by_name = {e.name: e for e in farm.endpoints}
        answers = await exchange(
            by_name["firefox-1"].url,
            [
                '{"id": 7, "method": "session.status", "params": {}}',
                "not json",
                "[1, 2]",
                b'{"id": 1, "method": "session.status", "params": {}}',
                '{"id": "8", "method": "session.status", "params": {}}',
                '{"id": true, "method": "session.status", "params": {}}',
                '{"id": -1, "method": "session.status", "params": {}}',
                '{"id": 9, "method": "session.status"}',
                '{"id": 10, "method": "session.status", "params": {"x": 1}}',
                '{"id": 11, "params": {}}',
                '{"id": 12, "method": "session.new", "params": {"capabilities": {}}}',
                '{"id": 13, "method": "session.status", "params": {}}',
            ],
        )
        chrome = await exchange(
            by_name["chrome-1"].url, ['{"id": 5, "method": "session.status", "params": []}']
        )
        cdp = await exchange(
            by_name[names_of(farm, Kind.CDP)[0]].url,
            ['{"id": 3, "method": "session.status", "params": {}}'],
        )

    assert answers[0] == {"type": "success", "id": 7, "result": {"ready": True, "message": ""}}
    assert answers[-1]["id"] == 13 and answers[-1]["type"] == "success"
    errors = answers[1:-1]
    assert all(a["type"] == "error" and isinstance(a["message"], str) for a in errors)
    assert [a["id"] for a in errors] == [None, None, None, None, None, None, 9, 10, 11, 12]
    assert [a["error"] for a in errors] == ["invalid argument"] * 9 + ["unknown command"]
    assert chrome == [
        {"type": "error", "id": 5, "error": "invalid argument", "message": chrome[0]["message"]}
    ]
    assert cdp == [{"id": 3, "error": {"code": -32601, "message": "'session.status' wasn't found"}}]


async def test_scale_shares_one_socket() -> None:
    async with DemoFarm.start(seed=6, scale=3) as farm:
        endpoints = farm.endpoints
        assert len(endpoints) == 3 * len(DemoFarm.start(seed=6).kinds)
        assert len({e.name for e in endpoints}) == len(endpoints)
        assert len({e.url for e in endpoints}) == len(endpoints)
        listening = {e.port for e in endpoints if farm.kinds[e.name] is not Kind.REFUSED}
        assert len(listening) == 1
        quick = [e for e in endpoints if farm.kinds[e.name] in (Kind.FIREFOX, Kind.CHROME)]
        results = await probe_all(quick)
    assert {r.state for r in results.values()} == {State.READY}


async def test_healthy_farm_of_200_is_all_ready() -> None:
    async with DemoFarm.start_healthy(200) as farm:
        endpoints = farm.endpoints
        assert [e.name for e in endpoints] == [f"demo-{i}" for i in range(1, 201)]
        assert len({e.port for e in endpoints}) == 1
        assert len({e.path for e in endpoints}) == 200
        results = await probe_all(endpoints, timeout=5.0)
    assert all(r.state is State.READY for r in results.values()), [
        r.summary for r in results.values() if r.state is not State.READY
    ]
    with pytest.raises(ValueError):
        DemoFarm.start_healthy(0)
    with pytest.raises(ValueError):
        DemoFarm.start(scale=0)


async def test_closes_fast_with_connections_open() -> None:
    farm = DemoFarm.start(seed=1)
    await farm.open()
    with pytest.raises(RuntimeError):
        await farm.open()
    by_name = {e.name: e for e in farm.endpoints}
    hang = by_name[names_of(farm, Kind.HANG)[0]]
    ws = await connect(hang.url, open_timeout=2, close_timeout=0.5)
    await ws.send('{"id": 1, "method": "session.status", "params": {}}')
    # A TCP client that never sends its opening handshake.
    reader, writer = await asyncio.open_connection(hang.host, hang.port)
    started = time.perf_counter()
    await farm.close()
    elapsed = time.perf_counter() - started
    await farm.close()  # idempotent
    try:
        assert elapsed < 0.8
        async with asyncio.timeout(1):
            await ws.wait_closed()
            assert await reader.read() == b""
        with pytest.raises(RuntimeError):
            _ = farm.specs
    finally:
        writer.close()
        await ws.close()


def test_core_does_not_import_textual() -> None:
    code = "import sys, bidi_tui.demo; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli_prints_specs_and_exits_cleanly_on_signal(signum: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bidi_tui.demo",
        "--healthy",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(15):
            lines = [(await process.stdout.readline()).decode() for _ in range(5)]
        endpoints = [e for line in lines for e in parse_spec(line.strip())]
        assert [e.name for e in endpoints] == [f"demo-{i}" for i in range(1, 6)]
        results = await probe_all(endpoints)
        assert {r.state for r in results.values()} == {State.READY}
        started = time.perf_counter()
        process.send_signal(signum)
        async with asyncio.timeout(3):
            returncode = await process.wait()
        assert returncode == 0
        assert time.perf_counter() - started < 2
        assert await process.stdout.read() == b""
        assert await process.stderr.read() == b""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
