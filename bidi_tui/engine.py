"""The polling engine: checks every endpoint on its interval, never two at once per endpoint.

It runs on the caller's asyncio loop and knows nothing of the UI: any number of listeners
(the dashboard, ``serve``'s exporter, a log stream) subscribe to its events, and it keeps a
:class:`Watch` per endpoint that they read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from bidi_tui.endpoints import Endpoint
from bidi_tui.limits import plan_descriptors
from bidi_tui.model import ErrorKind, ProbeError, ProbeResult, State
from bidi_tui.probe import HeldConnection, probe
from bidi_tui.settings import Settings

_log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 128
DEFAULT_JITTER = 0.1
MAX_BACKOFF = 60.0
HISTORY_LENGTH = 60
# The first round is spread over this many seconds (at most one interval) so a farm
# is not hit all at once, yet the table fills quickly.
FIRST_ROUND_SPREAD = 1.0
FIRST_ROUND_RATE = 500.0  # first checks per second a big farm starts at

# (endpoint, timeout, the endpoint's held connection in reuse mode, else None)
ProbeFunction = Callable[[Endpoint, float, HeldConnection | None], Awaitable[ProbeResult]]


class Clock(Protocol):
    """The engine's time: what it reads and what it sleeps on, so tests can drive both."""

    def now(self) -> float: ...

    async def wait(self, event: asyncio.Event, delay: float) -> None:
        """Return when ``event`` is set or ``delay`` seconds have passed, whichever is first."""


class MonotonicClock:
    """Real time: ``time.monotonic`` and asyncio's timers."""

    def now(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await event.wait()


class Activity(StrEnum):
    WAITING = "waiting"
    CHECKING = "checking"
    PAUSED = "paused"


@dataclass(frozen=True)
class HistoryEntry:
    """A compact record of one past check, for sparklines and the detail view."""

    checked_at: datetime
    state: State
    latency_ms: float | None
    summary: str
    error_kind: ErrorKind | None


@dataclass
class Watch:
    """What the engine knows of one endpoint."""

    endpoint: Endpoint
    interval: float
    timeout: float
    last: ProbeResult | None = None
    state_since: datetime | None = None
    last_finished_at: float | None = None  # engine clock
    activity: Activity = Activity.WAITING
    consecutive_errors: int = 0
    next_due: float = 0.0
    history: deque[HistoryEntry] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))
    checks: int = 0
    # The state and since-when a history from before a restart knows: a first result in
    # that state keeps that "since" (see Engine.remember_states).
    remembered: tuple[State, datetime] | None = None

    @property
    def state(self) -> State | None:
        return None if self.last is None else self.last.state

    @property
    def paused(self) -> bool:
        return self.activity is Activity.PAUSED

    def is_stale(self, now: float) -> bool:
        """No finished check for more than two intervals, and an interval past the next
        one's due time (so backing off after errors is not a stall), while not paused."""
        if self.paused or self.last_finished_at is None:
            return False
        return now - self.last_finished_at > 2 * self.interval and (
            now - self.next_due > self.interval
        )


@dataclass(frozen=True)
class CheckStarted:
    name: str


@dataclass(frozen=True)
class CheckFinished:
    name: str
    result: ProbeResult
    previous_state: State | None

    @property
    def changed(self) -> bool:
        return self.previous_state is not None and self.previous_state != self.result.state


@dataclass(frozen=True)
class WatchChanged:
    """Paused, resumed, added, edited or removed: the row needs redrawing."""

    name: str


EngineEvent = CheckStarted | CheckFinished | WatchChanged
# Called on the engine's loop for every event; it must not block (record, then return).
Listener = Callable[[EngineEvent], None]


@dataclass
class EngineStats:
    checks_started: int = 0
    checks_finished: int = 0
    max_lateness: float = 0.0


def backoff_delay(interval: float, consecutive_errors: int, cap: float = MAX_BACKOFF) -> float:
    """Interval after ``consecutive_errors`` errors in a row: doubles, capped at ``cap``."""
    if consecutive_errors <= 1:
        return interval
    doubled: float = interval * 2.0 ** min(consecutive_errors - 1, 32)
    return min(doubled, max(cap, interval))


