"""The zoo: misbehaving WebDriver BiDi endpoints as named, reusable cases.

Each :class:`ZooCase` names one way an endpoint can misbehave (silence, a wrong HTTP status,
a bad certificate, an answer that is not BiDi, a 100 MB frame...), starts a local server that
behaves that way and says what verdict the probe must give. Tests parametrize over
:data:`ZOO`, the farm test and the benchmarks start them all at once with :func:`open_zoo`::

    with trust_zoo_ca():                       # wss:// cases chain to a private test CA
        async with open_zoo() as members:      # every server listening, on free ports
            endpoints = [member.endpoint for member in members]
        outcomes = await run_zoo(deadline=1.5)           # every case probed at once
        outcomes = await run_zoo_measured(deadline=1.5)  # timed about as if alone

:func:`zoo_in_thread` serves the same from a background thread, for a client in another
process (``bidi-tui check``) or another event loop.

Servers listen on 127.0.0.1 (one on ::1) on OS-assigned ports; nothing reaches off the
machine (the DNS case uses a ``.invalid`` name, which never resolves). Every loop a server
runs is bounded, and every server drops its connections when its context exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.model import ErrorKind, Phase, ProbeResult, State
from bidi_tui.probe import MAX_MESSAGE_SIZE, probe
from tests.bidi_servers import (
    HOST,
    Seen,
    Served,
    bidi_server,
    closing_server,
    dropping_server,
    event_frame,
    flood_server,
    hangup_server,
    http_response,
    http_server,
    raw_response_server,
    raw_server,
    read_head,
    replying_server,
    result_frame,
    silent_server,
    success_frame,
    tcp_silent_server,
    ws_url,
)

ServerFactory = Callable[[], contextlib.AbstractAsyncContextManager[Served]]

#: Deadline of one zoo check in the tests: short, so cases that run into it keep the suite fast.
ZOO_DEADLINE = 1.5
#: A check must have ended by its deadline plus this.
DEADLINE_MARGIN = 1.0
#: Close handshakes of zoo servers that misbehave on purpose wait this long at teardown.
TEARDOWN_CLOSE_TIMEOUT = 0.1

DNS_HOST = "no-such-host.bidi-tui.invalid"  # RFC 6761: .invalid never resolves
ANNOUNCED_FRAME_BYTES = 100 * 1024 * 1024
HUGE_META_BYTES = 900 * 1024  # under the probe's 1 MiB message limit
MANY_EVENTS = 500
PING_FLOOD_BEFORE_ANSWER = 500
PING_FLOOD_LIMIT = 50_000
DRIP_INTERVAL = 0.05
DRIP_LIMIT_BYTES = 4000


# --- certificates ------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooTls:
    """Certificates for the TLS cases, in files of a temporary directory."""

    directory: Path
    ca_file: Path  # the private test CA: trusted only inside trust_zoo_ca()
    valid: tuple[Path, Path]  # (certificate chain, key) issued by the CA for 127.0.0.1
    expired: tuple[Path, Path]  # issued by the CA, expired yesterday
    wrong_host: tuple[Path, Path]  # issued by the CA for bidi.example, not 127.0.0.1
    self_signed: tuple[Path, Path]  # a self-signed certificate for 127.0.0.1

    def server_context(self, pair: tuple[Path, Path]) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*pair)
        return context


@cache
def zoo_tls() -> ZooTls:
    """The zoo's certificates, made once per process (a second or so of key generation)."""
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    holder = tempfile.TemporaryDirectory(prefix="bidi-tui-zoo-")
    _KEEP.append(holder)  # removed when the process exits
    directory = Path(holder.name)
    now = dt.datetime.now(dt.UTC)
    ca = trustme.CA(organization_name="bidi-tui zoo CA")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def write(name: str, leaf: Any) -> tuple[Path, Path]:
        chain, key = directory / f"{name}.pem", directory / f"{name}.key"
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        return chain, key

    valid = write("valid", ca.issue_cert(HOST, "::1", "localhost"))
    expired = write(
        "expired",
        ca.issue_cert(
            HOST,
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        ),
    )
    wrong_host = write("wrong-host", ca.issue_cert("bidi.example"))

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    self_signed = (directory / "self-signed.pem", directory / "self-signed.key")
    self_signed[0].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    self_signed[1].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ZooTls(directory, ca_file, valid, expired, wrong_host, self_signed)


