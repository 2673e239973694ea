"""The websockets client classes the probe connects with: they end a connection as soon
as its verdict is known, look the host up within the deadline and note when each step ends.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import CloseCode
from websockets.protocol import State as ProtocolState

from bidi_tui.probe.resolve import resolve

# How much of the HTTP answer to the upgrade is kept to judge it (status line and headers).
MAX_ANSWER_HEAD = 16 * 1024


class ProbeConnection(ClientConnection):
    """A client connection that ends as soon as the verdict is known, not at the deadline.

    websockets, following the RFCs, waits for the server to close TCP in several places where
    a misbehaving server never does, and the verdict would read ``timeout``:

    - after failing the connection itself (a frame too large, bad UTF-8, bad framing): the
      close frame with our code is out, so TCP is dropped and ``recv()`` raises with it;
    - after the server's close frame (which we answer): its code and reason are the verdict;
    - on an HTTP answer to the upgrade that cannot be read or whose body runs to the end of
      the connection (a 200 without Content-Length): what arrived is the verdict.

    It also keeps a TLS failure that arrives after the handshake (a server that demands a
    client certificate says so in an alert then), which websockets reports as a bare close.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer_head = bytearray()  # the start of the HTTP answer to the upgrade
        self.tls_failure: ssl.SSLError | None = None

    def data_received(self, data: bytes) -> None:
        upgrading = self.protocol.state is ProtocolState.CONNECTING
        if upgrading and len(self.answer_head) < MAX_ANSWER_HEAD:
            self.answer_head += data[: MAX_ANSWER_HEAD - len(self.answer_head)]
        super().data_received(data)
        if upgrading:
            self._end_rejected_upgrade()
            return
        protocol = self.protocol
        sent = protocol.close_sent
        if protocol.state is not ProtocolState.CLOSING or sent is None:
            return
        if protocol.close_rcvd is None:
            if sent.code != CloseCode.NORMAL_CLOSURE:  # ours is a polite close: let it finish
                self.transport.abort()
        elif protocol.close_rcvd_then_sent and not self.transport.is_closing():
            # The server closed first and our answer is written; do not wait for its TCP close.
            if self.transport.get_write_buffer_size():
                self.transport.abort()
            else:
                self.transport.close()

    def send_data(self) -> None:
        super().send_data()
        protocol = self.protocol
        sent = protocol.close_sent
        if (
            protocol.state is ProtocolState.CLOSING
            and sent is not None
            and sent.code != CloseCode.NORMAL_CLOSURE
            and protocol.close_rcvd is None
            and not self.transport.is_closing()
        ):
            # We failed the connection (too large, too many fragments): our close frame is
            # written, so end TCP now instead of waiting for a server that may never answer.
            if self.transport.get_write_buffer_size():
                self.transport.abort()
            else:
                self.transport.close()

    def _end_rejected_upgrade(self) -> None:
        if self.response_rcvd.done() or self.transport.is_closing():
            return
        if self.protocol.handshake_exc is not None:  # unreadable as HTTP: nothing more to wait for
            self.transport.abort()
            return
        head = bytes(self.answer_head)
        end = head.find(b"\r\n\r\n")
        if end < 0:
            return
        status_line, *header_lines = head[:end].split(b"\r\n")
        if status_line.split(b" ", 2)[1:2] == [b"101"]:
            return
        names = {line.split(b":", 1)[0].strip().lower() for line in header_lines}
        if b"content-length" in names or b"transfer-encoding" in names:
            return  # a body of known length: websockets ends when it is in
        self.eof_received()  # the body would run to EOF: take what came as all of it

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, ssl.SSLError):
            self.tls_failure = exc
        super().connection_lost(exc)


class ProbeConnect(connect):
    """``connect`` that follows no redirects, looks the host up with a deadline (on
    bidi_tui.probe.resolve, not the loop's executor) and records when each step is done."""

    lookup_started_at: float | None = None
    resolved_at: float | None = None
    tcp_connected_at: float | None = None  # TCP up, before any TLS
    tcp_ready_at: float | None = None  # TCP and TLS up
    opened: ClientConnection | None = None  # the last connection opened, for its TLS failure

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc

    async def open_tcp_connection(self) -> ClientConnection:
        kwargs = self.create_connection_kwargs
        if self.proxy is None and kwargs.get("sock") is None:
            kwargs["sock"] = sock = await self._open_socket()
            try:
                connection = await super().open_tcp_connection()
            except BaseException:
                sock.close()
                raise
            finally:
                del kwargs["sock"]
        else:
            connection = await super().open_tcp_connection()
        self.tcp_ready_at = time.perf_counter()
        self.opened = connection
        return connection

    async def _open_socket(self) -> socket.socket:
        """A TCP socket connected to the first address of the host that takes it."""
        host, port = self.ws_uri.host, self.ws_uri.port
        self.lookup_started_at = time.perf_counter()
        addresses = await resolve(host, port)
        self.resolved_at = time.perf_counter()
        loop = asyncio.get_running_loop()
        failures: list[OSError] = []
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                failures.append(exc)
                continue
            except BaseException:
                sock.close()
                raise
            self.tcp_connected_at = time.perf_counter()
            return sock
        # The first address's failure says what is wrong; the others were fallbacks.
        raise failures[0] if failures else OSError(f"no address for {host!r}")


def late_tls_failure(connector: ProbeConnect | None) -> ssl.SSLError | None:
    """A TLS alert that ended the connection after the TLS handshake, if one did."""
    connection = None if connector is None else connector.opened
    return connection.tls_failure if isinstance(connection, ProbeConnection) else None
