"""Checking many endpoints at once, for the one-shot command and the benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bidi_tui.endpoints import Endpoint
from bidi_tui.limits import plan_descriptors
from bidi_tui.model import ProbeResult, State
from bidi_tui.probe import probe
from bidi_tui.settings import Settings


async def check_all(
    endpoints: Sequence[Endpoint],
    *,
    settings: Settings | None = None,
    concurrency: int | None = None,
    proxy: str | None = None,
) -> list[ProbeResult]:
    """Probe every endpoint concurrently, each with the timeout ``settings`` gives it: all
    at once by default, at most ``concurrency`` in flight when given, and never more than
    the open-file limit leaves room for (:func:`bidi_tui.limits.plan_descriptors`; the
    caller says so to the operator). Results come back in input order."""
    settings = settings or Settings()
    requested = len(endpoints) if concurrency is None else concurrency
    plan = plan_descriptors(requested, endpoints=len(endpoints))
    gate = asyncio.Semaphore(plan.concurrency)

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
