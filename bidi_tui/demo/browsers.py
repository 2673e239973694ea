"""The demo farm's browsers: each kind of endpoint, its schedule and its answers.

Answers are shaped byte for byte like the real ones in ``shared/reference/real-endpoints.md``;
a request that is not exactly ``{"id": N, "method": "session.status", "params": {}}`` gets
the BiDi error a browser sends.
"""

from __future__ import annotations

import bisect
import json
import platform
import random
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from websockets.typing import Data

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

MAX_ID = 2**53 - 1
MAX_MESSAGE = 1 << 16
JITTER = 0.02


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


STATUS_KINDS = frozenset(
    {Kind.FIREFOX, Kind.CHROME, Kind.FIREFOX_BUSY, Kind.CHROME_BUSY, Kind.FLAPPING}
)
CHROME_KINDS = frozenset({Kind.CHROME, Kind.CHROME_BUSY})

# One farm: (name prefix, kind); names are numbered per prefix across copies.
MIX: tuple[tuple[str, Kind], ...] = (
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


class BusySchedule:
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
class Browser:
    name: str
    kind: Kind
    path: str
    latency: float = 0.0
    schedule: BusySchedule | None = None
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
            return cdp_answer(data)
        checked = check_command(data)
        if isinstance(checked, dict):
            return checked
        ready = not self.busy_at(elapsed)
        if self.kind in CHROME_KINDS:
            return {
                "id": checked,
                "result": {
                    "build": {"version": CHROME_VERSION},
                    "message": CHROME_READY_MESSAGE if ready else CHROME_BUSY_MESSAGE,
                    "os": OS_META,
                    "ready": ready,
                },
                "type": "success",
            }
        message = "" if ready else FIREFOX_BUSY_MESSAGE
        return {"type": "success", "id": checked, "result": {"ready": ready, "message": message}}


OS_META = {
    "arch": platform.machine() or "x86_64",
    "name": platform.system() or "Linux",
    "version": platform.release() or "6.18.0",
}


def bidi_error(request_id: int | None, error: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "error": error, "message": message}


def check_command(data: Data) -> int | dict[str, Any]:
    """The id of a valid ``session.status`` command, or the BiDi error answer to send."""
    if not isinstance(data, str):
        return bidi_error(None, "invalid argument", "expected a JSON text frame, got binary")
    try:
        command = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return bidi_error(None, "invalid argument", f"cannot parse the command as JSON: {exc}")
    if not isinstance(command, dict):
        return bidi_error(None, "invalid argument", "a command must be a JSON object")
    request_id = command.get("id")
    if type(request_id) is not int or not 0 <= request_id <= MAX_ID:
        return bidi_error(
            None,
            "invalid argument",
            f"expected 'id' to be an integer from 0 to 2^53-1, got {json.dumps(request_id)}",
        )
    method = command.get("method")
    if not isinstance(method, str):
        return bidi_error(request_id, "invalid argument", "expected 'method' to be a string")
    params = command.get("params")
    if not isinstance(params, dict):
        return bidi_error(request_id, "invalid argument", "expected 'params' to be an object")
    if method != "session.status":
        return bidi_error(request_id, "unknown command", method)
    if params:
        return bidi_error(
            request_id,
            "invalid argument",
            f"session.status takes no parameters, got {', '.join(map(repr, params))}",
        )
    return request_id


def cdp_answer(data: Data) -> dict[str, Any]:
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


def plan_browser(name: str, kind: Kind, rng: random.Random, shared: bool) -> Browser:
    suffix = f"/{name}" if shared else ""
    if kind is Kind.CDP:
        path = f"/devtools/browser/{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    elif kind is Kind.WRONG_PATH:
        path = "/wd/hub" + suffix
    else:
        path = "/session" + suffix
    if kind in CHROME_KINDS:
        latency = rng.uniform(0.010, 0.060)
    elif kind is Kind.CDP:
        latency = rng.uniform(0.001, 0.010)
    else:
        latency = rng.uniform(0.002, 0.030)
    busy_kinds = (Kind.FIREFOX_BUSY, Kind.CHROME_BUSY)
    schedule = BusySchedule(rng) if kind in busy_kinds else None
    return Browser(name, kind, path, latency=latency, schedule=schedule)
