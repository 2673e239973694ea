"""The floor: a minimal hand-written asyncio WebSocket client doing one BiDi status check.

It does exactly what a check needs and nothing more: TCP connect, the HTTP upgrade with a
fixed ``Sec-WebSocket-Key`` (so the expected ``Sec-WebSocket-Accept`` is computed once),
one masked text frame with ``session.status``, one answer frame parsed as JSON, then the
close handshake (our close frame, the server's close frame, TCP close). No extensions, no
fragmentation, no keepalive, no limits beyond what the benchmark needs. Loopback only.

``RawConnection`` keeps the socket open for the connection-reuse prototype: after one
upgrade, each :meth:`RawConnection.status` is one frame out and one frame in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
from typing import Any
from urllib.parse import urlsplit

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample nonce, fixed
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ACCEPT = base64.b64encode(hashlib.sha1((KEY + _GUID).encode()).digest())
_CLOSE_PAYLOAD = struct.pack("!H", 1000)


class RawCheckError(Exception):
    """The endpoint did not give a valid ``session.status`` answer."""


def _mask(payload: bytes) -> tuple[bytes, bytes]:
    """A random 4-byte mask and the payload XORed with it (RFC 6455 section 5.3)."""
    mask = os.urandom(4)
    size = len(payload)
    if size == 0:
        return mask, payload
    repeated = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big"
    )
    return mask, masked


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame from client to server."""
    mask, masked = _mask(payload)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return header + mask + masked


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload). Fragmentation is not supported."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    if second & 0x80 or not first & 0x80:
        raise RawCheckError("masked or fragmented server frame")
    return first & 0x0F, await reader.readexactly(size)


def status_request(request_id: int) -> bytes:
    command = {"id": request_id, "method": "session.status", "params": {}}
    return client_frame(0x1, json.dumps(command).encode())


def parse_status(payload: bytes, request_id: int) -> tuple[bool, str]:
    """``(ready, message)`` from a ``session.status`` success answer."""
    answer: Any = json.loads(payload)
    if not isinstance(answer, dict) or answer.get("id") != request_id:
        raise RawCheckError(f"unexpected answer {payload[:80]!r}")
    result = answer.get("result")
    if answer.get("type") != "success" or not isinstance(result, dict):
        raise RawCheckError(f"not a success answer: {payload[:80]!r}")
    ready, message = result.get("ready"), result.get("message")
    if not isinstance(ready, bool) or not isinstance(message, str):
        raise RawCheckError(f"malformed result: {payload[:80]!r}")
    return ready, message


class RawConnection:
    """One upgraded WebSocket connection to a BiDi endpoint."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.next_id = 1

    @classmethod
    async def open(cls, url: str) -> RawConnection:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                (
                    f"GET {parts.path or '/'} HTTP/1.1\r\n"
                    f"Host: {parts.netloc}\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {KEY}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101") or ACCEPT not in head:
                status_line = head.split(b"\r\n", 1)[0]
                raise RawCheckError(f"upgrade refused: {status_line!r}")
        except BaseException:
            writer.transport.abort()
            raise
        return cls(reader, writer)

    async def status(self) -> tuple[bool, str]:
        """Send ``session.status`` and read its answer on this open connection."""
        request_id = self.next_id
        self.next_id += 1
        self.writer.write(status_request(request_id))
        opcode, payload = await read_frame(self.reader)
        if opcode != 0x1:
            raise RawCheckError(f"expected a text frame, got opcode {opcode}")
        return parse_status(payload, request_id)

    async def close(self) -> None:
        """The close handshake: our close frame, the server's, then the server ends TCP."""
        try:
            self.writer.write(client_frame(0x8, _CLOSE_PAYLOAD))
            opcode, _ = await read_frame(self.reader)
            if opcode != 0x8:
                raise RawCheckError(f"expected a close frame, got opcode {opcode}")
            self.writer.close()
            await self.writer.wait_closed()
        finally:
            self.writer.transport.abort()

    def abort(self) -> None:
        self.writer.transport.abort()


async def check(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """One complete check on a fresh connection: ``(ready, message)``; raises on trouble."""
    async with asyncio.timeout(timeout):
        connection = await RawConnection.open(url)
        try:
            answer = await connection.status()
        except BaseException:
            connection.abort()
            raise
        await connection.close()
        return answer


async def check_many(urls: list[str], concurrency: int = 256, timeout: float = 5.0) -> int:
    """Check every URL, at most ``concurrency`` at once; returns how many were ready."""
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> bool:
        async with gate:
            ready, _ = await check(url, timeout)
            return ready

    return sum(await asyncio.gather(*(one(url) for url in urls)))


if __name__ == "__main__":
    import sys

    for target in sys.argv[1:]:
        print(target, asyncio.run(check(target)))