_KEEP: list[tempfile.TemporaryDirectory[str]] = []


@contextlib.contextmanager
def trust_zoo_ca() -> Iterator[Path]:
    """Make the zoo's test CA the one trusted root while inside, through ``SSL_CERT_FILE``
    (OpenSSL's own variable, read by every default context the probe creates); yields the
    CA file, to hand to a subprocess the same way."""
    ca_file = zoo_tls().ca_file
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(ca_file)
    try:
        yield ca_file
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved


# --- servers the shared module does not have ---------------------------------------------


def _status_frame() -> Callable[[int], str]:
    return success_frame(ready=True, message="")


def tls_status_server(pair: Callable[[ZooTls], tuple[Path, Path]]) -> ServerFactory:
    """A ready BiDi endpoint over TLS with the certificate ``pair`` picks."""

    def factory() -> contextlib.AbstractAsyncContextManager[Served]:
        tls = zoo_tls()
        return replying_server(_status_frame(), tls=tls.server_context(pair(tls)))

    return factory


def plain_server_refusing_tls() -> contextlib.AbstractAsyncContextManager[Served]:
    """A plain HTTP server: whatever arrives (a TLS hello here) gets ``400 Bad Request``."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        seen.raw_requests.append(await reader.read(4096))
        writer.write(http_response(400, "Bad Request", body=b"plain HTTP here\n"))
        await writer.drain()
        writer.close()

    return raw_server(handle)


def dripping_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Slow-loris: a 101 response dripped one byte every :data:`DRIP_INTERVAL` seconds,
    through a header line that never ends (up to :data:`DRIP_LIMIT_BYTES` bytes)."""
    head = b"HTTP/1.1 101 Switching Protocols\r\nX-Drip: "

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> None:
        await read_head(reader, seen)
        for index in range(DRIP_LIMIT_BYTES):
            if writer.transport.is_closing() or reader.at_eof():
                return
            writer.write(head[index : index + 1] if index < len(head) else b"a")
            await writer.drain()
            await asyncio.sleep(DRIP_INTERVAL)

    return raw_server(handle)


