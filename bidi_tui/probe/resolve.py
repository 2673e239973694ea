"""Host-name lookups that never outlive a check's deadline nor hold up other checks or exit.

The event loop's ``getaddrinfo`` runs in the default executor: a handful of threads that a
resolver which never answers fills for tens of seconds, so lookups of healthy names queue
behind them, and ``asyncio.run`` waits for the stuck threads before it returns.

:func:`resolve` asks c-ares (pycares) first: DNS and ``/etc/hosts`` on a few sockets of one
process-wide channel, no thread per lookup, so any number of names that hang cost nothing
but memory and every caller waits only until its own deadline (``bench/dns_deadline.py``
measured it against the alternatives). A name c-ares finds nowhere goes on to the system
resolver, as every other program on the machine would see it (mDNS, NSS modules), on the
bounded daemon threads of :class:`Resolver`. Without pycares, every lookup takes that road.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import socket
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

# Lookup threads at most: each stuck one costs a thread and one UDP socket until the
# system resolver gives up; the file-descriptor budget (bidi_tui.limits) counts them.
LOOKUP_THREADS = 32

AddressInfo = tuple[
    socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int] | tuple[str, int, int, int]
]
# How long an idle lookup thread waits for another lookup before it ends.
IDLE_LINGER = 2.0

_Key = tuple[str, int, int, int]


class Resolver:
    """The system resolver on daemon threads of its own (never joined at exit), at most
    ``max_threads`` at once and one per name at a time: checks of one name share its lookup,
    so a name whose lookups hang holds one thread, not one per check. A lookup nobody waits
    for any more is dropped before it starts."""

    def __init__(self, max_threads: int = LOOKUP_THREADS) -> None:
        self.max_threads = max(1, max_threads)
        self._lock = threading.Lock()
        self._work_arrived = threading.Condition(self._lock)
        self._queue: deque[tuple[_Key, Future[list[AddressInfo]]]] = deque()
        self._in_flight: dict[_Key, Future[list[AddressInfo]]] = {}
        self._waiters: dict[_Key, int] = {}
        self.threads = 0  # lookup threads alive now
        self.busy = 0  # of which are inside getaddrinfo

    async def getaddrinfo(self, host: str, port: int) -> list[AddressInfo]:
        """TCP addresses of ``host``; raises ``socket.gaierror`` as ``socket.getaddrinfo``."""
        numeric = _numeric(host, port)
        if numeric is not None:
            return numeric
        key: _Key = (host, port, 0, socket.SOCK_STREAM)
        with self._lock:
            lookup = self._in_flight.get(key)
            if lookup is None:
                lookup = Future()
                self._in_flight[key] = lookup
                self._queue.append((key, lookup))
                self._work_arrived.notify()
                if self.threads < self.max_threads and self.threads - self.busy < len(self._queue):
                    self.threads += 1
                    threading.Thread(target=self._work, name="bidi-tui lookup", daemon=True).start()
            self._waiters[key] = self._waiters.get(key, 0) + 1
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[AddressInfo]] = loop.create_future()

        def relay(done: Future[list[AddressInfo]]) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed
                loop.call_soon_threadsafe(_settle, waiter, done)

        lookup.add_done_callback(relay)
        try:
            return await waiter
        finally:
            with self._lock:
                left = self._waiters.get(key, 1) - 1
                if left:
                    self._waiters[key] = left
                else:
                    self._waiters.pop(key, None)
                    # Nobody waits: a lookup not started yet is dropped (cancel() is a no-op
                    # once a thread runs it).
                    if lookup.cancel() and self._in_flight.get(key) is lookup:
                        del self._in_flight[key]

    def _work(self) -> None:
        while True:
            with self._lock:
                # An idle thread lingers a moment: a round of checks looks up many names.
                if not self._queue and not self._work_arrived.wait_for(
                    lambda: bool(self._queue), IDLE_LINGER
                ):
                    self.threads -= 1
                    return
                key, lookup = self._queue.popleft()
                if not lookup.set_running_or_notify_cancel():
                    continue
                self.busy += 1
            try:
                result: list[Any] = socket.getaddrinfo(*key)
            except BaseException as exc:  # handed to the waiters, who raise it
                self._finish(key, lookup)
                lookup.set_exception(exc)
            else:
                self._finish(key, lookup)
                lookup.set_result(result)

    def _finish(self, key: _Key, lookup: Future[list[AddressInfo]]) -> None:
        with self._lock:
            self.busy -= 1
            if self._in_flight.get(key) is lookup:
                del self._in_flight[key]  # the next check looks the name up afresh


def _settle(waiter: asyncio.Future[list[AddressInfo]], done: Future[list[AddressInfo]]) -> None:
    if waiter.done():
        return
    if done.cancelled():
        waiter.cancel()
        return
    exc = done.exception()
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(done.result())


def _numeric(host: str, port: int) -> list[AddressInfo] | None:
    """The address of an IP literal, without a thread (it needs no lookup)."""
    try:
        result: list[Any] = socket.getaddrinfo(
            host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
    except (socket.gaierror, UnicodeError):
        return None
    return result


class AresResolver:
    """c-ares lookups (DNS, ``/etc/hosts``) on one channel, answered on c-ares's own thread."""

    def __init__(self) -> None:
        import pycares

        self._pycares = pycares
        self._channel = pycares.Channel()  # reads resolv.conf; follows later changes itself
        # Closed while pycares still works: its own __del__ fails at interpreter teardown.
        atexit.register(self._channel.close)
        errno = pycares.errno
        self._not_found = {errno.ARES_ENOTFOUND, errno.ARES_ENODATA}
        self._no_answer = {errno.ARES_ETIMEOUT, errno.ARES_ECONNREFUSED}

    async def getaddrinfo(self, host: str, port: int) -> list[AddressInfo] | None:
        """TCP addresses of ``host``, or ``None`` when DNS and /etc/hosts know no such name."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[Any, int | None]] = loop.create_future()

        def done(result: Any, errorno: int | None) -> None:  # maybe on c-ares's thread
            with contextlib.suppress(RuntimeError):  # the caller's loop is closed
                loop.call_soon_threadsafe(_settle_once, waiter, (result, errorno))

        self._channel.getaddrinfo(host, port, type=socket.SOCK_STREAM, callback=done)
        result, errorno = await waiter
        if errorno is not None:
            if errorno in self._not_found:
                return None
            text = _text(self._pycares.errno.strerror(errorno))
            if errorno in self._no_answer:
                text = f"no answer from the DNS server ({text})"
            raise socket.gaierror(socket.EAI_AGAIN, text)
        return [
            (
                socket.AddressFamily(node.family),
                socket.SOCK_STREAM,
                node.protocol,
                "",
                (_text(node.addr[0]), *node.addr[1:]),
            )
            for node in result.nodes
        ]


def _text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _settle_once(waiter: asyncio.Future[Any], value: Any) -> None:
    if not waiter.done():
        waiter.set_result(value)


SYSTEM_RESOLVER = Resolver()


@functools.cache
def _ares_resolver() -> AresResolver | None:
    """The process's c-ares channel, made on first use; None without a working pycares."""
    try:
        return AresResolver()
    except Exception:  # not installed, or c-ares cannot start here: the system resolver
        return None


async def resolve(host: str, port: int) -> list[AddressInfo]:
    """TCP addresses of ``host``; raises ``socket.gaierror`` when it does not resolve.

    Never blocks the loop and holds no thread while a DNS server stays silent: bound it
    with the caller's deadline."""
    numeric = _numeric(host, port)
    if numeric is not None:
        return numeric
    ares = _ares_resolver()
    if ares is not None:
        found = await ares.getaddrinfo(host, port)
        if found:
            return found
    return await SYSTEM_RESOLVER.getaddrinfo(host, port)
