"""Local WebDriver BiDi test servers, well-behaved and misbehaving, for protocol tests.

Every factory here is an async context manager that listens on ``127.0.0.1`` on a free port
(port 0, never a fixed one) and yields a :class:`Served`: the ``ws://`` URL to probe and a
:class:`Seen` record of what the server observed (connections, request headers, frames).

WebSocket-level behaviours use ``websockets.asyncio.server.serve``; HTTP- and TCP-level
misbehaviour (raw status codes, silence before the upgrade) uses ``asyncio.start_server``.
All servers tear down their connections and handler tasks on exit, so tests leak no sockets.

Typical use::

    async with replying_server(success_frame(ready=True, message="")) as served:
        result = await probe(parse_spec(served.url)[0], timeout=2)
    assert served.seen.requests == [...]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.typing import Data

HOST = "127.0.0.1"
DEFAULT_PATH = "/session"

# A frame to send: literal text or bytes, or built from the id of the client's request.
Frame = str | bytes | Callable[[int], str | bytes]
# What a WebSocket server does once it has received the client's first message.
Script = Callable[[ServerConnection, int], Awaitable[None]]


@dataclass
class Seen:
    """What a test server observed; tests assert on it after the probe finished."""

    connections: int = 0
    # Request headers of each WebSocket handshake, in connection order.
    headers: list[Headers] = field(default_factory=list)
    # Paths requested by each WebSocket handshake.
    paths: list[str] = field(default_factory=list)
    # Messages received from clients, in order.
    requests: list[Data] = field(default_factory=list)
    # Raw HTTP request heads received by a raw TCP server.
    raw_requests: list[bytes] = field(default_factory=list)

    def request_json(self, index: int = 0) -> Any:
        """The ``index``-th received message decoded as JSON."""
        return json.loads(self.requests[index])


@dataclass(frozen=True)
class Served:
    """A running test server."""

    url: str
    port: int
    seen: Seen


def ws_url(port: int, path: str = DEFAULT_PATH, *, host: str = HOST, scheme: str = "ws") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}{path}"


# --- frames -----------------------------------------------------------------------------


def success_frame(ready: bool = True, message: str = "", **meta: Any) -> Callable[[int], str]:
    """A BiDi ``session.status`` success answer to the client's id."""

    def build(request_id: int) -> str:
        result = {"ready": ready, "message": message, **meta}
        return json.dumps({"type": "success", "id": request_id, "result": result})

    return build


def result_frame(result: Any, *, type_: str = "success") -> Callable[[int], str]:
    """An answer to the client's id with an arbitrary ``result`` value."""

    def build(request_id: int) -> str:
        return json.dumps({"type": type_, "id": request_id, "result": result})

    return build


def event_frame(method: str = "log.entryAdded", params: Mapping[str, Any] | None = None) -> str:
    return json.dumps({"type": "event", "method": method, "params": dict(params or {})})


def _render(frame: Frame, request_id: int) -> str | bytes:
    return frame(request_id) if callable(frame) else frame


# --- WebSocket servers ------------------------------------------------------------------


def _request_id(message: Data) -> int:
    try:
        request_id = json.loads(message)["id"]
    except (ValueError, TypeError, KeyError):
        return 1
    return request_id if type(request_id) is int else 1


