"""The BiDi ``session.status`` probe: one check of one endpoint, with an exact error taxonomy.

A check opens a WebSocket, sends ``session.status`` with an empty ``params`` object, waits for
the answer with its id and closes. It never sends ``session.new`` or ``session.end``: a
session left behind would keep a browser busy until it restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidUpgrade,
    InvalidURI,
    ProxyError,
)
from websockets.frames import CloseCode
from websockets.protocol import State as ProtocolState
from websockets.typing import Data

from bidi_tui import __version__
from bidi_tui.endpoints import Endpoint, mask_spec
from bidi_tui.model import (
    ErrorKind,
    Phase,
    PhaseTimings,
    ProbeError,
    ProbeResult,
    State,
)

DEFAULT_TIMEOUT = 5.0
MAX_MESSAGE_SIZE = 1 << 20
# Events or answers to other ids skipped while waiting; past this the endpoint is flooding us.
MAX_SKIPPED_MESSAGES = 1000
# How much of the last raw answer a result keeps for the detail view.
RAW_KEEP_CHARS = 64 * 1024
# How long closing waits for the server's close frame after the answer; then TCP is dropped.
# A server that never completes the closing handshake costs at most this, never the deadline.
CLOSE_GRACE = 0.25
USER_AGENT = f"bidi-tui/{__version__}"
# websockets logs every request header (Authorization included) at DEBUG: never let it.
_WEBSOCKETS_LOGGER = logging.getLogger("bidi_tui.websockets")
_WEBSOCKETS_LOGGER.setLevel(logging.INFO)


# --- interpreting one answer -------------------------------------------------------------


@dataclass(frozen=True)
class StatusAnswer:
    ready: bool
    message: str
    meta: dict[str, Any]


CDP_HINT = (
    "this is a Chrome DevTools (CDP) endpoint, not WebDriver BiDi; "
    "use ChromeDriver (ws://HOST:9515/session) or Firefox (--remote-debugging-port)"
)
NOT_BIDI_HINT = "a WebSocket server that does not speak WebDriver BiDi; check the port and path"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def interpret_message(data: Data, request_id: int) -> StatusAnswer | ProbeError | None:
    """Classify one WebSocket message received while waiting for ``request_id``.

    Returns the status answer, an error, or ``None`` for a message that is not ours (an
    event, or the answer to another id) so the caller keeps waiting. Never raises.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answered with a binary frame of {len(data)} bytes; BiDi sends JSON text",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer is not valid JSON: {_short(data)}",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    if not isinstance(message, dict):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer is a JSON {type(message).__name__}, not an object: {_short(data)}",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    msg_type = message.get("type")
    has_id = "id" in message
    msg_id = message.get("id")
    ours = has_id and type(msg_id) is int and msg_id == request_id

    if msg_type == "event":
        return None
    if msg_type is None and "method" in message and not has_id:
        return None  # a CDP-style event; if this is CDP the error for our id follows
    if msg_type is None and not has_id and "error" not in message:
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer has neither 'type' nor 'id', so it is not BiDi: {_short(data)}",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    if msg_type is None and "error" in message and isinstance(message["error"], dict):
        if ours or not has_id or msg_id is None:
            cdp_error = message["error"]
            text = cdp_error.get("message", cdp_error)
            return ProbeError(
                ErrorKind.NOT_BIDI,
                f"answered in CDP, not BiDi: {_short(text)}",
                hint=CDP_HINT,
                phase=Phase.RESPONSE,
            )
        return None
    if msg_type == "error":
        if ours or msg_id is None:
            error = message.get("error")
            text = message.get("message")
            detail = f"BiDi error {_short(error)}"
            if text:
                detail += f": {_short(text)}"
            return ProbeError(
                ErrorKind.BIDI_ERROR,
                detail,
                hint="the endpoint speaks BiDi but refused session.status; check its path",
                phase=Phase.RESPONSE,
            )
        return None
    if not ours:
        if has_id and msg_id is not None and type(msg_id) is not int:
            return ProbeError(
                ErrorKind.PROTOCOL,
                f"answer has a non-integer id {_short(msg_id)}",
                phase=Phase.RESPONSE,
            )
        return None
    if msg_type != "success":
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer to our id has type {_short(msg_type)}, expected 'success' or 'error'",
            phase=Phase.RESPONSE,
        )
    result = message.get("result")
    if not isinstance(result, dict):
        return ProbeError(
            ErrorKind.PROTOCOL, "'result' is missing or not an object", phase=Phase.RESPONSE
        )
    ready = result.get("ready")
    if not isinstance(ready, bool):
        what = "missing" if "ready" not in result else f"not a boolean: {_short(ready)}"
        return ProbeError(ErrorKind.PROTOCOL, f"result.ready is {what}", phase=Phase.RESPONSE)
    status_message = result.get("message")
    if not isinstance(status_message, str):
        what = "missing" if "message" not in result else f"not a string: {_short(status_message)}"
        return ProbeError(ErrorKind.PROTOCOL, f"result.message is {what}", phase=Phase.RESPONSE)
    meta = {k: v for k, v in result.items() if k not in ("ready", "message")}
    return StatusAnswer(ready=ready, message=status_message, meta=meta)