class Engine:
    """Schedules checks for a set of endpoints on the running asyncio loop."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint] = (),
        *,
        settings: Settings | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        jitter: float = DEFAULT_JITTER,
        max_backoff: float = MAX_BACKOFF,
        listeners: Iterable[Listener] = (),
        probe_function: ProbeFunction | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        first_round_spread: float = FIRST_ROUND_SPREAD,
    ) -> None:
        self.settings = settings or Settings()
        self.jitter = jitter
        self.max_backoff = max_backoff
        self.first_round_spread = first_round_spread
        # Keep one connection per endpoint open between checks (HeldConnection).
        self.reuse_connections = self.settings.reuse_connections
        self._listeners: list[Listener] = list(listeners)
        self.clock: Clock = clock or MonotonicClock()
        self.stats = EngineStats()
        self._probe = probe_function or default_probe
        self._rng = rng or random.Random()
        self.concurrency = max(1, concurrency)
        self._gate = asyncio.Semaphore(self.concurrency)
        self._held_slots = 0  # connections reuse mode may still hold (see start)
        # Said once when the open-file limit cut checks in flight or held connections.
        self.descriptor_warning: str | None = None
        self._watches: dict[str, Watch] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False
        self.in_flight = 0
        for endpoint in endpoints:
            self._add_watch(endpoint)

    # --- reading -------------------------------------------------------------------------

    @property
    def watches(self) -> dict[str, Watch]:
        return self._watches

    def watch(self, name: str) -> Watch:
        return self._watches[name]

    def now(self) -> float:
        """The engine clock's reading, the time base of ``Watch.next_due`` and staleness."""
        return self.clock.now()

    # --- listeners ------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every event from now on."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start checking every endpoint (needs a running loop), with checks in flight and
        held connections capped below the open-file limit."""
        plan = plan_descriptors(
            self.concurrency, endpoints=len(self._watches), reuse=self.reuse_connections
        )
        self._gate = asyncio.Semaphore(plan.concurrency)
        self._held_slots = plan.held
        self.descriptor_warning = plan.warning
        self._running = True
        for name in self._watches:
            self._spawn(name, first=True)

    async def stop(self, grace: float | None = None) -> None:
        """Cancel every check and wait until all connections are closed.

        A cancelled check still closes its connection politely; with ``grace``, one still
        closing after that many seconds (a server that never answers the closing
        handshake) is cancelled again, which aborts its connection.
        """
        self._running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- commands -------------------------------------------------------------------------

    def recheck(self, name: str) -> None:
        """Check ``name`` now (unless it is being checked), resetting its backoff."""
        watch = self._watches[name]
        watch.consecutive_errors = 0
        if watch.paused:
            return
        watch.next_due = self.clock.now()
        self._wakeups[name].set()

    def recheck_all(self) -> None:
        for name in self._watches:
            self.recheck(name)

    def set_paused(self, name: str, paused: bool) -> None:
        watch = self._watches[name]
        if paused == watch.paused:
            return
        if paused:
            # A check already running still finishes and reports its result.
            watch.activity = Activity.PAUSED
        else:
            watch.activity = Activity.WAITING
            watch.next_due = self.clock.now()
        self._wakeups[name].set()
        self._emit(WatchChanged(name))

    def add(self, endpoint: Endpoint) -> None:
        if endpoint.name in self._watches:
            raise ValueError(f"an endpoint named {endpoint.name!r} is watched already")
        self._add_watch(endpoint)
        if self._running:
            self._spawn(endpoint.name, first=True)
        self._emit(WatchChanged(endpoint.name))

    def remove(self, name: str) -> None:
        self._watches.pop(name)
        self._wakeups.pop(name)
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
        self._emit(WatchChanged(name))

    def replace(self, old_name: str, endpoint: Endpoint) -> None:
        """Swap in an edited endpoint; history is kept when only options changed."""
        old = self._watches[old_name]
        if endpoint.name != old_name and endpoint.name in self._watches:
            raise ValueError(f"an endpoint named {endpoint.name!r} is watched already")
        paused = old.paused
        self.remove(old_name)
        self._add_watch(endpoint)
        new = self._watches[endpoint.name]
        if old.endpoint.url == endpoint.url:
            new.last, new.state_since, new.history = old.last, old.state_since, old.history
            new.last_finished_at = old.last_finished_at
        if paused or not endpoint.enabled:
            new.activity = Activity.PAUSED
        if self._running:
            self._spawn(endpoint.name, first=True)
        self._emit(WatchChanged(endpoint.name))

    def remember_states(self, states: Mapping[str, tuple[State, datetime]]) -> None:
        """States known from an earlier run: an endpoint whose first result is in the same
        state has been in it since then, not since now."""
        for name, known in states.items():
            watch = self._watches.get(name)
            if watch is not None and watch.last is None:
                watch.remembered = known

    def record_result(self, name: str, result: ProbeResult) -> None:
        """Take a result obtained elsewhere (a replay, a screenshot scene) as a finished check."""
        self._record(self._watches[name], result)

    # --- internals ------------------------------------------------------------------------

    def _add_watch(self, endpoint: Endpoint) -> None:
        watch = Watch(
            endpoint=endpoint,
            interval=self.settings.interval(endpoint),
            timeout=self.settings.timeout(endpoint),
        )
        if not endpoint.enabled:
            watch.activity = Activity.PAUSED
        self._watches[endpoint.name] = watch
        self._wakeups[endpoint.name] = asyncio.Event()

    def _spawn(self, name: str, *, first: bool) -> None:
        watch = self._watches[name]
        spread = 0.0
        if first and self.first_round_spread > 0:
            # A big farm's first round is spread wider, so it starts at a rate the checks
            # can keep up with instead of making every endpoint late at once.
            farm_spread = len(self._watches) / FIRST_ROUND_RATE
            spread = min(max(self.first_round_spread, farm_spread), watch.interval)
        watch.next_due = self.clock.now() + self._rng.uniform(0, spread)
        self._tasks[name] = asyncio.get_running_loop().create_task(
            self._run_endpoint(name), name=f"bidi-tui check {name}"
        )

    def _emit(self, event: EngineEvent) -> None:
        for listener in tuple(self._listeners):  # one may unsubscribe while called
            try:
                listener(event)
            except Exception:  # one broken consumer must not stop the checks or the others
                _log.exception("engine listener %r failed on %r", listener, event)

    def _next_delay(self, watch: Watch) -> float:
        base = backoff_delay(watch.interval, watch.consecutive_errors, self.max_backoff)
        return base * self._rng.uniform(1 - self.jitter, 1 + self.jitter)

    async def _run_endpoint(self, name: str) -> None:
        # In reuse mode this endpoint's connection lives as long as this loop; past the
        # open-file limit's share, endpoints connect afresh for each check.
        held = None
        if self.reuse_connections and self._held_slots > 0:
            self._held_slots -= 1
            held = HeldConnection()
        try:
            await self._check_forever(name, held)
        finally:
            if held is not None:
                self._held_slots += 1
                await held.close()

    async def _check_forever(self, name: str, held: HeldConnection | None) -> None:
        watch = self._watches[name]
        wakeup = self._wakeups[name]
        while True:
            # Wait until due, paused-and-resumed, or woken by a recheck.
            while True:
                wakeup.clear()
                if watch.paused:
                    if held is not None:
                        await held.close()  # a paused endpoint holds no connection
                    await wakeup.wait()
                    continue
                delay = watch.next_due - self.clock.now()
                if delay <= 0:
                    break
                await self.clock.wait(wakeup, delay)
            async with self._gate:
                if watch.paused:
                    continue
                started = self.clock.now()
                lateness = max(0.0, started - watch.next_due)
                self.stats.max_lateness = max(self.stats.max_lateness, lateness)
                self.stats.checks_started += 1
                watch.activity = Activity.CHECKING
                self.in_flight += 1
                self._emit(CheckStarted(name))
                try:
                    result = await self._probe(watch.endpoint, watch.timeout, held)
                except Exception as exc:  # a bug in the probe must not end this loop
                    result = _crashed(watch.endpoint, exc)
                finally:
                    self.in_flight -= 1
                    if watch.activity is Activity.CHECKING:
                        watch.activity = Activity.WAITING
            self._record(watch, result)
            watch.next_due = self.clock.now() + self._next_delay(watch)

    def _record(self, watch: Watch, result: ProbeResult) -> None:
        previous = watch.state
        watch.last = result
        watch.checks += 1
        watch.last_finished_at = self.clock.now()
        if previous != result.state or watch.state_since is None:
            remembered = watch.remembered
            kept = previous is None and remembered is not None and remembered[0] is result.state
            watch.state_since = remembered[1] if kept and remembered else result.checked_at
        watch.remembered = None
        watch.consecutive_errors = (
            watch.consecutive_errors + 1 if result.state is State.ERROR else 0
        )
        watch.history.append(
            HistoryEntry(
                checked_at=result.checked_at,
                state=result.state,
                latency_ms=result.latency_ms,
                summary=result.summary,
                error_kind=None if result.error is None else result.error.kind,
            )
        )
        self.stats.checks_finished += 1
        self._emit(CheckFinished(watch.endpoint.name, result, previous))


def _crashed(endpoint: Endpoint, exc: Exception) -> ProbeResult:
    return ProbeResult(
        endpoint=endpoint,
        state=State.ERROR,
        checked_at=datetime.now(UTC),
        elapsed_ms=0.0,
        error=ProbeError(ErrorKind.PROTOCOL, f"the check failed: {type(exc).__name__}: {exc}"),
    )


async def default_probe(
    endpoint: Endpoint, timeout: float, held: HeldConnection | None
) -> ProbeResult:
    """The real check, on the held connection when there is one."""
    return await probe(endpoint, timeout=timeout, held=held)
