"""The second zoo: endpoints (and machines) that are hostile or unlucky, not just broken.

Cases in the style of :mod:`tests.zoo` (the same :class:`~tests.zoo.ZooCase`, run by the same
:func:`~tests.zoo.run_zoo_measured`), each a local server whose real verdict is known at once
but which keeps the connection open hoping the client waits for its deadline, a TLS server that
demands a client certificate, a message cut into thousands of fragments, and a browser stopped
with SIGSTOP (the kernel still accepts TCP for it, then nothing).

The machine's own hostility (a resolver that never answers, a small open-file limit) cannot be
a server on a port: ``tests/test_zoo_hostile.py`` runs those in subprocesses, with
:func:`silent_nameserver` and :data:`SILENT_RESOLV_CONF` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from websockets.asyncio.messages import MAX_FRAGMENTS
from websockets.asyncio.server import ServerConnection

from bidi_tui.model import ErrorKind, Phase
from tests.bidi_servers import (
    HOST,
    Seen,
    Served,
    bidi_server,
    raw_response_server,
    ws_url,
)
from tests.zoo import TEARDOWN_CLOSE_TIMEOUT, ServerFactory, ZooCase, ZooOutcome, ZooTls, zoo_tls

FRAGMENTED_BYTES = 200 * 1024
FRAGMENTS = MAX_FRAGMENTS + 904  # 5,000: past websockets' limit for one message
HUGE_HEADER_BYTES = 100 * 1024
#: The address of the DNS server that never answers (the DNS test binds UDP port 53 there).
SILENT_NAMESERVER = "127.0.0.2"
SILENT_RESOLV_CONF = f"nameserver {SILENT_NAMESERVER}\noptions timeout:5 attempts:2\n"


# --- servers -----------------------------------------------------------------------------


def close_kept_open_server(code: int, reason: str) -> ServerFactory:
    """Sends a close frame with ``code`` and ``reason``, then never reads (so never sees the
    client's answer) and never closes TCP; its connections are dropped at teardown."""

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Served]:
        kept: list[asyncio.Transport] = []

        async def script(connection: ServerConnection, request_id: int) -> None:
            connection.protocol.send_close(code, reason)
            connection.send_data()
            connection.transport.pause_reading()
            kept.append(connection.transport)

        async with bidi_server(script, close_timeout=TEARDOWN_CLOSE_TIMEOUT) as served:
            try:
                yield served
            finally:
                for transport in kept:  # websockets would wait for a close it never reads
                    transport.abort()

    return factory


def kept_open_answer(response: bytes) -> ServerFactory:
    """Answers the upgrade with ``response`` and keeps the connection open, silent."""
    return lambda: raw_response_server(response, hang_up=False)


HTTP_200_NO_LENGTH = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: hostile\r\n\r\n<html>a page that "
)
HTTP_HUGE_HEADER = (
    b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: " + b"p" * HUGE_HEADER_BYTES + b"\r\n\r\n"
)
HTTP_STATUS_999 = b"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n"


def client_certificate_server(*, tls12: bool = False) -> ServerFactory:
    """A TLS server that demands a client certificate from the zoo CA, as nginx or Go do with
    client authentication on: TLS 1.3 refuses it with an alert after the handshake, TLS 1.2
    in it. Blocking sockets on a thread of its own, as asyncio's TLS server closes without
    sending the alert."""

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[Served]:
        tls: ZooTls = zoo_tls()
        context = tls.server_context(tls.valid)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(tls.ca_file)
        if tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        seen = Seen()
        stop = threading.Event()
        listener = socket.create_server((HOST, 0))
        listener.settimeout(0.05)

        def serve() -> None:
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                seen.connections += 1
                connection.settimeout(2.0)
                with (
                    contextlib.suppress(OSError),  # ssl.SSLError is one
                    connection,
                    context.wrap_socket(connection, server_side=True) as wrapped,
                ):
                    wrapped.recv(4096)  # never reached without a client certificate

        thread = threading.Thread(target=serve, name="client-cert TLS", daemon=True)
        thread.start()
        try:
            port = listener.getsockname()[1]
            yield Served(ws_url(port, scheme="wss"), port, seen)
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 5)
            listener.close()

    return factory