# --- mapping connection failures -------------------------------------------------------


# What TLS servers answer a plain HTTP request with (Go, nginx): the port wants wss://.
_PLAIN_TO_TLS_RE = re.compile(rb"http request (was )?sent to (an )?https|to an https server", re.I)
WSS_HINT = "the port speaks TLS: use wss:// instead of ws://"


def _http_status_error(
    status: int, reason: str, endpoint: Endpoint, headers: Headers | None = None, body: bytes = b""
) -> ProbeError:
    hint: str | None
    if not endpoint.secure and _PLAIN_TO_TLS_RE.search(body[:4096]):
        return ProbeError(
            ErrorKind.TLS,
            f"HTTP {status} {reason}".rstrip() + ": the server expects TLS on this port",
            hint=WSS_HINT,
            phase=Phase.HANDSHAKE,
        )
    if status == 404:
        hint = "wrong path: BiDi endpoints usually live at /session, e.g. ws://HOST:PORT/session"
    elif status == 400:
        hint = (
            "Firefox refuses a Host header that is not an IP or localhost: start it with "
            "--remote-allow-hosts, or use the IP address"
        )
    elif status in (401, 403):
        hint = "authentication failed or missing: set user:password@ in the URL or a header"
    elif status == 200:
        hint = "an HTTP server answered, not a WebSocket endpoint; check the port and path"
    elif status in (301, 302, 303, 307, 308):
        hint = "redirects are not followed; use the final URL"
        location = None if headers is None else headers.get("Location")
        if location:
            hint += f" (it points to {_short(mask_spec(location), 80)})"
    elif status in (502, 504):
        hint = "a proxy or gateway could not reach the browser behind it; is the browser up?"
    elif status == 503:
        hint = "the service is unavailable (starting, overloaded, or a proxy with no backend)"
    elif status >= 500:
        hint = "the server failed; check its logs"
    else:
        hint = None
    return ProbeError(
        ErrorKind.HTTP_STATUS,
        f"HTTP {status} {reason}".rstrip() + " instead of a WebSocket upgrade",
        hint=hint,
        phase=Phase.HANDSHAKE,
    )


def _closed_error(exc: ConnectionClosed, phase: Phase) -> ProbeError:
    sent = exc.sent
    if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
        return ProbeError(
            ErrorKind.TOO_LARGE,
            f"answer exceeded the {MAX_MESSAGE_SIZE // 1024} KiB message limit",
            hint="this is not a plain session.status answer; check the endpoint",
            phase=phase,
        )
    if (
        sent is not None
        and not exc.rcvd_then_sent
        and sent.code in (CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA)
    ):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"broke the WebSocket protocol ({sent.reason or sent.code}); closed with {sent.code}",
            phase=phase,
        )
    received = exc.rcvd
    hint: str | None
    if received is None:
        detail = "connection dropped without a close frame"
        hint = "the process behind the port crashed or a proxy cut the connection"
    else:
        reason = f" {_short(received.reason, 80)!r}" if received.reason else ""
        detail = f"closed by the server with code {received.code}{reason}"
        hint = _CLOSE_HINTS.get(received.code)
    return ProbeError(ErrorKind.CLOSED, detail + " before answering", hint=hint, phase=phase)


_CLOSE_HINTS: dict[int, str] = {
    CloseCode.NORMAL_CLOSURE: "the endpoint closed the connection instead of answering "
    "session.status; check the path",
    CloseCode.GOING_AWAY: "the browser or driver is shutting down or restarting",
    CloseCode.POLICY_VIOLATION: "the endpoint refused this client; check credentials and "
    "allowed hosts",
    CloseCode.INTERNAL_ERROR: "the endpoint hit an internal error; check the browser's or "
    "driver's logs",
    CloseCode.SERVICE_RESTART: "the browser or driver is restarting; it should be back soon",
    CloseCode.TRY_AGAIN_LATER: "the endpoint is overloaded; it asks to try again later",
}


INSECURE_HINT = "mark the endpoint insecure = true only if you trust this network"


def _tls_error(exc: ssl.SSLError, endpoint: Endpoint) -> ProbeError:
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    hint: str | None
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
            hint = "renew the server's certificate, or check the clock of either machine"
        elif code == 9:  # X509_V_ERR_CERT_NOT_YET_VALID
            hint = "check the clock of either machine; the certificate is not valid yet"
        elif code == 62 or "mismatch" in str(reason):  # X509_V_ERR_HOSTNAME_MISMATCH
            hint = f"the certificate does not name {endpoint.host!r}; use a name it lists"
        else:
            hint = INSECURE_HINT
    elif "WRONG_VERSION_NUMBER" in str(exc) or "wrong version" in str(exc).lower():
        reason = f"{reason} (the server's answer is not TLS)"
        hint = "the server does not speak TLS here: try ws:// instead of wss://"
    else:
        hint = None
    return ProbeError(
        ErrorKind.TLS, f"TLS failed: {_short(reason, 200)}", hint=hint, phase=Phase.CONNECT
    )


