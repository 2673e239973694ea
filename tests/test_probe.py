"""Protocol tests for the ``session.status`` probe against local test servers."""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.model import ErrorKind, Phase, ProbeError, ProbeResult, State
from bidi_tui.probe import (
    MAX_SKIPPED_MESSAGES,
    USER_AGENT,
    StatusAnswer,
    interpret_message,
    probe,
)
from tests.bidi_servers import (
    bidi_server,
    closing_server,
    dropping_server,
    event_frame,
    flood_server,
    hangup_server,
    http_response,
    http_server,
    raw_response_server,
    replying_server,
    result_frame,
    silent_server,
    status_server,
    success_frame,
    tcp_silent_server,
)
from tests.test_cli import JSON_KEYS  # what `check --json` gives each endpoint

# Deadline for checks that must answer; they finish long before it.
QUICK = 5.0
# Deadline for checks that are expected to run into it.
SHORT = 0.8
# Generous slack for "finished near the deadline", never a tight timing assertion.
SLACK = 1.5


def endpoint(url: str, **kwargs: Any) -> Endpoint:
    (result,) = parse_spec(url, **kwargs)
    return result


async def timed_probe(url: str, timeout: float, **kwargs: Any) -> tuple[ProbeResult, float]:
    """Probe ``url`` and return the result with the wall-clock seconds it took."""
    started = time.perf_counter()
    result = await probe(endpoint(url, **kwargs), timeout=timeout)
    return result, time.perf_counter() - started


def assert_error(
    result: ProbeResult, kind: ErrorKind, phase: Phase | None = Phase.RESPONSE
) -> ProbeError:
    assert result.error is not None, result
    assert result.error.kind is kind, result.error
    assert result.error.phase is phase, result.error
    assert result.state is State.ERROR
    assert result.ready is None
    assert result.message is None
    assert result.latency_ms is None
    return result.error


def assert_finished_at_deadline(result: ProbeResult, wall: float, deadline: float) -> None:
    assert deadline - 0.05 <= wall < deadline + SLACK, wall
    assert (deadline - 0.05) * 1000 <= result.elapsed_ms < (deadline + SLACK) * 1000


# --- answers ------------------------------------------------------------------------


async def test_ready_with_empty_message() -> None:
    async with status_server(ready=True, message="") as served:
        result, wall = await timed_probe(served.url, QUICK)
    assert result.state is State.READY
    assert result.ready is True
    assert result.message == ""
    assert result.meta == {}
    assert result.error is None
    assert result.latency_ms is not None and 0 < result.latency_ms < QUICK * 1000
    assert wall < QUICK
    assert result.raw is not None and json.loads(result.raw)["result"]["ready"] is True
    assert result.timings.connect_ms is not None
    assert result.timings.handshake_ms is not None
    assert result.timings.response_ms is not None


async def test_not_ready_with_message() -> None:
    async with status_server(ready=False, message="Session already started") as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    assert result.state is State.NOT_READY
    assert result.ready is False
    assert result.message == "Session already started"
    assert result.error is None
    assert result.summary == "Session already started"


async def test_extra_result_fields_are_kept_in_meta() -> None:
    build = {"version": "156.0.8078.108 (abc)"}
    os_info = {"arch": "x86_64", "name": "Linux", "version": "6.18"}
    async with status_server(
        ready=True, message="ChromeDriver ready for new sessions.", build=build, os=os_info
    ) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    assert result.state is State.READY
    assert result.message == "ChromeDriver ready for new sessions."
    assert result.meta == {"build": build, "os": os_info}
    assert result.to_json()["meta"] == {"build": build, "os": os_info}


async def test_request_is_exactly_session_status_without_origin() -> None:
    async with status_server() as served:
        result = await probe(endpoint(served.url), timeout=QUICK, request_id=7)
    assert result.state is State.READY  # the server echoed id 7 and the probe took it
    assert served.seen.connections == 1
    assert len(served.seen.requests) == 1
    assert isinstance(served.seen.requests[0], str)  # a text frame
    assert served.seen.request_json() == {"id": 7, "method": "session.status", "params": {}}
    headers = served.seen.headers[0]
    assert "Origin" not in headers
    assert headers["User-Agent"].startswith("bidi-tui")
    assert headers["User-Agent"] == USER_AGENT
    assert "Authorization" not in headers
    assert served.seen.paths == ["/session"]