def fragmenting_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Answers ``ready`` with a 200 KiB message cut into :data:`FRAGMENTS` fragments."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        result = {"ready": True, "message": "", "pad": "f" * FRAGMENTED_BYTES}
        text = json.dumps({"type": "success", "id": request_id, "result": result})
        size = -(-len(text) // FRAGMENTS)
        await connection.send([text[i : i + size] for i in range(0, len(text), size)])

    return bidi_server(script, close_timeout=TEARDOWN_CLOSE_TIMEOUT)


# A listening socket in a child process, which the parent then stops with SIGSTOP: the
# kernel still completes TCP handshakes into its backlog, and nothing ever answers.
_LISTENER = """
import socket, sys, time
server = socket.create_server((sys.argv[1], 0), backlog=64)
print(server.getsockname()[1], flush=True)
time.sleep(600)
"""


@contextlib.asynccontextmanager
async def stopped_process(scheme: str = "ws") -> AsyncIterator[Served]:
    """A server process frozen with SIGSTOP (as a hung browser), killed at exit."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LISTENER, HOST, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        port = int(await child.stdout.readline())
        os.kill(child.pid, signal.SIGSTOP)
        yield Served(ws_url(port, scheme=scheme), port, Seen())
    finally:
        child.kill()  # SIGKILL ends a stopped process too
        await child.wait()


# --- the cases ---------------------------------------------------------------------------

E = ErrorKind
P = Phase
HUNG = "may be hung"


# fmt: off
def _alert_named_when_tls(outcome: ZooOutcome) -> None:
    error = outcome.result.error
    assert error is not None
    if error.kind is E.TLS:
        assert "CERTIFICATE_REQUIRED" in error.detail and error.phase is P.CONNECT, error
    else:
        assert error.phase is P.HANDSHAKE, error


HOSTILE: tuple[ZooCase, ...] = (
    # --- the verdict is known at once; the server hopes we wait ---------------------------
    ZooCase(
        "close-1000-kept-open", "prompt", "sends close 1000 'bye', keeps TCP open, reads nothing",
        close_kept_open_server(1000, "bye"), kinds=(E.CLOSED,), phase=P.RESPONSE,
        detail=("code 1000", "bye"), hint="path",
    ),
    ZooCase(
        "close-1001-kept-open", "prompt", "sends close 1001 'going away', keeps TCP open",
        close_kept_open_server(1001, "going away"), kinds=(E.CLOSED,), phase=P.RESPONSE,
        detail=("code 1001", "going away"), hint="shutting down",
    ),
    ZooCase(
        "close-1011-kept-open", "prompt", "sends close 1011 'internal error', keeps TCP open",
        close_kept_open_server(1011, "internal error"), kinds=(E.CLOSED,), phase=P.RESPONSE,
        detail=("code 1011", "internal error"), hint="logs",
    ),
    ZooCase(
        "http-200-kept-open", "prompt",
        "HTTP 200 with headers, no Content-Length, body never ends",
        kept_open_answer(HTTP_200_NO_LENGTH), kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE,
        detail=("HTTP 200 OK",), hint="not a WebSocket endpoint",
    ),
    ZooCase(
        "http-huge-header", "prompt",
        f"a 101 with a {HUGE_HEADER_BYTES // 1024} KiB header line, kept open",
        kept_open_answer(HTTP_HUGE_HEADER), kinds=(E.PROTOCOL,), phase=P.HANDSHAKE,
        detail=("oversized",), hint="headers",
    ),
    ZooCase(
        "http-999-kept-open", "prompt", "HTTP status 999, kept open",
        kept_open_answer(HTTP_STATUS_999), kinds=(E.PROTOCOL,), phase=P.HANDSHAKE,
        detail=("999",),
    ),
    # --- TLS that asks what we do not have ------------------------------------------------
    # TLS 1.3 refuses the missing certificate only after the client's Finished, when the
    # upgrade request is on its way; the server then closes with that request unread, so
    # its kernel may send a reset that overtakes the alert. Either way the hint names the
    # client certificate; the alert, when it arrives first, makes the verdict `tls`.
    ZooCase(
        "tls-client-cert", "tls-hostile",
        "wss:// demanding a client certificate (TLS 1.3: refused after the handshake)",
        client_certificate_server(), kinds=(E.TLS, E.CLOSED), hint="client certificate",
        check=_alert_named_when_tls,
    ),
    ZooCase(
        "tls12-client-cert", "tls-hostile",
        "wss:// demanding a client certificate over TLS 1.2 (refused in the handshake)",
        client_certificate_server(tls12=True), kinds=(E.TLS,), phase=P.CONNECT,
        hint="client certificate",
    ),
    # --- abuse of the framing ------------------------------------------------------------
    ZooCase(
        "fragments-5000", "framing",
        f"answers {FRAGMENTED_BYTES // 1024} KiB in {FRAGMENTS:,} fragments",
        fragmenting_server, kinds=(E.TOO_LARGE,), phase=P.RESPONSE,
        detail=(f"over {MAX_FRAGMENTS} fragments",),
    ),
    # --- a hung browser --------------------------------------------------------------------
    ZooCase(
        "browser-stopped", "hung", "a server process stopped with SIGSTOP (TCP still accepted)",
        stopped_process, kinds=(E.TIMEOUT,), phase=P.HANDSHAKE, hint=HUNG, at_deadline=True,
    ),
    ZooCase(
        "browser-stopped-wss", "hung", "the same over wss:// (the TLS handshake never ends)",
        lambda: stopped_process("wss"), kinds=(E.TIMEOUT,), phase=P.CONNECT,
        detail=("connect phase",), hint=HUNG, at_deadline=True,
    ),
)
# fmt: on


def hostile_case(name: str) -> ZooCase:
    for case in HOSTILE:
        if case.name == name:
            return case
    raise KeyError(name)


# --- a DNS server that never answers -----------------------------------------------------


@contextlib.contextmanager
def silent_nameserver(address: str = SILENT_NAMESERVER) -> Iterator[Callable[[], int]]:
    """Reads and drops every DNS query sent to ``address``:53 (UDP and TCP) while inside;
    yields a function counting the queries seen. Needs root (port 53)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind((address, 53))
    tcp.bind((address, 53))
    tcp.listen(64)  # accepted by the kernel, never read
    udp.settimeout(0.1)
    stop = threading.Event()
    seen = [0]

    def drop() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                udp.recv(4096)
                seen[0] += 1

    thread = threading.Thread(target=drop, name="silent DNS", daemon=True)
    thread.start()
    try:
        yield lambda: seen[0]
    finally:
        stop.set()
        thread.join(2)
        udp.close()
        tcp.close()
