"""An embedded demo browser farm: real WebDriver BiDi ``session.status`` servers on loopback.

``bidi-tui --demo``, the tests and the benchmarks use it instead of real browsers::

    async with DemoFarm.start(seed=7) as farm:
        endpoints = farm.endpoints          # or farm.specs: "NAME=ws://127.0.0.1:PORT/PATH"

The farm (:meth:`DemoFarm.start`) holds thirteen endpoints per ``scale``, each a kind of
:class:`Kind`: ready Firefox and ChromeDriver look-alikes with a few to ~80 ms of latency,
one Firefox and one ChromeDriver that are busy now and then (a seeded random schedule of
tens of seconds), one that flaps every :data:`FLAP_PERIOD` seconds, one that accepts the
WebSocket and never answers, one port where nothing listens, one Chromium DevTools (CDP)
endpoint and one spec with a wrong path (HTTP 404). Answers are byte-for-byte shaped like
the real ones in ``shared/reference/real-endpoints.md``, and a request that is not exactly
``{"id": N, "method": "session.status", "params": {}}`` gets the BiDi error a browser sends.

Sockets: with ``scale=1`` every endpoint listens on its own port at ``/session``, as in a
real farm. With ``scale > 1`` and for :meth:`DemoFarm.start_healthy` all endpoints share
ONE listening socket and are told apart by their path (``/session/demo-17``): 2,000
endpoints then cost one socket and one route lookup per connection instead of 2,000
listeners (and 2,000 file descriptors). The shared socket has a backlog of 4096, so a burst
of thousands of simultaneous connects is not dropped. Refused endpoints point at a port
that is bound but never listens, held for the farm's lifetime so nothing else can take it.

Everything time-based reads the injected ``clock`` (seconds, :func:`time.monotonic` by
default), so tests move the clock instead of sleeping; :meth:`DemoFarm.set_busy` forces a
state outright. Latency is real time (``asyncio.sleep``), not clock time.

``python -m bidi_tui.demo [--healthy N | --scale K] [--seed S]`` runs a farm in its own
process: it prints the specs one per line on stdout, then serves until SIGTERM or SIGINT.

This module is part of the core and must not import textual.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import logging
import platform
import random
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Data

from bidi_tui.endpoints import Endpoint, parse_spec

HOST = "127.0.0.1"
#: A flapping endpoint is ready for this many seconds of clock time, then not ready as long.
FLAP_PERIOD = 3.0
#: Ranges (seconds of clock time) of a busy endpoint's ready and busy spells.
BUSY_SCHEDULE_READY = (20.0, 60.0)
BUSY_SCHEDULE_BUSY = (10.0, 40.0)
BUSY_SCHEDULE_FIRST = (5.0, 30.0)

FIREFOX_BUSY_MESSAGE = "Session already started"
CHROME_READY_MESSAGE = "ChromeDriver ready for new sessions."
CHROME_BUSY_MESSAGE = "already connected"
CHROME_VERSION = "156.0.8078.108 (demo)"

_MAX_ID = 2**53 - 1
_BACKLOG = 4096
_CLOSE_TIMEOUT = 0.2  # per connection, for the client's answer to our close frame
_CLOSE_GRACE = 0.3  # then connections still open (say, mid-handshake) are aborted
_MAX_MESSAGE = 1 << 16
_JITTER = 0.02

logger = logging.getLogger(__name__)


class Kind(StrEnum):
    """What a demo endpoint does."""

    FIREFOX = "firefox"  # ready, Firefox's answer
    CHROME = "chrome"  # ready, ChromeDriver's answer with build and os meta
    FIREFOX_BUSY = "firefox-busy"  # ready or "Session already started", on a schedule
    CHROME_BUSY = "chrome-busy"  # ready or "already connected", on a schedule
    FLAPPING = "flapping"  # Firefox, ready / not ready every FLAP_PERIOD seconds
    HANG = "hang"  # accepts the WebSocket, never answers
    REFUSED = "refused"  # nothing listens on the port
    CDP = "cdp"  # Chromium DevTools: a CDP error for session.status
    WRONG_PATH = "wrong-path"  # HTTP 404 instead of the WebSocket upgrade


_STATUS_KINDS = frozenset(
    {Kind.FIREFOX, Kind.CHROME, Kind.FIREFOX_BUSY, Kind.CHROME_BUSY, Kind.FLAPPING}
)
_CHROME_KINDS = frozenset({Kind.CHROME, Kind.CHROME_BUSY})

# One farm: (name prefix, kind); names are numbered per prefix across copies.
_MIX: tuple[tuple[str, Kind], ...] = (
    ("firefox", Kind.FIREFOX),
    ("firefox", Kind.FIREFOX),
    ("firefox", Kind.FIREFOX),
    ("firefox", Kind.FIREFOX_BUSY),
    ("firefox", Kind.FLAPPING),
    ("firefox", Kind.HANG),
    ("chrome", Kind.CHROME),
    ("chrome", Kind.CHROME),
    ("chrome", Kind.CHROME),
    ("chrome", Kind.CHROME_BUSY),
    ("chrome", Kind.REFUSED),
    ("chromium", Kind.CDP),
    ("grid", Kind.WRONG_PATH),
)


class _BusySchedule:
    """Alternating ready and busy spells drawn from a seeded generator, extended lazily."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._start_busy = rng.random() < 0.5
        self._toggles = [rng.uniform(*BUSY_SCHEDULE_FIRST)]

    def busy_at(self, elapsed: float) -> bool:
        while self._toggles[-1] <= elapsed:
            busy = self._start_busy != (len(self._toggles) % 2 == 1)
            spell = BUSY_SCHEDULE_BUSY if busy else BUSY_SCHEDULE_READY
            self._toggles.append(self._toggles[-1] + self._rng.uniform(*spell))
        passed = bisect.bisect_right(self._toggles, elapsed)
        return self._start_busy != (passed % 2 == 1)