async def test_answer_to_another_id_is_skipped() -> None:
    other = result_frame({"ready": False, "message": "not yours"})
    async with replying_server(
        lambda request_id: other(request_id + 1), success_frame(True, "mine")
    ) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    assert result.state is State.READY
    assert result.message == "mine"


async def test_events_before_the_answer_are_skipped() -> None:
    frames = [event_frame("log.entryAdded", {"n": n}) for n in range(5)]
    async with replying_server(*frames, success_frame(False, "busy")) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    assert result.state is State.NOT_READY
    assert result.message == "busy"


async def test_endless_events_end_within_the_deadline() -> None:
    # Locally the 1000 skipped events arrive long before the deadline, so the bound on
    # skipped messages (not the deadline) ends the check.
    async with flood_server() as served:
        result, wall = await timed_probe(served.url, QUICK)
    error = assert_error(result, ErrorKind.PROTOCOL)
    assert f"over {MAX_SKIPPED_MESSAGES} messages" in error.detail
    assert wall < QUICK + SLACK


# --- BiDi and CDP errors ------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "error", "id": None, "error": "invalid argument", "message": "bad params"},
        {"type": "error", "error": "invalid argument", "message": "bad params"},
    ],
    ids=["id-null", "no-id"],
)
async def test_bidi_error_without_our_id(frame: dict[str, Any]) -> None:
    async with replying_server(json.dumps(frame)) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.BIDI_ERROR)
    assert "invalid argument" in error.detail
    assert "bad params" in error.detail


async def test_bidi_error_with_our_id() -> None:
    def frame(request_id: int) -> str:
        return json.dumps(
            {
                "type": "error",
                "id": request_id,
                "error": "unknown command",
                "message": "session.status",
                "stacktrace": "RemoteError@chrome://...",
            }
        )

    async with replying_server(frame) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.BIDI_ERROR)
    assert "unknown command" in error.detail
    assert "session.status" in error.detail
    assert error.hint is not None


async def test_bidi_error_for_another_id_is_skipped() -> None:
    def other(request_id: int) -> str:
        return json.dumps({"type": "error", "id": request_id + 1, "error": "x", "message": "y"})

    async with replying_server(other, success_frame(True, "")) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    assert result.state is State.READY


async def test_cdp_error_is_not_bidi() -> None:
    def frame(request_id: int) -> str:
        error = {"code": -32601, "message": "'session.status' wasn't found"}
        return json.dumps({"id": request_id, "error": error})

    async with replying_server(frame) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.NOT_BIDI)
    assert "'session.status' wasn't found" in error.detail
    assert error.hint is not None and "ChromeDriver" in error.hint


# --- protocol errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "detail"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON list"),
        ("42", "JSON int"),
        ('"ok"', "JSON str"),
        (result_frame({"message": ""}), "result.ready is missing"),
        (result_frame({"ready": "true", "message": ""}), "result.ready is not a boolean"),
        (result_frame({"ready": 1, "message": ""}), "result.ready is not a boolean"),
        (result_frame({"ready": True}), "result.message is missing"),
        (result_frame({"ready": True, "message": 3}), "result.message is not a string"),
        (result_frame(None), "'result' is missing or not an object"),
        (result_frame([True]), "'result' is missing or not an object"),
        (result_frame({"ready": True, "message": ""}, type_="event-ish"), "has type"),
        ('{"type": "success", "id": "1", "result": {}}', "non-integer id"),
        ('{"type": "success", "id": 1.5, "result": {}}', "non-integer id"),
        (b'{"type": "success"}', "binary frame of 19 bytes"),
    ],
    ids=[
        "invalid-json",
        "array",
        "number",
        "string",
        "ready-missing",
        "ready-string",
        "ready-int",
        "message-missing",
        "message-int",
        "result-null",
        "result-list",
        "wrong-type",
        "id-string",
        "id-float",
        "binary",
    ],
)
async def test_protocol_errors(frame: Any, detail: str) -> None:
    async with replying_server(frame) as served:
        result, wall = await timed_probe(served.url, QUICK)
    error = assert_error(result, ErrorKind.PROTOCOL)
    assert detail in error.detail
    assert wall < QUICK / 2  # answered at once, not at the deadline


