"""Reading the answer to ``session.status``: one WebSocket message, classified.

Pure functions of the received data: no I/O, so they are tested (and fuzzed) alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from websockets.typing import Data

from bidi_tui.model import ErrorKind, Phase, ProbeError

MAX_MESSAGE_SIZE = 1 << 20
# Events or answers to other ids skipped while waiting; past this the endpoint is flooding us.
MAX_SKIPPED_MESSAGES = 1000
# How much of the last raw answer a result keeps for the detail view.
RAW_KEEP_CHARS = 64 * 1024


@dataclass(frozen=True)
class StatusAnswer:
    ready: bool
    message: str
    meta: dict[str, Any]


CDP_HINT = (
    "this is a Chrome DevTools (CDP) endpoint, not WebDriver BiDi; "
    "use ChromeDriver (ws://HOST:9515/session) or Firefox (--remote-debugging-port)"
)
NOT_BIDI_HINT = "a WebSocket server that does not speak WebDriver BiDi; check the port and path"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def interpret_message(data: Data, request_id: int) -> StatusAnswer | ProbeError | None:
    """Classify one WebSocket message received while waiting for ``request_id``.

    Returns the status answer, an error, or ``None`` for a message that is not ours (an
    event, or the answer to another id) so the caller keeps waiting. Never raises.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answered with a binary frame of {len(data)} bytes; BiDi sends JSON text",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer is not valid JSON: {_short(data)}",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    if not isinstance(message, dict):
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer is a JSON {type(message).__name__}, not an object: {_short(data)}",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    msg_type = message.get("type")
    has_id = "id" in message
    msg_id = message.get("id")
    ours = has_id and type(msg_id) is int and msg_id == request_id

    if msg_type == "event":
        return None
    if msg_type is None and "method" in message and not has_id:
        return None  # a CDP-style event; if this is CDP the error for our id follows
    if msg_type is None and not has_id and "error" not in message:
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer has neither 'type' nor 'id', so it is not BiDi: {_short(data)}",
            hint=NOT_BIDI_HINT,
            phase=Phase.RESPONSE,
        )
    if msg_type is None and "error" in message and isinstance(message["error"], dict):
        if ours or not has_id or msg_id is None:
            cdp_error = message["error"]
            text = cdp_error.get("message", cdp_error)
            return ProbeError(
                ErrorKind.NOT_BIDI,
                f"answered in CDP, not BiDi: {_short(text)}",
                hint=CDP_HINT,
                phase=Phase.RESPONSE,
            )
        return None
    if msg_type == "error":
        if ours or msg_id is None:
            error = message.get("error")
            text = message.get("message")
            detail = f"BiDi error {_short(error)}"
            if text:
                detail += f": {_short(text)}"
            return ProbeError(
                ErrorKind.BIDI_ERROR,
                detail,
                hint="the endpoint speaks BiDi but refused session.status; check its path",
                phase=Phase.RESPONSE,
            )
        return None
    if not ours:
        if has_id and msg_id is not None and type(msg_id) is not int:
            return ProbeError(
                ErrorKind.PROTOCOL,
                f"answer has a non-integer id {_short(msg_id)}",
                phase=Phase.RESPONSE,
            )
        return None
    if msg_type != "success":
        return ProbeError(
            ErrorKind.PROTOCOL,
            f"answer to our id has type {_short(msg_type)}, expected 'success' or 'error'",
            phase=Phase.RESPONSE,
        )
    result = message.get("result")
    if not isinstance(result, dict):
        return ProbeError(
            ErrorKind.PROTOCOL, "'result' is missing or not an object", phase=Phase.RESPONSE
        )
    ready = result.get("ready")
    if not isinstance(ready, bool):
        what = "missing" if "ready" not in result else f"not a boolean: {_short(ready)}"
        return ProbeError(ErrorKind.PROTOCOL, f"result.ready is {what}", phase=Phase.RESPONSE)
    status_message = result.get("message")
    if not isinstance(status_message, str):
        what = "missing" if "message" not in result else f"not a string: {_short(status_message)}"
        return ProbeError(ErrorKind.PROTOCOL, f"result.message is {what}", phase=Phase.RESPONSE)
    meta = {k: v for k, v in result.items() if k not in ("ready", "message")}
    return StatusAnswer(ready=ready, message=status_message, meta=meta)