def _os_error(exc: OSError, endpoint: Endpoint, phase: Phase) -> ProbeError:
    if isinstance(exc, socket.gaierror):
        return ProbeError(
            ErrorKind.DNS,
            f"cannot resolve host {endpoint.host!r}: {exc.strerror or exc}",
            hint="check the host name, or use an IP address",
            phase=Phase.CONNECT,
        )
    if isinstance(exc, ConnectionRefusedError):
        return ProbeError(
            ErrorKind.REFUSED,
            f"connection refused on port {endpoint.port or ('443' if endpoint.secure else '80')}",
            hint="nothing listens there: is the browser or driver running on that port?",
            phase=Phase.CONNECT,
        )
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return ProbeError(
            ErrorKind.CLOSED, "connection reset by the server before answering", phase=phase
        )
    text = exc.strerror or str(exc) or type(exc).__name__
    return ProbeError(ErrorKind.NETWORK, f"network error: {text}", phase=phase)


# --- the check --------------------------------------------------------------------------


class _ProbeConnection(ClientConnection):
    """A client connection that does not wait for the server after failing the connection.

    When a frame breaks the rules (too large, bad UTF-8, bad framing) the client sends a close
    frame and, per RFC 6455, waits for the server to close TCP. A server that stalls (say,
    after announcing a 100 MB frame) would hold the check until its deadline and the verdict
    would read ``timeout``. The close frame is out, so drop TCP at once: ``recv()`` then
    raises with the code we sent, and the verdict names the real fault.
    """

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        protocol = self.protocol
        sent = protocol.close_sent
        if (
            protocol.state is ProtocolState.CLOSING
            and sent is not None
            and sent.code != CloseCode.NORMAL_CLOSURE  # ours is a polite close: let it finish
            and protocol.close_rcvd is None
        ):
            self.transport.abort()


class _ProbeConnect(connect):
    """``connect`` that follows no redirects and records when TCP (and TLS) is up."""

    tcp_ready_at: float | None = None

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc

    async def open_tcp_connection(self) -> ClientConnection:
        connection = await super().open_tcp_connection()
        self.tcp_ready_at = time.perf_counter()
        return connection


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
    deadline_s = timeout if timeout is not None else (endpoint.timeout or DEFAULT_TIMEOUT)
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
    connector: _ProbeConnect | None = None
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
            connector = _ProbeConnect(
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
                create_connection=_ProbeConnection,
            )
            phase = Phase.HANDSHAKE
            connection = await connector
            handshake_done = time.perf_counter()
            phase = Phase.RESPONSE
            answer, raw = await _ask_status(connection, request_id)
            answered_at = time.perf_counter()
    except TimeoutError:
        if connector is None or connector.tcp_ready_at is None:
            phase = Phase.CONNECT
        return finish_error(
            ProbeError(
                ErrorKind.TIMEOUT,
                f"no answer within {deadline_s:g} s ({phase.value} phase)",
                hint=_timeout_hint(phase, endpoint),
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
        return finish_error(_closed_error(exc, phase))
    except ProxyError as exc:
        return finish_error(ProbeError(ErrorKind.NETWORK, f"proxy failed: {exc}", phase=phase))
    except InvalidMessage as exc:
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


def _invalid_message_error(exc: InvalidMessage, endpoint: Endpoint) -> ProbeError:
    """The answer to the upgrade request could not be read as HTTP."""
    cause = exc.__cause__
    text = str(cause or exc)
    if isinstance(cause, EOFError) or "connection closed" in text:
        hint = "the server accepted TCP but hung up; is this the right port?"
        if not endpoint.secure:
            hint += " If it serves TLS, use wss://"
        return ProbeError(
            ErrorKind.CLOSED,
            "connection closed during the WebSocket handshake",
            hint=hint,
            phase=Phase.HANDSHAKE,
        )
    hint = "the port serves something else, not a WebSocket endpoint"
    if not endpoint.secure:
        hint += " (a TLS port needs wss://)"
    return ProbeError(
        ErrorKind.PROTOCOL,
        f"not an HTTP answer to the WebSocket upgrade: {_short(text)}",
        hint=hint,
        phase=Phase.HANDSHAKE,
    )


def _timeout_hint(phase: Phase, endpoint: Endpoint) -> str:
    if phase is Phase.CONNECT:
        if endpoint.secure:
            return (
                "no TCP or TLS connection: the host is down, a firewall drops packets, "
                "or the server does not speak TLS (try ws://)"
            )
        return "no TCP connection: the host is down or a firewall drops packets"
    if phase is Phase.HANDSHAKE:
        return (
            "TCP was accepted but the WebSocket upgrade never finished; "
            "is the path right (ChromeDriver and Firefox use /session)?"
        )
    return "the endpoint accepted the WebSocket but never answered session.status"
