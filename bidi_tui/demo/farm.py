"""The demo farm: real WebDriver BiDi servers on loopback (see the package's docstring)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bidi_tui.demo.browsers import (
    HOST,
    JITTER,
    MAX_MESSAGE,
    MIX,
    STATUS_KINDS,
    Browser,
    Kind,
    plan_browser,
)
from bidi_tui.endpoints import Endpoint, parse_spec

_BACKLOG = 4096
_CLOSE_TIMEOUT = 0.2  # per connection, for the client's answer to our close frame
_CLOSE_GRACE = 0.3  # then connections still open (say, mid-handshake) are aborted

logger = logging.getLogger(__name__)


def _tracking(open_connections: set[ServerConnection]) -> type[ServerConnection]:
    """A connection class that keeps ``open_connections`` up to date, handshake or not."""

    class TrackedConnection(ServerConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            open_connections.add(self)

        def connection_lost(self, exc: Exception | None) -> None:
            open_connections.discard(self)
            super().connection_lost(exc)

    return TrackedConnection


class _Listener:
    """One listening socket serving a route table of path -> browser; other paths get 404."""

    def __init__(
        self,
        browsers: Sequence[Browser],
        elapsed: Callable[[], float],
        jitter: random.Random,
    ) -> None:
        self._routes = {b.path: b for b in browsers if b.kind is not Kind.WRONG_PATH}
        self._elapsed = elapsed
        self._jitter = jitter
        self._open: set[ServerConnection] = set()
        self._server: Server | None = None

    async def start(self) -> int:
        self._server = await serve(
            self._handle,
            HOST,
            0,
            process_request=self._route,
            create_connection=_tracking(self._open),
            compression=None,
            open_timeout=5.0,
            ping_interval=None,
            close_timeout=_CLOSE_TIMEOUT,
            max_size=MAX_MESSAGE,
            logger=logger,
            backlog=_BACKLOG,
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        try:
            async with asyncio.timeout(_CLOSE_GRACE):
                await server.wait_closed()
        except TimeoutError:
            for connection in list(self._open):
                connection.transport.abort()
            await server.wait_closed()

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.partition("?")[0] in self._routes:
            return None
        return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        browser = self._routes[connection.request.path.partition("?")[0]]
        try:
            async for data in connection:
                if browser.kind is Kind.HANG:
                    continue
                answer = browser.answer(data, self._elapsed())
                if browser.latency:
                    await asyncio.sleep(browser.latency + self._jitter.uniform(0.0, JITTER))
                await connection.send(json.dumps(answer, separators=(",", ":")))
        except ConnectionClosed:
            pass


@dataclass
class _Running:
    listeners: list[_Listener] = field(default_factory=list)
    dead_port: socket.socket | None = None
    specs: list[str] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)


class DemoFarm:
    """Demo BiDi servers in the running event loop; an async context manager.

    Build one with :meth:`start` or :meth:`start_healthy`; ``async with`` (or ``await
    farm.open()`` ... ``await farm.close()``) runs it. Closing takes well under a second.
    """

    def __init__(
        self,
        browsers: list[Browser],
        *,
        shared: bool,
        seed: int,
        clock: Callable[[], float],
    ) -> None:
        self._browsers = browsers
        self._by_name = {b.name: b for b in browsers}
        self._shared = shared
        self._seed = seed
        self._clock = clock
        self._started_at = 0.0
        self._jitter = random.Random(seed)
        self._running: _Running | None = None

    @classmethod
    def start(
        cls,
        seed: int | None = None,
        scale: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> DemoFarm:
        """A realistic farm: ``scale`` copies of the thirteen-endpoint mix (see :class:`Kind`).

        The same ``seed`` gives the same latencies, busy schedules and paths.
        """
        if scale < 1:
            raise ValueError(f"scale must be at least 1, got {scale}")
        seed = random.randrange(1 << 32) if seed is None else seed
        shared = scale > 1
        counters: dict[str, int] = {}
        browsers: list[Browser] = []
        for _ in range(scale):
            for prefix, kind in MIX:
                counters[prefix] = counters.get(prefix, 0) + 1
                name = f"{prefix}-{counters[prefix]}"
                browsers.append(plan_browser(name, kind, random.Random(f"{seed}:{name}"), shared))
        return cls(browsers, shared=shared, seed=seed, clock=clock)

    @classmethod
    def start_healthy(cls, count: int) -> DemoFarm:
        """``count`` always-ready Firefox-like endpoints ``demo-1`` ... on one shared socket,
        answering without added latency: a load-test target."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        browsers = [
            Browser(f"demo-{i}", Kind.FIREFOX, f"/session/demo-{i}") for i in range(1, count + 1)
        ]
        return cls(browsers, shared=True, seed=0, clock=time.monotonic)

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def specs(self) -> list[str]:
        """``NAME=ws://127.0.0.1:PORT/PATH`` for every endpoint, in a stable order."""
        return list(self._require().specs)

    @property
    def endpoints(self) -> list[Endpoint]:
        """The parsed :attr:`specs`."""
        return list(self._require().endpoints)

    @property
    def kinds(self) -> dict[str, Kind]:
        """Each endpoint's kind by name, in the order of :attr:`specs`."""
        return {b.name: b.kind for b in self._browsers}

    def set_busy(self, name: str, busy: bool | None) -> None:
        """Force an endpoint that answers ``session.status`` busy (``True``) or ready
        (``False``); ``None`` returns it to its own behaviour."""
        browser = self._browser(name)
        if browser.kind not in STATUS_KINDS:
            raise ValueError(f"demo endpoint {name!r} ({browser.kind}) has no ready state")
        browser.forced_busy = busy

    def ready_now(self, name: str) -> bool | None:
        """What ``result.ready`` the endpoint answers at the clock's current time, or
        ``None`` for one that gives no status answer."""
        browser = self._browser(name)
        if browser.kind not in STATUS_KINDS:
            return None
        return not browser.busy_at(self._elapsed())

    async def open(self) -> Self:
        """Start listening. Ports are OS-assigned on 127.0.0.1."""
        if self._running is not None:
            raise RuntimeError("the demo farm is already running")
        self._started_at = self._clock()
        running = self._running = _Running()
        try:
            served = [b for b in self._browsers if b.kind is not Kind.REFUSED]
            groups = [served] if self._shared else [[b] for b in served]
            for group in groups:
                listener = _Listener(group, self._elapsed, self._jitter)
                running.listeners.append(listener)
                port = await listener.start()
                for browser in group:
                    browser.port = port
            if len(served) < len(self._browsers):
                running.dead_port = _dead_port()
                dead = running.dead_port.getsockname()[1]
                for browser in self._browsers:
                    if browser.kind is Kind.REFUSED:
                        browser.port = dead
        except BaseException:
            await self.close()
            raise
        running.specs = [f"{b.name}=ws://{HOST}:{b.port}{b.path}" for b in self._browsers]
        # Tagged by family (firefox, chrome ...), so the demo shows grouping by tag too.
        running.endpoints = [
            e
            for spec, browser in zip(running.specs, self._browsers, strict=True)
            for e in parse_spec(spec, tags=(browser.name.rsplit("-", 1)[0],))
        ]
        return self

    async def close(self) -> None:
        """Stop every server and drop every connection. Idempotent."""
        running, self._running = self._running, None
        if running is None:
            return
        try:
            await asyncio.gather(*(listener.close() for listener in running.listeners))
        finally:
            if running.dead_port is not None:
                running.dead_port.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _require(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the demo farm is not running; use 'async with DemoFarm.start()'")
        return self._running

    def _browser(self, name: str) -> Browser:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no demo endpoint named {name!r}") from None

    def _elapsed(self) -> float:
        return self._clock() - self._started_at


def _dead_port() -> socket.socket:
    """A socket bound to a free loopback port that never listens: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
    except OSError:
        sock.close()
        raise
    return sock


# --- python -m bidi_tui.demo -----------------------------------------------------------
