"""Mapping what went wrong on the way to an answer to an error kind, a detail and a hint.

Each function takes an exception (or an HTTP status) raised while connecting, upgrading or
reading, and says what it means for the operator: which kind of failure, in one line, and
what to try.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl

from websockets.asyncio.messages import MAX_FRAGMENTS
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosed,
    InvalidMessage,
    SecurityError,
    TooManyFragments,
)
from websockets.frames import CloseCode

from bidi_tui.endpoints import Endpoint, mask_spec
from bidi_tui.model import ErrorKind, Phase, ProbeError
from bidi_tui.probe.answer import MAX_MESSAGE_SIZE, _short

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
    # ChromeDriver says why it refused an upgrade (a path it does not serve) in this header.
    rejected = None if headers is None else headers.get("X-WebSocket-Reject-Reason")
    if status == 404 or (rejected and "path" in rejected.lower()):
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
    because = f" ({_short(rejected, 80)})" if rejected else ""
    return ProbeError(
        ErrorKind.HTTP_STATUS,
        f"HTTP {status} {reason}".rstrip() + f" instead of a WebSocket upgrade{because}",
        hint=hint,
        phase=Phase.HANDSHAKE,
    )


def _closed_error(exc: ConnectionClosed, phase: Phase) -> ProbeError:
    sent = exc.sent
    if isinstance(exc.__cause__, TooManyFragments):
        return ProbeError(
            ErrorKind.TOO_LARGE,
            f"answer came in over {MAX_FRAGMENTS} fragments, the limit for one message",
            hint="a session.status answer fits in one frame; this endpoint (or a proxy in "
            "between) cuts it into tiny pieces",
            phase=phase,
        )
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


CLIENT_CERTIFICATE_HINT = (
    "the server demands a client certificate, which bidi-tui does not send; "
    "let this client in without one, or check through a proxy that holds it"
)


def _tls_error(exc: ssl.SSLError, endpoint: Endpoint, *, late: bool = False) -> ProbeError:
    """``late``: the alert came after the handshake (TLS 1.3 servers check a client
    certificate then)."""
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    text = str(exc).upper()
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
    elif "CERTIFICATE_REQUIRED" in text:
        hint = CLIENT_CERTIFICATE_HINT
    elif "HANDSHAKE_FAILURE" in text:
        hint = (
            "the server refused the TLS handshake: it may demand a client certificate "
            "(which bidi-tui does not send), or share no TLS version or cipher with it"
        )
    elif "WRONG_VERSION_NUMBER" in str(exc) or "wrong version" in str(exc).lower():
        reason = f"{reason} (the server's answer is not TLS)"
        hint = "the server does not speak TLS here: try ws:// instead of wss://"
    else:
        hint = None
    when = " after the handshake" if late else ""
    return ProbeError(
        ErrorKind.TLS, f"TLS failed{when}: {_short(reason, 200)}", hint=hint, phase=Phase.CONNECT
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
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return ProbeError(
            ErrorKind.NETWORK,
            f"this machine could not open a socket: {exc.strerror or exc}",
            hint="a local limit, not the endpoint: raise the open-file limit (ulimit -n) "
            "or check fewer endpoints at once (--concurrency)",
            phase=phase,
        )
    text = exc.strerror or str(exc) or type(exc).__name__
    return ProbeError(ErrorKind.NETWORK, f"network error: {text}", phase=phase)


def _invalid_message_error(exc: InvalidMessage, endpoint: Endpoint) -> ProbeError:
    """The answer to the upgrade request could not be read as HTTP."""
    cause = exc.__cause__
    text = str(cause or exc)
    if isinstance(cause, EOFError) or "connection closed" in text:
        hint = "the server accepted TCP but hung up; is this the right port?"
        if not endpoint.secure:
            hint += " If it serves TLS, use wss://"
        else:  # some TLS servers refuse a missing client certificate this way, without a word
            hint += " Does it demand a client certificate (bidi-tui sends none)?"
        return ProbeError(
            ErrorKind.CLOSED,
            "connection closed during the WebSocket handshake",
            hint=hint,
            phase=Phase.HANDSHAKE,
        )
    if isinstance(cause, SecurityError):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"oversized answer to the WebSocket upgrade: {_short(text)}",
            hint="the server or a proxy in between sends HTTP headers past any sane size",
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


HUNG_HINT = "the browser or driver may be hung (stopped, frozen or swamped)"


def _timeout_hint(phase: Phase, endpoint: Endpoint, *, tcp_connected: bool = False) -> str:
    if phase is Phase.CONNECT:
        if tcp_connected:  # so TLS never finished: a stopped process still gets TCP accepted
            return (
                f"TCP was accepted but the TLS handshake never finished: {HUNG_HINT}, "
                "or the port does not speak TLS (try ws://)"
            )
        if endpoint.secure:
            return (
                "no TCP or TLS connection: the host is down, a firewall drops packets, "
                "or the server does not speak TLS (try ws://)"
            )
        return "no TCP connection: the host is down or a firewall drops packets"
    if phase is Phase.HANDSHAKE:
        # The kernel accepts TCP for a stopped process too, so silence here is the
        # likeliest sign of a hung browser; a wrong path gets a 404, not silence.
        return (
            f"TCP was accepted but the WebSocket upgrade never finished: {HUNG_HINT}; "
            "is the path right (ChromeDriver and Firefox use /session)?"
        )
    return f"the endpoint accepted the WebSocket but never answered session.status: {HUNG_HINT}"


def _lookup_timeout_error(endpoint: Endpoint, deadline_s: float) -> ProbeError:
    """The system resolver gave no answer for the host name by the deadline."""
    return ProbeError(
        ErrorKind.DNS,
        f"cannot resolve host {endpoint.host!r}: no answer from the resolver within "
        f"{deadline_s:g} s",
        hint="the DNS server does not answer: check /etc/resolv.conf and the network, "
        "or use an IP address",
        phase=Phase.CONNECT,
    )
