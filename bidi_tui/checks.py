"""Checking many endpoints at once, for the one-shot command and the benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bidi_tui.endpoints import Endpoint
from bidi_tui.model import ProbeResult, State
from bidi_tui.probe import probe
from bidi_tui.settings import Settings

DEFAULT_CONCURRENCY = 256


async def check_all(
    endpoints: Sequence[Endpoint],
    *,
    settings: Settings | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    proxy: str | None = None,
) -> list[ProbeResult]:
    """Probe every endpoint concurrently (at most ``concurrency`` in flight), each with the
    timeout ``settings`` gives it. Results come back in input order."""
    settings = settings or Settings()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, endpoint: Endpoint) -> ProbeResult:
        async with gate:
            return await probe(
                endpoint, timeout=settings.timeout(endpoint), request_id=1, proxy=proxy
            )

    return list(await asyncio.gather(*(one(i, e) for i, e in enumerate(endpoints))))


def exit_code(results: Sequence[ProbeResult]) -> int:
    """Monitoring-plugin exit status: 0 all ready, 1 some not ready, 2 some error."""
    states = {result.state for result in results}
    if State.ERROR in states:
        return 2
    if State.NOT_READY in states:
        return 1
    return 0
