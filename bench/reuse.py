"""Prototype of a connection-reuse mode, which the product does not have (yet).

Instead of a fresh connection per check (TCP connect, HTTP upgrade, ``session.status``,
close handshake), keep one static ``/session`` WebSocket per endpoint open and send
``session.status`` on it each interval; on any failure drop it, and let a fresh
``bidi_tui.probe.probe`` both report the error exactly and serve as the reconnect.
The results have the same shape as ``probe()``'s, so the engine and the table cannot tell.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from bidi_tui.endpoints import Endpoint
from bidi_tui.probe import (
    MAX_MESSAGE_SIZE,
    RAW_KEEP_CHARS,
    USER_AGENT,
    PhaseTimings,
    ProbeError,
    ProbeResult,
    State,
    interpret_message,
    probe,
)

# What bidi_tui.probe.probe passes to websockets' connect().
PROBE_CONNECT_OPTIONS: dict[str, Any] = {
    "origin": None,
    "compression": None,
    "user_agent_header": USER_AGENT,
    "proxy": None,
    "open_timeout": None,
    "ping_interval": None,
    "close_timeout": 1.0,
    "max_size": MAX_MESSAGE_SIZE,
    "max_queue": 4,
}


async def status_on(
    connection: Any, endpoint: Endpoint, request_id: int, timeout: float
) -> ProbeResult:
    """``session.status`` on an open connection, as a ``ProbeResult`` like ``probe()``'s.

    Raises on a closed connection or a timeout: the caller reconnects."""
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    answer = None
    data: Any = None
    async with asyncio.timeout(timeout):
        await connection.send(
            json.dumps({"id": request_id, "method": "session.status", "params": {}})
        )
        while answer is None:
            data = await connection.recv()
            answer = interpret_message(data, request_id)
    elapsed_ms = (time.perf_counter() - started) * 1000
    raw = data[:RAW_KEEP_CHARS] if isinstance(data, str) else None
    if isinstance(answer, ProbeError):
        return ProbeResult(endpoint, State.ERROR, checked_at, elapsed_ms, error=answer, raw=raw)
    return ProbeResult(
        endpoint=endpoint,
        state=State.READY if answer.ready else State.NOT_READY,
        checked_at=checked_at,
        elapsed_ms=elapsed_ms,
        ready=answer.ready,
        message=answer.message,
        meta=answer.meta,
        latency_ms=elapsed_ms,
        timings=PhaseTimings(response_ms=elapsed_ms),
        raw=raw,
    )


class HeldConnections:
    """A ``probe_function`` for :class:`bidi_tui.engine.Engine` that reuses connections.

    The engine never runs two checks of one endpoint at once, so one connection per
    endpoint needs no locking."""

    def __init__(self) -> None:
        self.held: dict[str, Any] = {}
        self.next_id: dict[str, int] = {}
        self.reconnects = 0
        self.fresh_checks = 0

    async def probe(self, endpoint: Endpoint, timeout: float) -> ProbeResult:
        from websockets.asyncio.client import connect

        connection = self.held.get(endpoint.name)
        if connection is None:
            try:
                async with asyncio.timeout(timeout):
                    connection = await connect(endpoint.url, **PROBE_CONNECT_OPTIONS)
            except Exception:
                self.fresh_checks += 1
                return await probe(endpoint, timeout=timeout)
            self.held[endpoint.name] = connection
        request_id = self.next_id.get(endpoint.name, 1)
        self.next_id[endpoint.name] = request_id + 1
        try:
            result = await status_on(connection, endpoint, request_id, timeout)
        except Exception:
            self.held.pop(endpoint.name, None)
            connection.transport.abort()
            self.reconnects += 1
            self.fresh_checks += 1
            return await probe(endpoint, timeout=timeout)
        if result.state is State.ERROR:  # a protocol error: start afresh next time
            self.held.pop(endpoint.name, None)
            connection.transport.abort()
        return result

    async def close(self) -> None:
        connections, self.held = list(self.held.values()), {}
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
