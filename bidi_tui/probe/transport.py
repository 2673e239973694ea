"""The check itself: connect, upgrade, ask ``session.status``, read the answer, close.

A check opens a WebSocket, sends ``session.status`` with an empty ``params`` object, waits for
the answer with its id and closes. It never sends ``session.new`` or ``session.end``: a
session left behind would keep a browser busy until it restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidUpgrade,
    InvalidURI,
    ProxyError,
)

from bidi_tui import __version__
from bidi_tui.endpoints import Endpoint
from bidi_tui.model import (
    ErrorKind,
    Phase,
    PhaseTimings,
    ProbeError,
    ProbeResult,
    State,
)
from bidi_tui.probe.answer import (
    MAX_MESSAGE_SIZE,
    MAX_SKIPPED_MESSAGES,
    RAW_KEEP_CHARS,
    StatusAnswer,
    _short,
    interpret_message,
)
from bidi_tui.probe.connection import ProbeConnect, ProbeConnection, late_tls_failure
from bidi_tui.probe.errors import (
    _closed_error,
    _http_status_error,
    _invalid_message_error,
    _lookup_timeout_error,
    _os_error,
    _timeout_hint,
    _tls_error,
)
from bidi_tui.settings import BUILT_IN_TIMEOUT

# How long closing waits for the server's close frame after the answer; then TCP is dropped.
# A server that never completes the closing handshake costs at most this, never the deadline.
CLOSE_GRACE = 0.25
USER_AGENT = f"bidi-tui/{__version__}"
# websockets logs every request header (Authorization included) at DEBUG: never let it.
_WEBSOCKETS_LOGGER = logging.getLogger("bidi_tui.websockets")
_WEBSOCKETS_LOGGER.setLevel(logging.INFO)


def _ssl_context(endpoint: Endpoint) -> ssl.SSLContext | None:
    if not endpoint.secure:
        return None
    context = ssl.create_default_context()
    if endpoint.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _close_quietly(connection: ClientConnection, budget: float) -> None:
    """Close politely, but never wait past ``budget`` seconds on a server that won't answer."""
    try:
        async with asyncio.timeout(max(budget, 0.0)):
            await connection.close()
    except (TimeoutError, OSError, ConnectionClosed):
        pass
    finally:
        connection.transport.abort()


async def _ask_status(
    connection: ClientConnection, request_id: int
) -> tuple[StatusAnswer | ProbeError, str | None]:
    """Send session.status and read until its answer; also the last text message kept."""
    await connection.send(json.dumps({"id": request_id, "method": "session.status", "params": {}}))
    raw: str | None = None
    for _ in range(MAX_SKIPPED_MESSAGES + 1):
        data = await connection.recv()
        answer = interpret_message(data, request_id)
        if isinstance(data, str):
            raw = data[:RAW_KEEP_CHARS]
        if answer is not None:
            return answer, raw
    return (
        ProbeError(
            ErrorKind.PROTOCOL,
            f"over {MAX_SKIPPED_MESSAGES} messages arrived without the answer to id {request_id}",
            phase=Phase.RESPONSE,
        ),
        raw,
    )