async def test_empty_object_is_a_protocol_error_at_once() -> None:
    # Every BiDi message has a `type`; `{}` has neither that nor an id.
    async with replying_server("{}") as served:
        result, wall = await timed_probe(served.url, SHORT)
    error = assert_error(result, ErrorKind.PROTOCOL)
    assert wall < SHORT / 2
    assert result.raw == "{}"
    assert "neither 'type' nor 'id'" in error.detail


async def test_answer_over_the_size_limit_is_too_large() -> None:
    huge = json.dumps({"type": "event", "method": "x", "params": {"pad": "x" * (1 << 21)}})
    async with replying_server(huge, success_frame()) as served:
        result, wall = await timed_probe(served.url, QUICK)
    error = assert_error(result, ErrorKind.TOO_LARGE)
    assert "1024 KiB" in error.detail
    assert wall < QUICK


# --- timeouts -----------------------------------------------------------------------


async def test_silent_websocket_times_out_in_response_phase() -> None:
    async with silent_server() as served:
        result, wall = await timed_probe(served.url, SHORT)
    error = assert_error(result, ErrorKind.TIMEOUT, Phase.RESPONSE)
    assert "0.8 s" in error.detail
    assert error.hint is not None and "never answered" in error.hint
    assert_finished_at_deadline(result, wall, SHORT)
    assert served.seen.requests  # the request went out before the silence
    assert result.timings.handshake_ms is not None


async def test_silent_tcp_times_out_in_handshake_phase() -> None:
    async with tcp_silent_server() as served:
        result, wall = await timed_probe(served.url, SHORT)
    error = assert_error(result, ErrorKind.TIMEOUT, Phase.HANDSHAKE)
    assert error.hint is not None and "/session" in error.hint
    assert_finished_at_deadline(result, wall, SHORT)
    assert served.seen.connections == 1
    assert served.seen.raw_requests[0].startswith(b"GET /session HTTP/1.1\r\n")
    assert result.timings.connect_ms is not None
    assert result.timings.handshake_ms is None


async def test_silent_tls_times_out_in_connect_phase() -> None:
    # wss:// to a server that never answers the TLS hello: TCP is up, TLS is not.
    async with tcp_silent_server() as served:
        url = served.url.replace("ws://", "wss://")
        result, wall = await timed_probe(url, SHORT)
    error = assert_error(result, ErrorKind.TIMEOUT, Phase.CONNECT)
    assert error.hint is not None and "try ws://" in error.hint
    assert_finished_at_deadline(result, wall, SHORT)
    assert served.seen.connections == 1
    assert served.seen.raw_requests == []  # no HTTP request came through
    assert result.timings.connect_ms is None


# --- HTTP answers instead of an upgrade ---------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "hint_part"),
    [
        (404, "Not Found", "/session"),
        (400, "Bad Request", "--remote-allow-hosts"),
        (200, "OK", "not a WebSocket endpoint"),
        (500, "Internal Server Error", "server failed"),
        (401, "Unauthorized", "user:password@"),
    ],
)
async def test_http_status_instead_of_upgrade(status: int, reason: str, hint_part: str) -> None:
    async with http_server(status, reason, body=b"<html>nope</html>") as served:
        result, wall = await timed_probe(served.url, QUICK)
    error = assert_error(result, ErrorKind.HTTP_STATUS, Phase.HANDSHAKE)
    assert f"HTTP {status} {reason}" in error.detail
    assert error.hint is not None and hint_part in error.hint
    assert wall < QUICK / 2


async def test_redirect_is_reported_and_not_followed() -> None:
    async with (
        status_server() as target,
        http_server(302, "Found", headers={"Location": target.url}) as redirector,
    ):
        result = await probe(endpoint(redirector.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.HTTP_STATUS, Phase.HANDSHAKE)
    assert "HTTP 302" in error.detail
    assert error.hint is not None and "redirects are not followed" in error.hint
    assert redirector.seen.connections == 1
    assert target.seen.connections == 0


# --- closed connections -------------------------------------------------------------


async def test_close_frame_before_answering() -> None:
    async with closing_server(1011, "internal boom") as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.CLOSED)
    assert "1011" in error.detail
    assert "internal boom" in error.detail


