"""The polling engine: intervals, jitter, the concurrency cap, backoff, rechecks and edits.

Most tests drive the engine with a fake probe that records every call, so assertions are
on counts, ordering and the delays the engine *scheduled* (``next_due - last_finished_at``,
read when the next check starts), not on how fast a loaded machine happens to be.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from bidi_tui.demo import DemoFarm, Kind
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import (
    FIRST_ROUND_SPREAD,
    HISTORY_LENGTH,
    MAX_BACKOFF,
    Activity,
    CheckFinished,
    CheckStarted,
    Engine,
    EngineEvent,
    WatchChanged,
    backoff_delay,
)
from bidi_tui.model import ErrorKind, ProbeError, ProbeResult, State
from bidi_tui.probe import HeldConnection
from bidi_tui.settings import Settings
from tests.clocks import ManualClock

T0 = datetime(2025, 1, 1, tzinfo=UTC)
# How long a test waits for something that should happen at once: generous, since a
# loaded 2-core CI machine may stall the loop for a while. Only failures wait this long.
PATIENCE = 5.0


def ep(spec: str, **options: object) -> Endpoint:
    (endpoint,) = parse_spec(spec, **options)  # type: ignore[arg-type]
    return endpoint


def endpoints(count: int, **options: object) -> list[Endpoint]:
    return [ep(f"e{i}=127.0.0.1:{10000 + i}", **options) for i in range(count)]


class FixedRng(random.Random):
    """``uniform(a, b)`` always gives the point ``fraction`` of the way from a to b."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


@dataclass
class Call:
    name: str
    started: float
    index: int


class FakeProbe:
    """A probe that answers by script and records calls and concurrency."""

    def __init__(self, duration: float = 0.0) -> None:
        self.duration = duration
        self.calls: list[Call] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.per_name: Counter[str] = Counter()
        self.max_per_name = 0
        self.cancelled: list[str] = []
        self.states: dict[str, State] = {}
        self.gate: asyncio.Event | None = None  # when set, calls wait for it
        self.engine: Engine | None = None
        self.max_engine_in_flight = 0
        self.fail: Callable[[str, int], BaseException | None] = lambda name, index: None
        self._index = 0

    def count(self, name: str) -> int:
        return sum(1 for call in self.calls if call.name == name)

    async def __call__(
        self, endpoint: Endpoint, timeout: float, held: HeldConnection | None = None
    ) -> ProbeResult:
        index = self._index
        self._index += 1
        name = endpoint.name
        self.calls.append(Call(name, time.monotonic(), index))
        self.in_flight += 1
        self.per_name[name] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.max_per_name = max(self.max_per_name, self.per_name[name])
        if self.engine is not None:
            self.max_engine_in_flight = max(self.max_engine_in_flight, self.engine.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.duration)
            error = self.fail(name, index)
            if error is not None:
                raise error
        except asyncio.CancelledError:
            self.cancelled.append(name)
            raise
        finally:
            self.in_flight -= 1
            self.per_name[name] -= 1
        return make_result(
            endpoint, self.states.get(name, State.READY), at=T0 + timedelta(seconds=index)
        )


def make_result(endpoint: Endpoint, state: State, *, at: datetime = T0) -> ProbeResult:
    if state is State.ERROR:
        return ProbeResult(
            endpoint=endpoint,
            state=state,
            checked_at=at,
            elapsed_ms=1.0,
            error=ProbeError(ErrorKind.REFUSED, "connection refused"),
        )
    return ProbeResult(
        endpoint=endpoint,
        state=state,
        checked_at=at,
        elapsed_ms=2.0,
        ready=state is State.READY,
        message="" if state is State.READY else "Session already started",
        latency_ms=2.0,
    )