async def _probe_held(
    endpoint: Endpoint, held: HeldConnection, deadline_s: float
) -> ProbeResult | None:
    """A check on the held connection; None when it had closed and a fresh one is due."""
    connection = held.connection
    assert connection is not None
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline_s):
            answer, raw = await _ask_status(connection, held.take_id())
    except TimeoutError:  # before OSError: TimeoutError is one
        held.connection = None
        connection.transport.abort()
        answer, raw = (
            ProbeError(
                ErrorKind.TIMEOUT,
                f"no answer within {deadline_s:g} s (response phase, held connection)",
                hint=_timeout_hint(Phase.RESPONSE, endpoint),
                phase=Phase.RESPONSE,
            ),
            None,
        )
    except (ConnectionClosed, OSError) as exc:
        held.connection = None
        connection.transport.abort()
        if isinstance(exc, ConnectionClosed) and _closed_error(exc, Phase.RESPONSE).kind is (
            ErrorKind.TOO_LARGE
        ):
            answer, raw = _closed_error(exc, Phase.RESPONSE), None
        else:
            return None  # closed while idle (a restart, an idle timeout): connect afresh
    elapsed_ms = (time.perf_counter() - started) * 1000
    if isinstance(answer, ProbeError):
        held.connection = None
        connection.transport.abort()
        return ProbeResult(
            endpoint=endpoint,
            state=State.ERROR,
            checked_at=checked_at,
            elapsed_ms=elapsed_ms,
            timings=PhaseTimings(response_ms=elapsed_ms),
            error=answer,
            raw=raw,
        )
    return _answered(
        endpoint, answer, checked_at, elapsed_ms, PhaseTimings(response_ms=elapsed_ms), raw
    )


def _answered(
    endpoint: Endpoint,
    answer: StatusAnswer,
    checked_at: datetime,
    elapsed_ms: float,
    timings: PhaseTimings,
    raw: str | None,
) -> ProbeResult:
    """The result of a check that got its answer; the latency is the time to it."""
    return ProbeResult(
        endpoint=endpoint,
        state=State.READY if answer.ready else State.NOT_READY,
        checked_at=checked_at,
        elapsed_ms=elapsed_ms,
        ready=answer.ready,
        message=answer.message,
        meta=answer.meta,
        latency_ms=elapsed_ms,
        timings=timings,
        raw=raw,
    )


class HeldConnection:
    """An endpoint's connection kept open between checks (connection reuse mode).

    A check on a held connection sends ``session.status`` and reads the answer: no TCP
    connect and no WebSocket handshake, about a sixth of a fresh check's CPU
    (bench/probe_throughput.py). Any failure closes it; the next check connects afresh.
    """

    def __init__(self) -> None:
        self.connection: ClientConnection | None = None
        self.next_id = 1

    def take_id(self) -> int:
        request_id = self.next_id
        self.next_id = request_id + 1 if request_id < 2**31 else 1
        return request_id

    async def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            await _close_quietly(connection, CLOSE_GRACE)