async def test_dropped_tcp_after_upgrade() -> None:
    async with dropping_server() as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.CLOSED)
    assert "without a close frame" in error.detail


async def test_answer_then_close_is_still_an_answer() -> None:
    async def script(connection: ServerConnection, request_id: int) -> None:
        await connection.send(success_frame(False, "bye")(request_id))
        await connection.close(1001, "going away")

    async with bidi_server(script) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    assert result.state is State.NOT_READY
    assert result.message == "bye"


async def test_server_closing_with_protocol_error_code_is_closed() -> None:
    # The server chose to close: that stays `closed`, whatever the code.
    async with closing_server(1002, "bad frame") as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.CLOSED)
    assert "1002" in error.detail and "bad frame" in error.detail


async def test_invalid_utf8_text_frame_is_a_protocol_error() -> None:
    async def script(connection: ServerConnection, request_id: int) -> None:
        await connection.send(b"\xff\xfe not utf-8", text=True)

    async with bidi_server(script) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.PROTOCOL)
    assert "without a close frame" not in error.detail


# --- broken handshakes --------------------------------------------------------------


async def test_hang_up_during_handshake() -> None:
    async with hangup_server() as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.CLOSED, Phase.HANDSHAKE)
    assert "handshake" in error.detail
    assert served.seen.connections == 1


async def test_non_http_answer_to_the_upgrade() -> None:
    async with raw_response_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", hang_up=False) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.PROTOCOL, Phase.HANDSHAKE)
    assert "not an HTTP answer" in error.detail
    assert "SSH-2.0" in error.detail


async def test_101_with_a_wrong_accept_key() -> None:
    response = http_response(
        101,
        "Switching Protocols",
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": "bad"},
    ).replace(b"Content-Length: 0\r\nConnection: close\r\n", b"")
    async with raw_response_server(response, hang_up=False) as served:
        result = await probe(endpoint(served.url), timeout=QUICK)
    error = assert_error(result, ErrorKind.PROTOCOL, Phase.HANDSHAKE)
    assert "Sec-WebSocket-Accept" in error.detail


async def test_wss_to_a_plain_port_is_a_tls_error() -> None:
    plain = http_response(400, "Bad Request")
    async with raw_response_server(plain, wait_for_request=False, hang_up=False) as served:
        result = await probe(endpoint(served.url.replace("ws://", "wss://")), timeout=QUICK)
    error = assert_error(result, ErrorKind.TLS, Phase.CONNECT)
    assert error.hint is not None and "ws://" in error.hint


# --- connect failures ---------------------------------------------------------------


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on: bound, read, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_refused(free_port: int) -> None:
    result, wall = await timed_probe(f"ws://127.0.0.1:{free_port}/session", QUICK)
    error = assert_error(result, ErrorKind.REFUSED, Phase.CONNECT)
    assert str(free_port) in error.detail
    assert wall < QUICK / 2


async def test_dns_failure() -> None:
    result = await probe(endpoint("ws://no-such-host.bidi-tui.invalid:9222/session"), timeout=QUICK)
    error = assert_error(result, ErrorKind.DNS, Phase.CONNECT)
    assert "no-such-host.bidi-tui.invalid" in error.detail


# --- credentials and headers --------------------------------------------------------


async def test_basic_auth_and_custom_headers() -> None:
    async with status_server() as served:
        url = f"ws://user:pa%40ss@127.0.0.1:{served.port}/session"
        target = endpoint(url, headers={"X-Farm-Token": "t0ken", "X-Other": "2"})
        result = await probe(target, timeout=QUICK)
    assert result.state is State.READY
    headers = served.seen.headers[0]
    scheme, _, credentials = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == "user:pa@ss"
    assert headers["X-Farm-Token"] == "t0ken"
    assert headers["X-Other"] == "2"
    shown = result.to_json()["url"]
    assert shown == f"ws://user:***@127.0.0.1:{served.port}/session"
    assert "pa@ss" not in json.dumps(result.to_json())
    assert "pa%40ss" not in json.dumps(result.to_json())