@dataclass(eq=False)
class _Browser:
    name: str
    kind: Kind
    path: str
    latency: float = 0.0
    schedule: _BusySchedule | None = None
    forced_busy: bool | None = None
    port: int = 0

    def busy_at(self, elapsed: float) -> bool:
        if self.forced_busy is not None:
            return self.forced_busy
        if self.kind is Kind.FLAPPING:
            return int(max(elapsed, 0.0) // FLAP_PERIOD) % 2 == 1
        if self.schedule is not None:
            return self.schedule.busy_at(elapsed)
        return False

    def answer(self, data: Data, elapsed: float) -> dict[str, Any]:
        if self.kind is Kind.CDP:
            return _cdp_answer(data)
        checked = _check_command(data)
        if isinstance(checked, dict):
            return checked
        ready = not self.busy_at(elapsed)
        if self.kind in _CHROME_KINDS:
            return {
                "id": checked,
                "result": {
                    "build": {"version": CHROME_VERSION},
                    "message": CHROME_READY_MESSAGE if ready else CHROME_BUSY_MESSAGE,
                    "os": _OS_META,
                    "ready": ready,
                },
                "type": "success",
            }
        message = "" if ready else FIREFOX_BUSY_MESSAGE
        return {"type": "success", "id": checked, "result": {"ready": ready, "message": message}}


_OS_META = {
    "arch": platform.machine() or "x86_64",
    "name": platform.system() or "Linux",
    "version": platform.release() or "6.18.0",
}


def _bidi_error(request_id: int | None, error: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "error": error, "message": message}


def _check_command(data: Data) -> int | dict[str, Any]:
    """The id of a valid ``session.status`` command, or the BiDi error answer to send."""
    if not isinstance(data, str):
        return _bidi_error(None, "invalid argument", "expected a JSON text frame, got binary")
    try:
        command = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return _bidi_error(None, "invalid argument", f"cannot parse the command as JSON: {exc}")
    if not isinstance(command, dict):
        return _bidi_error(None, "invalid argument", "a command must be a JSON object")
    request_id = command.get("id")
    if type(request_id) is not int or not 0 <= request_id <= _MAX_ID:
        return _bidi_error(
            None,
            "invalid argument",
            f"expected 'id' to be an integer from 0 to 2^53-1, got {json.dumps(request_id)}",
        )
    method = command.get("method")
    if not isinstance(method, str):
        return _bidi_error(request_id, "invalid argument", "expected 'method' to be a string")
    params = command.get("params")
    if not isinstance(params, dict):
        return _bidi_error(request_id, "invalid argument", "expected 'params' to be an object")
    if method != "session.status":
        return _bidi_error(request_id, "unknown command", method)
    if params:
        return _bidi_error(
            request_id,
            "invalid argument",
            f"session.status takes no parameters, got {', '.join(map(repr, params))}",
        )
    return request_id


def _cdp_answer(data: Data) -> dict[str, Any]:
    """What Chromium's DevTools socket answers to a command it does not know."""
    try:
        command = json.loads(data) if isinstance(data, str) else None
    except (ValueError, RecursionError):
        return {"error": {"code": -32700, "message": "JSON: invalid token"}}
    request_id = command.get("id") if isinstance(command, dict) else None
    if type(request_id) is not int:
        return {"error": {"code": -32600, "message": "Message must have integer 'id' property"}}
    assert isinstance(command, dict)
    method = command.get("method")
    if not isinstance(method, str):
        return {
            "id": request_id,
            "error": {"code": -32600, "message": "Message must have string 'method' property"},
        }
    return {"id": request_id, "error": {"code": -32601, "message": f"'{method}' wasn't found"}}


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
        browsers: Sequence[_Browser],
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
            max_size=_MAX_MESSAGE,
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
                    await asyncio.sleep(browser.latency + self._jitter.uniform(0.0, _JITTER))
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
        browsers: list[_Browser],
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
        browsers: list[_Browser] = []
        for _ in range(scale):
            for prefix, kind in _MIX:
                counters[prefix] = counters.get(prefix, 0) + 1
                name = f"{prefix}-{counters[prefix]}"
                browsers.append(_plan(name, kind, random.Random(f"{seed}:{name}"), shared))
        return cls(browsers, shared=shared, seed=seed, clock=clock)

    @classmethod
    def start_healthy(cls, count: int) -> DemoFarm:
        """``count`` always-ready Firefox-like endpoints ``demo-1`` ... on one shared socket,
        answering without added latency: a load-test target."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        browsers = [
            _Browser(f"demo-{i}", Kind.FIREFOX, f"/session/demo-{i}") for i in range(1, count + 1)
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
        if browser.kind not in _STATUS_KINDS:
            raise ValueError(f"demo endpoint {name!r} ({browser.kind}) has no ready state")
        browser.forced_busy = busy

    def ready_now(self, name: str) -> bool | None:
        """What ``result.ready`` the endpoint answers at the clock's current time, or
        ``None`` for one that gives no status answer."""
        browser = self._browser(name)
        if browser.kind not in _STATUS_KINDS:
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

    def _browser(self, name: str) -> _Browser:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no demo endpoint named {name!r}") from None

    def _elapsed(self) -> float:
        return self._clock() - self._started_at


def _plan(name: str, kind: Kind, rng: random.Random, shared: bool) -> _Browser:
    suffix = f"/{name}" if shared else ""
    if kind is Kind.CDP:
        path = f"/devtools/browser/{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    elif kind is Kind.WRONG_PATH:
        path = "/wd/hub" + suffix
    else:
        path = "/session" + suffix
    if kind in _CHROME_KINDS:
        latency = rng.uniform(0.010, 0.060)
    elif kind is Kind.CDP:
        latency = rng.uniform(0.001, 0.010)
    else:
        latency = rng.uniform(0.002, 0.030)
    busy_kinds = (Kind.FIREFOX_BUSY, Kind.CHROME_BUSY)
    schedule = _BusySchedule(rng) if kind in busy_kinds else None
    return _Browser(name, kind, path, latency=latency, schedule=schedule)


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


def _raise_fd_limit() -> None:
    """Thousands of endpoints need thousands of descriptors: lift the soft limit."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(farm: DemoFarm) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with farm:
        sys.stdout.write("".join(f"{spec}\n" for spec in farm.specs))
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a demo farm in this process until SIGTERM or SIGINT; print its specs first."""
    parser = argparse.ArgumentParser(
        prog="python -m bidi_tui.demo",
        description="Serve demo WebDriver BiDi endpoints on 127.0.0.1 until SIGTERM/SIGINT. "
        "Prints one NAME=ws://127.0.0.1:PORT/PATH spec per line on stdout once listening.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--healthy", type=int, metavar="N", help="N always-ready endpoints on one socket"
    )
    group.add_argument(
        "--scale", type=int, default=1, metavar="K", help="K copies of the realistic farm"
    )
    parser.add_argument("--seed", type=int, help="seed of the farm's randomness")
    args = parser.parse_args(argv)
    try:
        if args.healthy is not None:
            farm = DemoFarm.start_healthy(args.healthy)
        else:
            farm = DemoFarm.start(seed=args.seed, scale=args.scale)
    except ValueError as exc:
        parser.error(str(exc))
    _raise_fd_limit()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(farm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