async def probe(
    endpoint: Endpoint,
    *,
    timeout: float | None = None,
    request_id: int = 1,
    proxy: str | None = None,
    max_size: int = MAX_MESSAGE_SIZE,
    held: HeldConnection | None = None,
) -> ProbeResult:
    """Check one endpoint with ``session.status``. Never raises for network or protocol
    trouble: the result carries the error. ``timeout`` bounds the whole check.

    With ``held``, the check uses and keeps that open connection (see HeldConnection);
    one the server closed while idle is replaced by a fresh one within the same deadline.
    """
    deadline_s = timeout if timeout is not None else (endpoint.timeout or BUILT_IN_TIMEOUT)
    if held is not None and held.connection is not None:
        held_started = time.perf_counter()
        reused = await _probe_held(endpoint, held, deadline_s)
        if reused is not None:
            return reused
        deadline_s = max(0.01, deadline_s - (time.perf_counter() - held_started))
    if held is not None:
        request_id = held.take_id()
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    phase = Phase.CONNECT
    connector: ProbeConnect | None = None
    connection: ClientConnection | None = None
    handshake_done: float | None = None
    answer: StatusAnswer | ProbeError | None = None
    raw: str | None = None
    answered_at = 0.0

    def timings(end: float | None = None) -> PhaseTimings:
        tcp = connector.tcp_ready_at if connector is not None else None
        connect_ms = None if tcp is None else (tcp - started) * 1000
        handshake_ms = (
            None if handshake_done is None or tcp is None else (handshake_done - tcp) * 1000
        )
        response_ms = (
            None if end is None or handshake_done is None else (end - handshake_done) * 1000
        )
        return PhaseTimings(connect_ms, handshake_ms, response_ms)

    def finish_error(error: ProbeError) -> ProbeResult:
        return ProbeResult(
            endpoint=endpoint,
            state=State.ERROR,
            checked_at=checked_at,
            elapsed_ms=((answered_at or time.perf_counter()) - started) * 1000,
            timings=timings(),
            error=error,
            raw=raw,
        )

    try:
        async with asyncio.timeout(deadline_s):
            connector = ProbeConnect(
                endpoint.url,
                origin=None,
                compression=None,
                additional_headers=dict(endpoint.headers) or None,
                user_agent_header=USER_AGENT,
                logger=_WEBSOCKETS_LOGGER,
                proxy=proxy,
                open_timeout=None,
                ping_interval=None,
                close_timeout=CLOSE_GRACE,
                max_size=max_size,
                max_queue=4,
                ssl=_ssl_context(endpoint),
                create_connection=ProbeConnection,
            )
            phase = Phase.HANDSHAKE
            connection = await connector
            handshake_done = time.perf_counter()
            phase = Phase.RESPONSE
            answer, raw = await _ask_status(connection, request_id)
            answered_at = time.perf_counter()
    except TimeoutError:
        if connector is not None and connector.lookup_started_at and not connector.resolved_at:
            return finish_error(_lookup_timeout_error(endpoint, deadline_s))
        if connector is None or connector.tcp_ready_at is None:
            phase = Phase.CONNECT
        tcp_up = connector is not None and connector.tcp_connected_at is not None
        return finish_error(
            ProbeError(
                ErrorKind.TIMEOUT,
                f"no answer within {deadline_s:g} s ({phase.value} phase)",
                hint=_timeout_hint(phase, endpoint, tcp_connected=tcp_up),
                phase=phase,
            )
        )
    except InvalidURI as exc:
        return finish_error(ProbeError(ErrorKind.INVALID_URL, f"invalid URL: {exc}"))
    except InvalidStatus as exc:
        response = exc.response
        return finish_error(
            _http_status_error(
                response.status_code,
                response.reason_phrase,
                endpoint,
                response.headers,
                bytes(response.body),
            )
        )
    except ssl.SSLError as exc:
        return finish_error(_tls_error(exc, endpoint))
    except ConnectionClosed as exc:
        tls_failure = late_tls_failure(connector)
        if tls_failure is not None:
            return finish_error(_tls_error(tls_failure, endpoint, late=True))
        return finish_error(_closed_error(exc, phase))
    except ProxyError as exc:
        return finish_error(ProbeError(ErrorKind.NETWORK, f"proxy failed: {exc}", phase=phase))
    except InvalidMessage as exc:
        tls_failure = late_tls_failure(connector)
        if tls_failure is not None:
            return finish_error(_tls_error(tls_failure, endpoint, late=True))
        return finish_error(_invalid_message_error(exc, endpoint))
    except (InvalidUpgrade, InvalidHandshake) as exc:
        return finish_error(
            ProbeError(
                ErrorKind.PROTOCOL,
                f"invalid WebSocket handshake: {_short(str(exc))}",
                hint="the server or a proxy in between mangled the WebSocket upgrade",
                phase=Phase.HANDSHAKE,
            )
        )
    except OSError as exc:
        return finish_error(_os_error(exc, endpoint, phase))
    finally:
        if connection is not None:
            if held is not None and isinstance(answer, StatusAnswer):
                held.connection = connection  # kept open for the next check
            elif isinstance(answer, ProbeError):
                # A peer that broke the protocol gets no polite close to wait out.
                connection.transport.abort()
            else:
                remaining = deadline_s - (time.perf_counter() - started)
                await _close_quietly(connection, min(remaining, CLOSE_GRACE))

    end = answered_at
    assert answer is not None
    if isinstance(answer, ProbeError):
        return finish_error(answer)
    return _answered(endpoint, answer, checked_at, (end - started) * 1000, timings(end), raw)