# --- the JSON shape -----------------------------------------------------------------


async def test_to_json_shape_for_success_and_error(free_port: int) -> None:
    before = datetime.now(UTC)
    async with status_server(ready=True, message="hi", build={"v": 1}) as served:
        ok = await probe(endpoint(f"ff={served.url}"), timeout=QUICK)
    failed = await probe(endpoint(f"ws://127.0.0.1:{free_port}/session"), timeout=QUICK)
    after = datetime.now(UTC)
    for result in (ok, failed):
        data = result.to_json()
        assert set(data) == JSON_KEYS
        json.dumps(data)  # serialisable as is
        stamp = data["checked_at"]
        assert stamp.endswith("Z")
        parsed = datetime.fromisoformat(stamp)
        assert parsed.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= parsed <= after
    ok_json = ok.to_json()
    assert ok_json["name"] == "ff"
    assert ok_json["url"] == served.url
    assert ok_json["state"] == "ready"
    assert ok_json["ready"] is True
    assert ok_json["message"] == "hi"
    assert ok_json["meta"] == {"build": {"v": 1}}
    assert isinstance(ok_json["latency_ms"], float)
    assert ok_json["error"] is None
    failed_json = failed.to_json()
    assert failed_json["state"] == "error"
    assert failed_json["ready"] is None
    assert failed_json["latency_ms"] is None
    assert failed_json["error"]["kind"] == "refused"
    assert set(failed_json["error"]) == {"kind", "detail", "hint"}


# --- interpret_message fuzzing ------------------------------------------------------

_KEYS = st.sampled_from(["id", "type", "result", "error", "message", "method", "ready", "params"])
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["success", "error", "event"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
_REQUEST_IDS = st.integers(min_value=0, max_value=2**31)


def _check_outcome(outcome: object) -> None:
    assert outcome is None or isinstance(outcome, StatusAnswer | ProbeError)
    if isinstance(outcome, ProbeError):
        assert outcome.kind in ErrorKind
        assert isinstance(outcome.detail, str) and outcome.detail


@settings(max_examples=300, deadline=None)
@given(value=_JSON, request_id=_REQUEST_IDS)
def test_interpret_message_never_raises_on_json(value: Any, request_id: int) -> None:
    _check_outcome(interpret_message(json.dumps(value), request_id))


@settings(max_examples=200, deadline=None)
@given(data=st.text() | st.binary(), request_id=_REQUEST_IDS)
def test_interpret_message_never_raises_on_raw_data(data: str | bytes, request_id: int) -> None:
    outcome = interpret_message(data, request_id)
    _check_outcome(outcome)
    if isinstance(data, bytes):
        assert isinstance(outcome, ProbeError) and outcome.kind is ErrorKind.PROTOCOL


@settings(max_examples=200, deadline=None)
@given(
    result=st.dictionaries(_KEYS | st.text(max_size=8), _JSON, max_size=6), request_id=_REQUEST_IDS
)
def test_interpret_message_success_answers(result: dict[str, Any], request_id: int) -> None:
    text = json.dumps({"type": "success", "id": request_id, "result": result})
    outcome = interpret_message(text, request_id)
    ready, message = result.get("ready"), result.get("message")
    if isinstance(ready, bool) and isinstance(message, str):
        assert outcome == StatusAnswer(
            ready=ready,
            message=message,
            meta={k: v for k, v in result.items() if k not in ("ready", "message")},
        )
    else:
        assert isinstance(outcome, ProbeError) and outcome.kind is ErrorKind.PROTOCOL
    # The same answer addressed to another id is never taken for ours.
    assert interpret_message(text, request_id + 1) is None


@settings(max_examples=100, deadline=None)
@given(params=_JSON, request_id=_REQUEST_IDS, with_id=st.booleans())
def test_interpret_message_skips_events(params: Any, request_id: int, with_id: bool) -> None:
    message: dict[str, Any] = {"type": "event", "method": "log.entryAdded", "params": params}
    if with_id:
        message["id"] = request_id
    assert interpret_message(json.dumps(message), request_id) is None