@contextlib.asynccontextmanager
async def bidi_server(
    script: Script,
    *,
    path: str = DEFAULT_PATH,
    host: str = HOST,
    tls: ssl.SSLContext | None = None,
    close_timeout: float = 1.0,
) -> AsyncIterator[Served]:
    """A WebSocket server that records each connection's handshake and first message, then
    runs ``script(connection, request_id)`` and keeps the connection open until the client
    leaves (or the server stops). With ``tls`` it serves ``wss://`` with that context."""
    seen = Seen()

    async def handler(connection: ServerConnection) -> None:
        seen.connections += 1
        assert connection.request is not None
        seen.headers.append(connection.request.headers)
        seen.paths.append(connection.request.path)
        try:
            message = await connection.recv()
            seen.requests.append(message)
            await script(connection, _request_id(message))
            await connection.wait_closed()
        except ConnectionClosed:
            pass

    async with serve(
        handler,
        host,
        0,
        compression=None,
        ping_interval=None,
        close_timeout=close_timeout,
        max_size=None,
        ssl=tls,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        scheme = "ws" if tls is None else "wss"
        yield Served(ws_url(port, path, host=host, scheme=scheme), port, seen)


def replying_server(
    *frames: Frame,
    path: str = DEFAULT_PATH,
    host: str = HOST,
    tls: ssl.SSLContext | None = None,
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Answers the first message with ``frames`` in order, then stays silent."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        for frame in frames:
            await connection.send(_render(frame, request_id))

    return bidi_server(script, path=path, host=host, tls=tls)


def status_server(
    ready: bool = True, message: str = "", **meta: Any
) -> contextlib.AbstractAsyncContextManager[Served]:
    """A well-behaved BiDi endpoint answering ``session.status``."""
    return replying_server(success_frame(ready, message, **meta))


def silent_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Accepts the WebSocket and the request, then never answers."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        return None

    return bidi_server(script)


# Bound on frames a flooding server sends: far more than any check reads, yet finite.
FLOOD_LIMIT = 1_000_000


def flood_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Answers with events that never end (until the client leaves) and never with the
    status answer."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        frame = event_frame("log.entryAdded", {"text": "spam"})
        for _ in range(FLOOD_LIMIT):
            await connection.send(frame)
            # A send into a socket buffer with room does not yield; without this the flood
            # would fill megabytes of loopback buffer while starving the client in this loop.
            await asyncio.sleep(0)

    return bidi_server(script)


def closing_server(code: int, reason: str = "") -> contextlib.AbstractAsyncContextManager[Served]:
    """Closes the connection with ``code`` and ``reason`` instead of answering."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        await connection.close(code, reason)

    return bidi_server(script)


def dropping_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Drops TCP, without a close frame, once the request arrived."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        connection.transport.abort()

    return bidi_server(script)


# --- raw TCP / HTTP servers -------------------------------------------------------------

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Seen], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(
    handle: RawHandler, *, path: str = DEFAULT_PATH, host: str = HOST
) -> AsyncIterator[Served]:
    """A plain TCP server running ``handle`` per connection; all cleaned up on exit."""
    seen = Seen()
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[Any]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer, seen)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Only the teardown below cancels; ending quietly keeps asyncio's stream
            # callback from logging the cancellation as an error.
            pass
        finally:
            writer.transport.abort()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, host, 0)
    try:
        port = server.sockets[0].getsockname()[1]
        yield Served(ws_url(port, path, host=host), port, seen)
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()  # handlers waiting to read see EOF and return
        if tasks:
            _, pending = await asyncio.wait(set(tasks), timeout=1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await server.wait_closed()


async def read_head(reader: asyncio.StreamReader, seen: Seen) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    seen.raw_requests.append(head)
    return head


def raw_response_server(
    response: bytes, *, wait_for_request: bool = True, hang_up: bool = True
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Writes ``response`` (after the request head, or at once), then hangs up or waits for
    the client to leave."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        if wait_for_request:
            await read_head(reader, seen)
        if response:
            writer.write(response)
            await writer.drain()
        if hang_up:
            writer.close()
            await writer.wait_closed()
        else:
            await reader.read()  # until the client gives up

    return raw_server(handle)


def tcp_silent_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Accepts TCP, reads the upgrade request and never answers it."""
    return raw_response_server(b"", hang_up=False)


def hangup_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Accepts TCP, reads the upgrade request and closes without a word."""
    return raw_response_server(b"", hang_up=True)


def http_response(
    status: int, reason: str, *, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_server(
    status: int,
    reason: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Answers the upgrade request with a plain HTTP response and closes."""
    return raw_response_server(http_response(status, reason, headers=headers, body=body))