class Recorder:
    """A listener that keeps every event and the delay each check was scheduled after."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.events: list[EngineEvent] = []
        self.scheduled: dict[str, list[float]] = {}
        self.since: dict[str, list[datetime | None]] = {}

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)
        assert self.engine is not None
        if isinstance(event, CheckStarted):
            watch = self.engine.watch(event.name)
            if watch.last_finished_at is not None:
                delay = watch.next_due - watch.last_finished_at
                self.scheduled.setdefault(event.name, []).append(delay)
        elif isinstance(event, CheckFinished):
            watch = self.engine.watch(event.name)
            self.since.setdefault(event.name, []).append(watch.state_since)

    def started(self, name: str) -> int:
        return sum(1 for e in self.events if isinstance(e, CheckStarted) and e.name == name)

    def finished(self, name: str | None = None) -> list[CheckFinished]:
        return [
            e
            for e in self.events
            if isinstance(e, CheckFinished) and (name is None or e.name == name)
        ]

    def changed(self) -> list[str]:
        return [e.name for e in self.events if isinstance(e, WatchChanged)]


def make_engine(
    eps: list[Endpoint], probe: FakeProbe | None = None, **options: object
) -> tuple[Engine, FakeProbe, Recorder]:
    probe = probe or FakeProbe()
    recorder = Recorder()
    options.setdefault("jitter", 0.0)
    options.setdefault("rng", FixedRng(0.0))
    settings = Settings(
        default_interval=float(options.pop("interval", 5.0)),  # type: ignore[arg-type]
        default_timeout=float(options.pop("timeout", 5.0)),  # type: ignore[arg-type]
    )
    engine = Engine(eps, listeners=[recorder], probe_function=probe, settings=settings, **options)  # type: ignore[arg-type]
    recorder.engine = engine
    probe.engine = engine
    return engine, probe, recorder


@asynccontextmanager
async def running(engine: Engine) -> AsyncIterator[Engine]:
    engine.start()
    try:
        yield engine
    finally:
        await asyncio.wait_for(engine.stop(), PATIENCE)


async def wait_until(predicate: Callable[[], bool], timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.002)


# --- backoff_delay ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "expected"),
    [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 32.0), (7, 60.0), (100, 60.0)],
)
def test_backoff_doubles_per_error_after_the_first_and_is_capped(
    errors: int, expected: float
) -> None:
    assert backoff_delay(1.0, errors) == expected
    assert MAX_BACKOFF == 60.0


def test_backoff_with_a_custom_cap_and_huge_counts() -> None:
    assert backoff_delay(5.0, 3, cap=12.0) == 12.0
    assert backoff_delay(5.0, 10**9, cap=12.0) == 12.0  # no overflow
    assert backoff_delay(0.5, 2, cap=12.0) == 1.0


def test_backoff_never_shortens_an_interval_longer_than_the_cap() -> None:
    assert backoff_delay(120.0, 1) == 120.0
    assert backoff_delay(120.0, 5) == 120.0


# --- scheduling ---------------------------------------------------------------------------


async def test_interval_is_respected() -> None:
    interval = 0.05
    engine, probe, recorder = make_engine([ep("a=h:1")], interval=interval)
    async with running(engine):
        await wait_until(lambda: probe.count("a") >= 6)
    starts = [c.started for c in probe.calls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= interval - 1e-6 for gap in gaps), gaps
    assert recorder.scheduled["a"] == pytest.approx([interval] * (len(starts) - 1), abs=2e-3)


async def test_interval_count_over_a_window() -> None:
    interval = 0.05
    engine, probe, _ = make_engine([ep("a=h:1")], interval=interval)
    async with running(engine):
        window_start = time.monotonic()
        await asyncio.sleep(0.6)
        window = time.monotonic() - window_start
    # Never more often than the interval allows; under load perhaps fewer, but some.
    assert 2 <= probe.count("a") <= window / interval + 1


async def test_per_endpoint_interval_overrides_the_default() -> None:
    engine, probe, recorder = make_engine(
        [ep("fast=h:1", interval=0.03), ep("slow=h:2")], interval=60.0
    )
    async with running(engine):
        await wait_until(lambda: probe.count("fast") >= 4)
    assert probe.count("slow") == 1  # its first check, then nothing for a minute
    assert engine.watch("fast").interval == 0.03
    assert engine.watch("slow").interval == 60.0
    assert recorder.scheduled["fast"] == pytest.approx([0.03] * 3, abs=2e-3)


@pytest.mark.parametrize("fraction", [0.0, 1.0])
async def test_jitter_extremes(fraction: float) -> None:
    interval, jitter = 0.04, 0.5
    engine, probe, recorder = make_engine(
        [ep("a=h:1")], interval=interval, jitter=jitter, rng=FixedRng(fraction)
    )
    async with running(engine):
        await wait_until(lambda: probe.count("a") >= 4)
    expected = interval * (1 - jitter + 2 * jitter * fraction)
    assert recorder.scheduled["a"][:3] == pytest.approx([expected] * 3, abs=2e-3)


async def test_jitter_stays_within_bounds_and_varies() -> None:
    interval, jitter = 0.04, 0.5
    engine, probe, recorder = make_engine(
        [ep("a=h:1"), ep("b=h:2")], interval=interval, jitter=jitter, rng=random.Random(7)
    )
    async with running(engine):
        await wait_until(lambda: probe.count("a") >= 10 and probe.count("b") >= 10)
    delays = recorder.scheduled["a"] + recorder.scheduled["b"]
    low, high = interval * (1 - jitter), interval * (1 + jitter)
    assert all(low - 1e-6 <= d <= high + 2e-3 for d in delays), delays
    assert max(delays) - min(delays) > interval * jitter / 2  # it really jitters
    # Wall-clock gaps can only be longer than scheduled, never shorter.
    for name in ("a", "b"):
        starts = [c.started for c in probe.calls if c.name == name]
        assert all(b - a >= low - 1e-6 for a, b in itertools.pairwise(starts))


async def test_first_round_is_spread_but_quick() -> None:
    eps = endpoints(50)
    engine, probe, _ = make_engine(eps, interval=30.0, rng=random.Random(3))
    before = time.monotonic()
    engine.start()
    try:
        dues = [engine.watch(e.name).next_due - before for e in eps]
        assert all(-1e-3 <= due <= FIRST_ROUND_SPREAD + 0.05 for due in dues)
        assert max(dues) - min(dues) > FIRST_ROUND_SPREAD / 4  # not all at once
        await wait_until(lambda: len(probe.calls) == len(eps))
    finally:
        await engine.stop()


async def test_first_round_spread_never_exceeds_a_short_interval() -> None:
    eps = endpoints(20)
    engine, _, _ = make_engine(eps, interval=0.2, rng=random.Random(3))
    before = time.monotonic()
    engine.start()
    try:
        assert all(engine.watch(e.name).next_due - before <= 0.2 + 0.05 for e in eps)
    finally:
        await engine.stop()


async def test_concurrency_cap() -> None:
    probe = FakeProbe(duration=0.03)
    engine, probe, _ = make_engine(endpoints(12), probe, interval=0.02, concurrency=3)
    async with running(engine):
        await wait_until(lambda: len(probe.calls) >= 30)
    assert probe.max_in_flight == 3
    assert probe.max_engine_in_flight <= 3
    assert {c.name for c in probe.calls} == {f"e{i}" for i in range(12)}  # nobody starves
    assert engine.in_flight == 0


async def test_never_two_checks_of_one_endpoint_at_once() -> None:
    rng = random.Random(5)
    probe = FakeProbe()
    engine, probe, _ = make_engine(endpoints(3), probe, interval=0.005)

    async def hammer() -> None:
        while True:
            probe.duration = rng.uniform(0.0, 0.02)
            engine.recheck(f"e{rng.randrange(3)}")
            if rng.random() < 0.2:
                engine.recheck_all()
            await asyncio.sleep(rng.uniform(0.0, 0.004))

    async with running(engine):
        task = asyncio.create_task(hammer())
        try:
            await wait_until(lambda: len(probe.calls) >= 60)
        finally:
            task.cancel()
    assert probe.max_per_name == 1
    assert probe.max_in_flight >= 2  # different endpoints did overlap


# --- backoff and its resets -----------------------------------------------------------------


async def test_errors_back_off_exponentially_capped_and_success_resets() -> None:
    interval, cap = 0.02, 0.16
    probe = FakeProbe()
    probe.states["a"] = State.ERROR
    engine, probe, recorder = make_engine([ep("a=h:1")], probe, interval=interval, max_backoff=cap)

    def switch_to_ready_after_six(event: EngineEvent) -> None:
        recorder(event)
        if isinstance(event, CheckFinished) and len(recorder.finished("a")) == 6:
            probe.states["a"] = State.READY

    engine.unsubscribe(recorder)
    engine.subscribe(switch_to_ready_after_six)
    async with running(engine):
        await wait_until(lambda: probe.count("a") >= 9)
    # After 1, 2, 3 ... errors in a row; then after successes.
    assert recorder.scheduled["a"][:8] == pytest.approx(
        [0.02, 0.04, 0.08, 0.16, 0.16, 0.16, 0.02, 0.02], abs=3e-3
    )
    assert [e.result.state for e in recorder.finished("a")][:7] == [State.ERROR] * 6 + [State.READY]
    assert engine.watch("a").consecutive_errors == 0


async def test_manual_recheck_resets_the_backoff() -> None:
    interval = 0.03
    probe = FakeProbe()
    probe.states["a"] = State.ERROR
    engine, probe, recorder = make_engine([ep("a=h:1")], probe, interval=interval)
    async with running(engine):
        await wait_until(lambda: engine.watch("a").consecutive_errors >= 4)
        count = probe.count("a")
        # The next check is due in interval * 8 = 0.24 s; a recheck runs it now.
        engine.recheck("a")
        assert engine.watch("a").consecutive_errors == 0
        await wait_until(lambda: probe.count("a") >= count + 2)
    scheduled = recorder.scheduled["a"]
    assert scheduled[:3] == pytest.approx([0.03, 0.06, 0.12], abs=3e-3)
    # After the rechecked check (an error again, the first in a row): the plain interval.
    assert scheduled[count] == pytest.approx(interval, abs=3e-3)


# --- recheck, pause, resume ---------------------------------------------------------------


async def test_recheck_runs_now_even_mid_wait() -> None:
    engine, probe, _ = make_engine([ep("a=h:1"), ep("b=h:2")], interval=60.0)
    async with running(engine):
        await wait_until(lambda: probe.count("a") == 1 and probe.count("b") == 1)
        asked = time.monotonic()
        engine.recheck("a")
        await wait_until(lambda: probe.count("a") == 2)
        took = time.monotonic() - asked
        assert probe.count("b") == 1  # only the one asked for
        engine.recheck_all()
        await wait_until(lambda: probe.count("a") == 3 and probe.count("b") == 2)
    # With a 60 s interval, any second check is the recheck's; it came at once.
    assert took < 2.0


async def test_recheck_during_a_check_does_not_start_a_second_one() -> None:
    probe = FakeProbe()
    probe.gate = asyncio.Event()
    engine, probe, _ = make_engine([ep("a=h:1")], probe, interval=60.0)
    async with running(engine):
        await wait_until(lambda: probe.in_flight == 1)
        assert engine.watch("a").activity is Activity.CHECKING
        engine.recheck("a")
        engine.recheck("a")
        await asyncio.sleep(0.05)
        assert probe.count("a") == 1
        probe.gate.set()
        await wait_until(lambda: engine.watch("a").checks == 1)
        assert engine.watch("a").activity is Activity.WAITING
    assert probe.max_per_name == 1


async def test_paused_endpoint_gets_no_checks() -> None:
    engine, probe, recorder = make_engine([ep("a=h:1"), ep("b=h:2")], interval=0.01)
    async with running(engine):
        await wait_until(lambda: probe.count("a") >= 2)
        engine.set_paused("a", True)
        assert engine.watch("a").paused
        assert recorder.changed() == ["a"]
        started = recorder.started("a")
        b_count = probe.count("b")
        await wait_until(lambda: probe.count("b") >= b_count + 10)
        assert recorder.started("a") == started
        engine.recheck("a")  # a recheck does not wake a paused endpoint
        await wait_until(lambda: probe.count("b") >= b_count + 15)
        assert recorder.started("a") == started
        assert engine.watch("a").activity is Activity.PAUSED


async def test_resume_checks_soon() -> None:
    engine, probe, recorder = make_engine([ep("a=h:1")], interval=60.0)
    async with running(engine):
        await wait_until(lambda: probe.count("a") == 1)
        engine.set_paused("a", True)
        engine.set_paused("a", True)  # no change, no event
        engine.set_paused("a", False)
        await wait_until(lambda: probe.count("a") == 2, timeout=2.0)
        assert recorder.changed() == ["a", "a"]
        assert not engine.watch("a").paused


async def test_pausing_mid_check_lets_it_finish_and_stays_paused() -> None:
    probe = FakeProbe()
    probe.gate = asyncio.Event()
    engine, probe, recorder = make_engine([ep("a=h:1")], probe, interval=0.01)
    async with running(engine):
        await wait_until(lambda: probe.in_flight == 1)
        engine.set_paused("a", True)
        probe.gate.set()
        await wait_until(lambda: engine.watch("a").checks == 1)
        await asyncio.sleep(0.1)
        assert probe.count("a") == 1
        assert engine.watch("a").activity is Activity.PAUSED
        assert len(recorder.finished("a")) == 1


async def test_disabled_endpoints_start_paused() -> None:
    engine, probe, _ = make_engine([ep("off=h:1", enabled=False), ep("on=h:2")], interval=0.01)
    async with running(engine):
        assert engine.watch("off").paused
        await wait_until(lambda: probe.count("on") >= 5)
        assert probe.count("off") == 0
        engine.set_paused("off", False)
        await wait_until(lambda: probe.count("off") >= 1)


# --- edits at runtime ---------------------------------------------------------------------


async def test_add_at_runtime() -> None:
    engine, probe, recorder = make_engine([ep("a=h:1")], interval=60.0)
    engine.add(ep("early=h:9"))  # before start: checked once started
    assert recorder.changed() == ["early"]
    await asyncio.sleep(0.02)
    assert probe.calls == []
    async with running(engine):
        await wait_until(lambda: probe.count("a") == 1 and probe.count("early") == 1)
        engine.add(ep("b=h:2"))
        await wait_until(lambda: probe.count("b") == 1)
        with pytest.raises(ValueError, match="watched already"):
            engine.add(ep("b=h:3"))
    assert recorder.changed() == ["early", "b"]
    assert list(engine.watches) == ["a", "early", "b"]


async def test_remove_at_runtime_cancels_a_running_check() -> None:
    probe = FakeProbe()
    probe.gate = asyncio.Event()
    engine, probe, recorder = make_engine([ep("a=h:1"), ep("b=h:2")], probe, interval=0.01)
    async with running(engine):
        await wait_until(lambda: probe.per_name["a"] == 1)
        engine.remove("a")
        assert "a" not in engine.watches
        assert recorder.changed() == ["a"]
        await wait_until(lambda: probe.cancelled == ["a"])
        probe.gate.set()
        b_count = probe.count("b")
        await wait_until(lambda: probe.count("b") >= b_count + 5)
        assert probe.count("a") == 1
        assert recorder.finished("a") == []
        with pytest.raises(KeyError):
            engine.remove("a")
    assert engine.in_flight == 0


async def test_remove_a_waiting_endpoint() -> None:
    engine, probe, _ = make_engine([ep("a=h:1"), ep("b=h:2")], interval=0.01)
    async with running(engine):
        await wait_until(lambda: probe.count("a") >= 2)
        engine.remove("a")
        count = probe.count("a")
        b_count = probe.count("b")
        await wait_until(lambda: probe.count("b") >= b_count + 5)
        assert probe.count("a") == count


async def test_replace_with_options_changed_keeps_history() -> None:
    engine, probe, _ = make_engine([ep("a=127.0.0.1:1")], interval=60.0)
    async with running(engine):
        await wait_until(lambda: engine.watch("a").checks == 1)
        old = engine.watch("a")
        last, since, history = old.last, old.state_since, list(old.history)
        engine.replace("a", ep("a=127.0.0.1:1", interval=0.02, tags=("x",)))
        new = engine.watch("a")
        assert new is not old
        assert new.interval == 0.02
        assert new.last is last and new.state_since == since
        assert list(new.history) == history
        await wait_until(lambda: probe.count("a") >= 3)  # on the new interval


async def test_replace_with_a_new_url_starts_afresh() -> None:
    engine, probe, _ = make_engine([ep("a=127.0.0.1:1")], interval=60.0)
    async with running(engine):
        await wait_until(lambda: engine.watch("a").checks == 1)
        engine.replace("a", ep("a=127.0.0.1:2"))
        assert engine.watch("a").last is None
        assert list(engine.watch("a").history) == []
        await wait_until(lambda: engine.watch("a").checks == 1)
        assert probe.calls[-1].name == "a"


async def test_replace_with_a_rename() -> None:
    engine, probe, recorder = make_engine([ep("a=127.0.0.1:1"), ep("z=h:9")], interval=60.0)
    async with running(engine):
        await wait_until(lambda: engine.watch("a").checks == 1)
        history = list(engine.watch("a").history)
        engine.replace("a", ep("renamed=127.0.0.1:1"))
        assert "a" not in engine.watches
        assert list(engine.watch("renamed").history) == history
        await wait_until(lambda: probe.count("renamed") == 1)
    assert recorder.changed() == ["a", "renamed"]


async def test_replace_keeps_pause_and_honours_disabled() -> None:
    engine, probe, _ = make_engine([ep("a=h:1"), ep("b=h:2")], interval=0.01)
    async with running(engine):
        engine.set_paused("a", True)
        engine.replace("a", ep("a=h:1", timeout=2.0))
        assert engine.watch("a").paused
        engine.replace("b", ep("b=h:2", enabled=False))
        assert engine.watch("b").paused
        count = len(probe.calls)
        await asyncio.sleep(0.1)
        assert len(probe.calls) == count


async def test_replace_to_a_name_already_watched_is_refused() -> None:
    engine, probe, _ = make_engine([ep("a=h:1"), ep("b=h:2")], interval=60.0)
    async with running(engine):
        await wait_until(lambda: len(probe.calls) == 2)
        b = engine.watch("b")
        with pytest.raises(ValueError):
            engine.replace("a", ep("b=h:3"))
        assert engine.watch("b") is b
        assert "a" in engine.watches


# --- results: history, state_since, changed ----------------------------------------------


async def test_history_is_bounded() -> None:
    engine, _, _ = make_engine([ep("a=h:1")], interval=0.001)
    async with running(engine):
        await wait_until(lambda: engine.watch("a").checks >= HISTORY_LENGTH + 5)
    watch = engine.watch("a")
    history = list(watch.history)
    assert len(history) == HISTORY_LENGTH
    # The newest results, in order.
    assert watch.last is not None
    assert history[-1].checked_at == watch.last.checked_at
    assert [h.checked_at for h in history] == [
        T0 + timedelta(seconds=i) for i in range(watch.checks - HISTORY_LENGTH, watch.checks)
    ]
    assert engine.stats.checks_finished == watch.checks


async def test_state_since_changes_only_with_the_state_and_changed_flag() -> None:
    script = [
        State.READY,
        State.READY,
        State.NOT_READY,
        State.NOT_READY,
        State.ERROR,
        State.READY,
        State.READY,
    ]

    class Scripted(FakeProbe):
        async def __call__(
            self, endpoint: Endpoint, timeout: float, held: HeldConnection | None = None
        ) -> ProbeResult:
            index = len(self.calls)
            if index >= len(script):
                await asyncio.Event().wait()  # no more answers
            self.states[endpoint.name] = script[index]
            return await super().__call__(endpoint, timeout)

    engine, _, recorder = make_engine([ep("a=h:1")], Scripted(), interval=0.005)
    async with running(engine):
        await wait_until(lambda: len(recorder.finished("a")) == len(script))
    finished = recorder.finished("a")
    at = [T0 + timedelta(seconds=i) for i in range(len(script))]
    assert [e.result.state for e in finished] == script
    assert [e.previous_state for e in finished] == [None, *script[:-1]]
    assert [e.changed for e in finished] == [False, False, True, False, True, True, False]
    assert recorder.since["a"] == [at[0], at[0], at[2], at[2], at[4], at[5], at[5]]
    entries = list(engine.watch("a").history)
    assert [h.state for h in entries] == script
    assert [h.error_kind for h in entries] == [
        ErrorKind.REFUSED if s is State.ERROR else None for s in script
    ]
    assert entries[4].summary == "connection refused"
    assert entries[2].summary == "Session already started"


@pytest.mark.parametrize(
    ("previous", "current", "changed"),
    [
        (None, State.READY, False),
        (None, State.ERROR, False),
        (State.READY, State.READY, False),
        (State.READY, State.NOT_READY, True),
        (State.ERROR, State.READY, True),
    ],
)
def test_check_finished_changed(previous: State | None, current: State, changed: bool) -> None:
    event = CheckFinished("a", make_result(ep("a=h:1"), current), previous)
    assert event.changed is changed


async def test_stale_watch_once_checks_stop_arriving() -> None:
    probe = FakeProbe()
    engine, probe, _ = make_engine([ep("a=h:1")], probe, interval=0.05)
    async with running(engine):
        await wait_until(lambda: engine.watch("a").checks == 1)
        probe.gate = asyncio.Event()  # the next check hangs
        watch = engine.watch("a")
        assert not watch.is_stale(engine.now())
        await wait_until(lambda: watch.is_stale(engine.now()))
        assert watch.activity is Activity.CHECKING


# --- stop ---------------------------------------------------------------------------------


async def test_stop_cancels_every_check_promptly() -> None:
    probe = FakeProbe()
    probe.gate = asyncio.Event()  # never set: every check hangs
    engine, probe, _ = make_engine(endpoints(20), probe, interval=0.01)
    engine.start()
    await wait_until(lambda: probe.in_flight == 20)
    began = time.monotonic()
    await asyncio.wait_for(engine.stop(), PATIENCE)
    took = time.monotonic() - began
    assert sorted(probe.cancelled) == sorted(f"e{i}" for i in range(20))
    assert engine.in_flight == 0
    assert took < 1.0
    count = len(probe.calls)
    await asyncio.sleep(0.05)
    assert len(probe.calls) == count
    await engine.stop()  # twice is fine


async def test_stop_while_waiting_is_prompt() -> None:
    engine, probe, _ = make_engine(endpoints(5), interval=60.0)
    engine.start()
    await wait_until(lambda: len(probe.calls) == 5)
    began = time.monotonic()
    await asyncio.wait_for(engine.stop(), PATIENCE)
    assert time.monotonic() - began < 1.0
    assert probe.cancelled == []


async def test_a_probe_that_raises_does_not_stop_polling() -> None:
    probe = FakeProbe()
    probe.fail = lambda name, index: RuntimeError("probe bug") if index == 0 else None
    engine, probe, _ = make_engine([ep("a=h:1")], probe, interval=0.01)
    engine.start()
    try:
        await wait_until(lambda: probe.count("a") >= 3, timeout=0.5)
        assert engine.watch("a").state is State.READY
    finally:
        await engine.stop()


# --- against the demo farm ------------------------------------------------------------------


async def test_engine_against_the_demo_farm() -> None:
    async with DemoFarm.start(seed=11) as farm:
        kinds = farm.kinds
        for name, kind in kinds.items():
            if kind in (Kind.FIREFOX_BUSY, Kind.CHROME_BUSY, Kind.FLAPPING):
                farm.set_busy(name, False)
        recorder = Recorder()
        engine = Engine(
            farm.endpoints,
            listeners=[recorder],
            rng=FixedRng(0.0),
            settings=Settings(default_interval=0.3, default_timeout=0.5),
        )
        recorder.engine = engine
        async with running(engine):
            await wait_until(lambda: all(w.checks >= 1 for w in engine.watches.values()))
            states = {name: w.state for name, w in engine.watches.items()}
            errors = {
                name: w.last.error.kind
                for name, w in engine.watches.items()
                if w.last is not None and w.last.error is not None
            }
            (busy,) = [n for n, k in kinds.items() if k is Kind.FIREFOX_BUSY]
            farm.set_busy(busy, True)
            engine.recheck(busy)
            await wait_until(lambda: engine.watch(busy).state is State.NOT_READY)
        assert engine.in_flight == 0

    expected_errors = {
        Kind.HANG: ErrorKind.TIMEOUT,
        Kind.REFUSED: ErrorKind.REFUSED,
        Kind.CDP: ErrorKind.NOT_BIDI,
        Kind.WRONG_PATH: ErrorKind.HTTP_STATUS,
    }
    for name, kind in kinds.items():
        if kind in expected_errors:
            assert states[name] is State.ERROR, name
            assert errors[name] is expected_errors[kind], name
        else:
            assert states[name] is State.READY, name
    change = [e for e in recorder.finished(busy) if e.changed]
    assert change and change[-1].result.message == "Session already started"
    assert change[-1].previous_state is State.READY
    assert engine.watch(busy).consecutive_errors == 0


async def test_stop_mid_check_against_a_hanging_server_is_prompt() -> None:
    async with DemoFarm.start(seed=11) as farm:
        (hang,) = [e for e in farm.endpoints if farm.kinds[e.name] is Kind.HANG]
        engine = Engine(
            [replace(hang, name=f"hang-{i}") for i in range(5)],
            rng=FixedRng(0.0),
            settings=Settings(default_timeout=30.0),
        )
        engine.start()
        await wait_until(lambda: engine.in_flight == 5)
        await asyncio.sleep(0.1)  # connected and waiting for the answer
        began = time.monotonic()
        await asyncio.wait_for(engine.stop(), PATIENCE)
        assert time.monotonic() - began < 2.0
        assert engine.in_flight == 0
        assert all(w.checks == 0 for w in engine.watches.values())


async def test_a_big_farms_first_round_is_spread_over_more_time() -> None:
    from bidi_tui.engine import FIRST_ROUND_RATE

    endpoints = [e for i in range(2000) for e in parse_spec(f"b{i}=127.0.0.1:{1 + i}")]
    never: asyncio.Event = asyncio.Event()

    async def hang(endpoint: Endpoint, timeout: float, held: HeldConnection | None) -> ProbeResult:
        await never.wait()
        raise AssertionError("unreachable")

    engine = Engine(
        endpoints,
        probe_function=hang,
        rng=random.Random(1),
        settings=Settings(default_interval=5.0),
    )
    start = engine.now()
    engine.start()
    try:
        offsets = [w.next_due - start for w in engine.watches.values()]
        assert max(offsets) > 3.0  # 2,000 endpoints at 500/s: about 4 s, not 1 s
        assert max(offsets) <= min(5.0, 2000 / FIRST_ROUND_RATE) + 1.0  # + start-up time
    finally:
        await engine.stop(grace=0.1)


# --- the clock drives the sleeps; listeners come and go -------------------------------------


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_manual_clock_drives_the_schedule_without_real_waiting() -> None:
    clock = ManualClock()
    engine, probe, recorder = make_engine(
        [ep("a=h:1")], interval=3600.0, clock=clock, first_round_spread=0.0
    )
    began = time.monotonic()
    async with running(engine):
        await wait_until(lambda: probe.count("a") == 1)
        await settle()
        assert probe.count("a") == 1  # the next check is an hour away on the engine's clock
        clock.advance(3599.0)
        await settle()
        assert probe.count("a") == 1
        clock.advance(1.0)
        await wait_until(lambda: probe.count("a") == 2)
        for _ in range(5):
            clock.advance(3600.0)
            await settle()
        await wait_until(lambda: probe.count("a") == 7)
    assert time.monotonic() - began < PATIENCE  # seven hours of schedule, not seven hours
    assert recorder.scheduled["a"] == [3600.0] * 6


async def test_listeners_subscribe_and_unsubscribe_and_a_failing_one_harms_no_other() -> None:
    clock = ManualClock()
    engine, probe, first = make_engine(
        [ep("a=h:1")], interval=10.0, clock=clock, first_round_spread=0.0
    )
    second: list[EngineEvent] = []

    def broken(event: EngineEvent) -> None:
        raise RuntimeError("a consumer with a bug")

    engine.subscribe(broken)
    engine.subscribe(second.append)
    async with running(engine):
        await wait_until(lambda: len(first.finished("a")) == 1)
        assert [type(e) for e in second] == [CheckStarted, CheckFinished]
        engine.unsubscribe(second.append)
        clock.advance(10.0)
        await wait_until(lambda: len(first.finished("a")) == 2)
    assert len(second) == 2  # nothing after it unsubscribed
    assert probe.count("a") == 2  # the broken listener stopped no check
