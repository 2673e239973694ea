"""A clock for the engine that moves only when a test says so."""

from __future__ import annotations

import asyncio


class ManualClock:
    """Virtual time: ``advance()`` moves it and wakes every wait whose delay has passed."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.time

    async def wait(self, event: asyncio.Event, delay: float) -> None:
        timer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.time + delay, timer))
        woken = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait((timer, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            timer.cancel()
            self._sleepers = [(at, f) for at, f in self._sleepers if f is not timer]

    @property
    def sleepers(self) -> int:
        return len(self._sleepers)

    def advance(self, seconds: float) -> None:
        self.time += seconds
        for at, timer in self._sleepers:
            if at <= self.time and not timer.done():
                timer.set_result(None)