def upgrade_response(accept: str | None) -> bytes:
    """A 101 answer to the upgrade with ``accept`` as Sec-WebSocket-Accept (``None``: none)."""
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    if accept is not None:
        lines.append(f"Sec-WebSocket-Accept: {accept}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _stall(connection: ServerConnection) -> None:
    """Stop reading: the peer's frames, close frame included, are never answered."""
    connection.transport.pause_reading()


def announcing_server(
    size: int = ANNOUNCED_FRAME_BYTES,
) -> contextlib.AbstractAsyncContextManager[Served]:
    """Sends only the header of a text frame announcing ``size`` bytes, then stalls."""
    header = b"\x81\x7f" + size.to_bytes(8, "big")

    async def script(connection: ServerConnection, request_id: int) -> None:
        connection.transport.write(header)
        _stall(connection)

    return bidi_server(script, close_timeout=TEARDOWN_CLOSE_TIMEOUT)


def close_ignoring_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Answers ``ready``, then never answers the client's close frame nor closes TCP."""

    async def script(connection: ServerConnection, request_id: int) -> None:
        await connection.send(_status_frame()(request_id))
        _stall(connection)

    return bidi_server(script, close_timeout=TEARDOWN_CLOSE_TIMEOUT)


def ping_flood_server(answer_after: int | None = PING_FLOOD_BEFORE_ANSWER) -> ServerFactory:
    """Sends pings as fast as it can (up to :data:`PING_FLOOD_LIMIT`); answers ``ready``
    after ``answer_after`` of them (``None``: never) and keeps flooding."""

    def factory() -> contextlib.AbstractAsyncContextManager[Served]:
        async def script(connection: ServerConnection, request_id: int) -> None:
            for index in range(PING_FLOOD_LIMIT):
                if index == answer_after:
                    await connection.send(_status_frame()(request_id))
                await connection.ping(index.to_bytes(4, "big"))
                await asyncio.sleep(0)  # share the loop with the probe under test

        return bidi_server(script, close_timeout=TEARDOWN_CLOSE_TIMEOUT)

    return factory


@contextlib.asynccontextmanager
async def unresolvable() -> AsyncIterator[Served]:
    """No server: a ``.invalid`` host name, which no resolver answers."""
    yield Served(f"ws://{DNS_HOST}:9222/session", 9222, Seen())


@contextlib.asynccontextmanager
async def refusing_port() -> AsyncIterator[Served]:
    """A loopback port held bound but never listening: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        yield Served(ws_url(port), port, Seen())


def ipv6_loopback_available() -> bool:
    """Whether this machine can listen on ``[::1]``."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def ipv6_status_server() -> contextlib.AbstractAsyncContextManager[Served]:
    return replying_server(_status_frame(), host="::1")


def huge_meta_frame(request_id: int) -> str:
    pad = "m" * HUGE_META_BYTES
    return json.dumps(
        {"type": "success", "id": request_id, "result": {"ready": True, "message": "", "pad": pad}}
    )


def _other_id_then_ours(request_id: int) -> str:
    return result_frame({"ready": False, "message": "not yours"})(request_id + 1)


def _cdp_error(request_id: int) -> str:
    error = {"code": -32601, "message": "'session.status' wasn't found"}
    return json.dumps({"id": request_id, "error": error})


def partial_response_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Half a 101 response (no blank line ending it), then silence."""
    head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    return raw_response_server(head, hang_up=False)


# nginx's answer to plain HTTP on a TLS port (its error 497), as a 400 page.
NGINX_PLAIN_HTTP_TO_TLS_PORT = (
    b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head>"
    b"<body><center><h1>400 Bad Request</h1></center>"
    b"<center>The plain HTTP request was sent to HTTPS port</center></body></html>\n"
)
ERROR_ID_NULL = {"type": "error", "id": None, "error": "invalid argument", "message": "bad"}


def _events(count: int) -> list[str]:
    return [event_frame("log.entryAdded", {"n": n}) for n in range(count)]


def _http(status: int, reason: str, **headers: str) -> ServerFactory:
    return lambda: http_server(status, reason, headers=headers, body=b"<html>no</html>")


def _closing(code: int, reason: str) -> ServerFactory:
    return lambda: closing_server(code, reason)


def _replying(*frames: Any) -> ServerFactory:
    return lambda: replying_server(*frames)


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooCase:
    """One misbehaving endpoint and the verdict the probe must give for it."""

    name: str
    group: str
    what: str  # what the server does, one line for the reliability table
    server: ServerFactory
    state: State = State.ERROR
    kinds: tuple[ErrorKind, ...] = ()  # accepted error kinds (usually one)
    phase: Phase | None = None  # the phase the error belongs to, when asserted
    detail: tuple[str, ...] = ()  # substrings the detail must hold
    hint: str | None = None  # a substring the hint must hold (None: no hint asserted)
    at_deadline: bool | None = False  # True: runs into the deadline; None: either way
    insecure: bool = False
    needs_ipv6: bool = False
    floods: bool = False  # the server keeps the CPU busy: measure it alone
    check: Callable[[ZooOutcome], None] | None = field(default=None, compare=False)

    def endpoint(self, served: Served, *, name: str | None = None) -> Endpoint:
        (endpoint,) = parse_spec(served.url, name=name or self.name, insecure=self.insecure)
        return endpoint


def _meta_kept(outcome: ZooOutcome) -> None:
    assert len(outcome.result.meta.get("pad", "")) == HUGE_META_BYTES, "meta was not kept whole"


def _answered(message: str) -> Callable[[ZooOutcome], None]:
    def check(outcome: ZooOutcome) -> None:
        assert outcome.result.message == message, outcome.result

    return check


def _no_secret(secret: str) -> Callable[[ZooOutcome], None]:
    def check(outcome: ZooOutcome) -> None:
        shown = json.dumps(outcome.result.to_json())
        assert secret not in shown, f"{secret!r} shown: {shown}"

    return check


#: After the answer, closing may take at most this long (the server never answers the close).
CLOSE_ALLOWANCE = 0.5


def _closed_promptly(outcome: ZooOutcome) -> None:
    closing = outcome.wall - outcome.result.elapsed_ms / 1000
    assert closing < CLOSE_ALLOWANCE, f"closing held the check {closing:.2f} s after the answer"


E = ErrorKind
P = Phase
NOT_BIDI = "does not speak WebDriver BiDi"

# fmt: off
ZOO: tuple[ZooCase, ...] = (
    # --- TCP and HTTP -----------------------------------------------------------------
    ZooCase(
        "tcp-silent", "tcp", "accepts TCP, reads the upgrade request, never answers",
        tcp_silent_server, kinds=(E.TIMEOUT,), phase=P.HANDSHAKE, detail=("no answer within",),
        hint="upgrade never finished", at_deadline=True,
    ),
    ZooCase(
        "http-partial", "tcp", "sends half a 101 response, then silence",
        partial_response_server,
        kinds=(E.TIMEOUT,), phase=P.HANDSHAKE, detail=("handshake phase",),
        hint="upgrade never finished", at_deadline=True,
    ),
    ZooCase(
        "http-drip", "tcp", f"slow-loris: drips a 101 response one byte per {DRIP_INTERVAL:g} s",
        dripping_server, kinds=(E.TIMEOUT,), phase=P.HANDSHAKE, detail=("handshake phase",),
        hint="upgrade never finished", at_deadline=True,
    ),
    ZooCase(
        "tcp-hangup", "tcp", "accepts TCP, reads the request, closes without a word", hangup_server,
        kinds=(E.CLOSED,), phase=P.HANDSHAKE, detail=("during the WebSocket",), hint="right port",
    ),
    ZooCase(
        "101-bad-accept", "tcp", "HTTP 101 with a wrong Sec-WebSocket-Accept",
        lambda: raw_response_server(upgrade_response("bad"), hang_up=False), kinds=(E.PROTOCOL,),
        phase=P.HANDSHAKE, detail=("Sec-WebSocket-Accept",), hint="mangled",
    ),
    ZooCase(
        "101-no-accept", "tcp", "HTTP 101 without Sec-WebSocket-Accept",
        lambda: raw_response_server(upgrade_response(None), hang_up=False), kinds=(E.PROTOCOL,),
        phase=P.HANDSHAKE, detail=("Sec-WebSocket-Accept",), hint="mangled",
    ),
    ZooCase(
        "http-200", "http", "HTTP 200 with an HTML page", _http(200, "OK"), kinds=(E.HTTP_STATUS,),
        phase=P.HANDSHAKE, detail=("HTTP 200 OK",), hint="not a WebSocket endpoint",
    ),
    ZooCase(
        "http-301", "http", "HTTP 301 to another URL (not followed)",
        _http(301, "Moved Permanently", Location="ws://127.0.0.1:1/elsewhere"),
        kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE, detail=("HTTP 301",),
        hint="points to ws://127.0.0.1:1/elsewhere",
    ),
    ZooCase(
        "http-302", "http", "HTTP 302 to another URL (not followed)",
        _http(302, "Found", Location="/session/elsewhere"), kinds=(E.HTTP_STATUS,),
        phase=P.HANDSHAKE, detail=("HTTP 302",), hint="redirects are not followed",
    ),
    ZooCase(
        "http-302-credentials", "http", "HTTP 302 to a URL with a password in it",
        _http(302, "Found", Location="ws://farm:s3cret@127.0.0.1:1/session"),
        kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE, detail=("HTTP 302",),
        hint="ws://farm:***@127.0.0.1:1/session", check=_no_secret("s3cret"),
    ),
    ZooCase(
        "http-400", "http", "HTTP 400 (Firefox's answer to a Host it does not allow)",
        _http(400, "Bad Request"), kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE, detail=("HTTP 400",),
        hint="--remote-allow-hosts",
    ),
    ZooCase(
        "http-401", "http", "HTTP 401 Unauthorized",
        _http(401, "Unauthorized", **{"WWW-Authenticate": 'Basic realm="farm"'}),
        kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE, detail=("HTTP 401",), hint="authentication",
    ),
    ZooCase(
        "http-403", "http", "HTTP 403 Forbidden", _http(403, "Forbidden"), kinds=(E.HTTP_STATUS,),
        phase=P.HANDSHAKE, detail=("HTTP 403",), hint="authentication",
    ),
    ZooCase(
        "http-404", "http", "HTTP 404 (a wrong path)", _http(404, "Not Found"),
        kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE, detail=("HTTP 404",), hint="/session",
    ),
    ZooCase(
        "http-500", "http", "HTTP 500 Internal Server Error", _http(500, "Internal Server Error"),
        kinds=(E.HTTP_STATUS,), phase=P.HANDSHAKE, detail=("HTTP 500",), hint="server failed",
    ),
    ZooCase(
        "http-503", "http", "HTTP 503 Service Unavailable",
        _http(503, "Service Unavailable", **{"Retry-After": "5"}), kinds=(E.HTTP_STATUS,),
        phase=P.HANDSHAKE, detail=("HTTP 503",), hint="unavailable",
    ),
    ZooCase(
        "not-http", "http", "answers the upgrade with an SSH banner",
        lambda: raw_response_server(b"SSH-2.0-OpenSSH_9.6\r\n", hang_up=False), kinds=(E.PROTOCOL,),
        phase=P.HANDSHAKE, detail=("not an HTTP answer", "SSH-2.0"), hint="serves something else",
    ),
    # --- TLS ----------------------------------------------------------------------------
    ZooCase(
        "wss-to-plain", "tls", "wss:// to a plain HTTP server (it answers the hello with 400)",
        lambda: _as_wss(plain_server_refusing_tls()), kinds=(E.TLS,), phase=P.CONNECT,
        detail=("TLS failed",), hint="try ws://",
    ),
    ZooCase(
        "ws-to-tls", "tls", "ws:// to a TLS server (Python's ssl: it hangs up)",
        lambda: _as_ws(tls_status_server(lambda t: t.valid)()), kinds=(E.CLOSED,),
        phase=P.HANDSHAKE, detail=("closed during the WebSocket handshake",), hint="wss://",
    ),
    ZooCase(
        "ws-to-tls-nginx", "tls", "ws:// to a TLS port that answers as nginx does (HTTP 400)",
        lambda: http_server(400, "Bad Request", body=NGINX_PLAIN_HTTP_TO_TLS_PORT),
        kinds=(E.TLS,), phase=P.HANDSHAKE, detail=("expects TLS",), hint="wss://",
    ),
    ZooCase(
        "tls-valid", "tls", "wss:// with a certificate from a trusted CA (the baseline)",
        tls_status_server(lambda t: t.valid), state=State.READY,
    ),
    ZooCase(
        "tls-self-signed", "tls", "wss:// with a self-signed certificate",
        tls_status_server(lambda t: t.self_signed), kinds=(E.TLS,), phase=P.CONNECT,
        detail=("self-signed",), hint="insecure",
    ),
    ZooCase(
        "tls-self-signed-insecure", "tls",
        "wss:// with a self-signed certificate, endpoint marked insecure",
        tls_status_server(lambda t: t.self_signed), state=State.READY, insecure=True,
    ),
    ZooCase(
        "tls-expired", "tls", "wss:// with a certificate that expired yesterday",
        tls_status_server(lambda t: t.expired), kinds=(E.TLS,), phase=P.CONNECT,
        detail=("expired",), hint="clock",
    ),
    ZooCase(
        "tls-wrong-host", "tls", "wss:// with a certificate for another host name",
        tls_status_server(lambda t: t.wrong_host), kinds=(E.TLS,), phase=P.CONNECT,
        detail=("mismatch",), hint="does not name",
    ),
    # --- WebSocket ----------------------------------------------------------------------
    ZooCase(
        "ws-silent", "websocket", "accepts the WebSocket and the request, never answers",
        silent_server, kinds=(E.TIMEOUT,), phase=P.RESPONSE, detail=("response phase",),
        hint="never answered", at_deadline=True,
    ),
    ZooCase(
        "close-1000", "websocket", "closes at once with 1000 'bye'",
        _closing(1000, "bye"), kinds=(E.CLOSED,), phase=P.RESPONSE,
        detail=("code 1000", "bye"), hint="path",
    ),
    ZooCase(
        "close-1001", "websocket", "closes at once with 1001 'going away'",
        _closing(1001, "going away"), kinds=(E.CLOSED,), phase=P.RESPONSE,
        detail=("code 1001", "going away"), hint="shutting down",
    ),
    ZooCase(
        "close-1011", "websocket", "closes at once with 1011 'internal error'",
        _closing(1011, "internal error"), kinds=(E.CLOSED,), phase=P.RESPONSE,
        detail=("code 1011", "internal error"), hint="logs",
    ),
    ZooCase(
        "dropped", "websocket", "drops TCP without a close frame after the request",
        dropping_server, kinds=(E.CLOSED,), phase=P.RESPONSE, detail=("without a close frame",),
        hint="crashed",
    ),
    # --- not BiDi -----------------------------------------------------------------------
    ZooCase(
        "invalid-json", "not-bidi", "answers `{not json`", _replying("{not json"),
        kinds=(E.PROTOCOL,), phase=P.RESPONSE, detail=("not valid JSON",), hint=NOT_BIDI,
    ),
    ZooCase(
        "json-array", "not-bidi", "answers a JSON array", _replying("[1, 2]"), kinds=(E.PROTOCOL,),
        phase=P.RESPONSE, detail=("JSON list",), hint=NOT_BIDI,
    ),
    ZooCase(
        "json-number", "not-bidi", "answers a JSON number", _replying("42"), kinds=(E.PROTOCOL,),
        phase=P.RESPONSE, detail=("JSON int",), hint=NOT_BIDI,
    ),
    ZooCase(
        "empty-object", "not-bidi", "answers `{}`", _replying("{}"), kinds=(E.PROTOCOL,),
        phase=P.RESPONSE, detail=("neither 'type' nor 'id'",), hint=NOT_BIDI,
    ),
    ZooCase(
        "ready-missing", "not-bidi", "a success whose result has no `ready`",
        _replying(result_frame({"message": ""})), kinds=(E.PROTOCOL,), phase=P.RESPONSE,
        detail=("result.ready is missing",),
    ),
    ZooCase(
        "ready-not-bool", "not-bidi", 'a success with `"ready": "true"`',
        _replying(result_frame({"ready": "true", "message": ""})), kinds=(E.PROTOCOL,),
        phase=P.RESPONSE, detail=("not a boolean",),
    ),
    ZooCase(
        "message-not-string", "not-bidi", "a success with `message` a number",
        _replying(result_frame({"ready": True, "message": 3})), kinds=(E.PROTOCOL,),
        phase=P.RESPONSE, detail=("result.message is not a string",),
    ),
    ZooCase(
        "binary-frame", "not-bidi", "answers in a binary frame", _replying(b'{"type": "success"}'),
        kinds=(E.PROTOCOL,), phase=P.RESPONSE, detail=("binary frame",), hint=NOT_BIDI,
    ),
    ZooCase(
        "cdp-error", "not-bidi", "answers like Chrome DevTools (CDP): an error without `type`",
        _replying(_cdp_error), kinds=(E.NOT_BIDI,), phase=P.RESPONSE,
        detail=("CDP", "wasn't found"), hint="ChromeDriver",
    ),
    # --- tricky BiDi --------------------------------------------------------------------
    ZooCase(
        "wrong-id-first", "tricky", "answers another id first, then ours",
        _replying(_other_id_then_ours, success_frame(True, "mine")), state=State.READY,
        check=_answered("mine"),
    ),
    ZooCase(
        "events-first", "tricky", f"{MANY_EVENTS} events before the answer",
        _replying(*_events(MANY_EVENTS), success_frame(False, "busy")),
        state=State.NOT_READY, check=_answered("busy"),
    ),
    ZooCase(
        "endless-events", "tricky", "events without end, never the answer", flood_server,
        kinds=(E.PROTOCOL, E.TIMEOUT), phase=P.RESPONSE, at_deadline=None, floods=True,
    ),
    ZooCase(
        "error-id-null", "tricky", "a BiDi error with `id` null",
        _replying(json.dumps(ERROR_ID_NULL)),
        kinds=(E.BIDI_ERROR,), phase=P.RESPONSE, detail=("invalid argument",),
        hint="session.status",
    ),
    ZooCase(
        "error-no-id", "tricky", "a BiDi error without `id`",
        _replying(json.dumps({"type": "error", "error": "unknown error", "message": "boom"})),
        kinds=(E.BIDI_ERROR,), phase=P.RESPONSE, detail=("unknown error", "boom"),
    ),
    ZooCase(
        "huge-meta", "tricky", f"a success with {HUGE_META_BYTES // 1024} KiB of extra fields",
        _replying(huge_meta_frame), state=State.READY, check=_meta_kept,
    ),
    # --- resources ----------------------------------------------------------------------
    ZooCase(
        "frame-100mb", "resources", "announces a 100 MiB frame (header only), then stalls",
        announcing_server, kinds=(E.TOO_LARGE,), phase=P.RESPONSE,
        detail=(f"{MAX_MESSAGE_SIZE // 1024} KiB",),
    ),
    ZooCase(
        "ping-flood", "resources",
        f"pings without pause; the answer comes after {PING_FLOOD_BEFORE_ANSWER} of them",
        ping_flood_server(), state=State.READY, floods=True,
    ),
    ZooCase(
        "ping-flood-silent", "resources", "pings without pause and never answers",
        ping_flood_server(None), kinds=(E.TIMEOUT,), phase=P.RESPONSE, at_deadline=True,
        floods=True,
    ),
    ZooCase(
        "close-ignored", "resources",
        "answers, then never answers the closing handshake nor closes TCP", close_ignoring_server,
        state=State.READY, check=_closed_promptly,
    ),
    # --- network ------------------------------------------------------------------------
    ZooCase(
        "dns", "network", "a host name that does not resolve (`.invalid`)", unresolvable,
        kinds=(E.DNS,), phase=P.CONNECT, detail=(DNS_HOST,), hint="host name",
    ),
    ZooCase(
        "refused", "network", "a loopback port where nothing listens", refusing_port,
        kinds=(E.REFUSED,), phase=P.CONNECT, detail=("refused",), hint="nothing listens",
    ),
    ZooCase(
        "ipv6-loopback", "network", "a ready endpoint on `[::1]`", ipv6_status_server,
        state=State.READY, needs_ipv6=True,
    ),
)
# fmt: on


def zoo_case(name: str) -> ZooCase:
    for case in ZOO:
        if case.name == name:
            return case
    raise KeyError(name)


@contextlib.asynccontextmanager
async def _as_wss(inner: contextlib.AbstractAsyncContextManager[Served]) -> AsyncIterator[Served]:
    async with inner as served:
        yield Served(served.url.replace("ws://", "wss://", 1), served.port, served.seen)


@contextlib.asynccontextmanager
async def _as_ws(inner: contextlib.AbstractAsyncContextManager[Served]) -> AsyncIterator[Served]:
    async with inner as served:
        yield Served(served.url.replace("wss://", "ws://", 1), served.port, served.seen)


# --- running the zoo ---------------------------------------------------------------------


def available_cases(cases: Sequence[ZooCase] = ZOO) -> list[ZooCase]:
    """``cases`` less those this machine cannot serve (IPv6 without an IPv6 loopback)."""
    ipv6 = ipv6_loopback_available()
    return [case for case in cases if ipv6 or not case.needs_ipv6]


@dataclass(frozen=True)
class ZooMember:
    """A zoo case whose server is running."""

    case: ZooCase
    served: Served
    endpoint: Endpoint


@contextlib.asynccontextmanager
async def open_zoo(
    cases: Sequence[ZooCase] | None = None, *, prefix: str = "zoo-"
) -> AsyncIterator[list[ZooMember]]:
    """Start every case's server (all available cases by default); endpoints are named
    ``prefix + case name``. wss:// cases need :func:`trust_zoo_ca` around the checks."""
    chosen = available_cases() if cases is None else list(cases)
    if any(case.group == "tls" for case in chosen):
        zoo_tls()  # make the certificates before any server starts
    async with contextlib.AsyncExitStack() as stack:
        members = []
        for case in chosen:
            served = await stack.enter_async_context(case.server())
            members.append(ZooMember(case, served, case.endpoint(served, name=prefix + case.name)))
        yield members


@dataclass(frozen=True)
class ZooOutcome:
    """What the probe said about one zoo case, and how long the check took."""

    case: ZooCase
    result: ProbeResult
    wall: float  # seconds from calling probe() to its return
    deadline: float

    def to_json(self) -> dict[str, Any]:
        error = self.result.error
        return {
            "case": self.case.name,
            "group": self.case.group,
            "what": self.case.what,
            "state": self.result.state.value,
            "kind": None if error is None else error.kind.value,
            "phase": None if error is None or error.phase is None else error.phase.value,
            "detail": None if error is None else error.detail,
            "hint": None if error is None else error.hint,
            "message": self.result.message,
            "elapsed_s": round(self.result.elapsed_ms / 1000, 3),
            "wall_s": round(self.wall, 3),
            "deadline_s": self.deadline,
            "insecure": self.case.insecure,
        }


async def run_member(member: ZooMember, deadline: float) -> ZooOutcome:
    started = time.perf_counter()
    result = await probe(member.endpoint, timeout=deadline)
    return ZooOutcome(member.case, result, time.perf_counter() - started, deadline)


async def run_zoo(
    cases: Sequence[ZooCase] | None = None, *, deadline: float = ZOO_DEADLINE
) -> list[ZooOutcome]:
    """Probe every case once, all concurrently, each against its own server.

    The caller trusts the zoo CA (:func:`trust_zoo_ca`) for the TLS cases to mean what
    they say."""
    async with open_zoo(cases, prefix="") as members:
        return list(await asyncio.gather(*(run_member(m, deadline) for m in members)))


async def run_case(case: ZooCase, deadline: float = ZOO_DEADLINE) -> ZooOutcome:
    """Start ``case``'s server, probe it once, stop the server."""
    async with open_zoo([case], prefix="") as (member,):
        return await run_member(member, deadline)


async def run_zoo_measured(
    cases: Sequence[ZooCase] | None = None, *, deadline: float = ZOO_DEADLINE
) -> list[ZooOutcome]:
    """Probe every case once, timing each about as if it ran alone, in about two deadlines.

    Cases that wait for their deadline cost no CPU: they run side by side in the background
    while the quick ones run one at a time; cases that flood the CPU run alone at the end.
    Results come in the order of ``cases``.
    """
    chosen = available_cases() if cases is None else list(cases)
    waiting = [c for c in chosen if c.at_deadline and not c.floods]
    quick = [c for c in chosen if not c.at_deadline and not c.floods]
    flooding = [c for c in chosen if c.floods]
    outcomes: dict[str, ZooOutcome] = {}

    async def one_by_one(group: Sequence[ZooCase]) -> None:
        for case in group:
            outcomes[case.name] = await run_case(case, deadline)

    background = [asyncio.ensure_future(run_case(case, deadline)) for case in waiting]
    try:
        await one_by_one(quick)
        for outcome in await asyncio.gather(*background):
            outcomes[outcome.case.name] = outcome
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    await one_by_one(flooding)
    return [outcomes[case.name] for case in chosen]


# --- serving from a background thread ----------------------------------------------------


@dataclass
class ThreadedZoo:
    """Zoo servers (and healthy demo endpoints) served by a background thread's loop, for a
    client in another process or loop: a ``bidi-tui check`` subprocess, a benchmark."""

    members: list[ZooMember] = field(default_factory=list)
    healthy: list[Endpoint] = field(default_factory=list)

    @property
    def endpoints(self) -> list[Endpoint]:
        return [member.endpoint for member in self.members] + self.healthy


@contextlib.contextmanager
def zoo_in_thread(
    cases: Sequence[ZooCase] | None = None, *, healthy: int = 0, start_timeout: float = 30.0
) -> Iterator[ThreadedZoo]:
    """Run :func:`open_zoo` (and ``DemoFarm.start_healthy(healthy)``) in a thread of its own
    until the block exits; the servers are listening when the block starts."""
    import threading

    from bidi_tui.demo import DemoFarm

    served = ThreadedZoo()
    started = threading.Event()
    failure: list[BaseException] = []
    control: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        control["loop"], control["stop"] = asyncio.get_running_loop(), stop
        try:
            async with contextlib.AsyncExitStack() as stack:
                served.members = await stack.enter_async_context(open_zoo(cases))
                if healthy:
                    farm = await stack.enter_async_context(DemoFarm.start_healthy(healthy))
                    served.healthy = farm.endpoints
                started.set()
                await stop.wait()
        except Exception as exc:  # handed to the caller's thread, not printed here
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="zoo", daemon=True)
    thread.start()
    try:
        if not started.wait(start_timeout):
            raise TimeoutError(f"the zoo did not start within {start_timeout:g} s")
        if failure:
            raise RuntimeError("the zoo failed to start") from failure[0]
        yield served
    finally:
        if "loop" in control and thread.is_alive():
            control["loop"].call_soon_threadsafe(control["stop"].set)
        thread.join(start_timeout)
