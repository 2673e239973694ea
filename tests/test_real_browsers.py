"""The probe against real Firefox ESR, ChromeDriver and Chromium (CDP) from Debian's packages.

Each browser starts once per run on a free port (fixtures in tests/conftest.py). Without the binary
these tests skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bidi_tui.config import load_config
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import Activity
from bidi_tui.model import ErrorKind, Phase, ProbeResult, State
from bidi_tui.probe import HeldConnection, probe
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.view.states import LOOKS
from tests.browsers import RunningBrowser, chromedriver_capabilities, http_json
from tests.scenes import table_lines

pytestmark = pytest.mark.browser

PROBE_TIMEOUT = 10.0


def endpoint(url: str) -> Endpoint:
    [parsed] = parse_spec(url)
    return parsed


def describe(result: ProbeResult) -> str:
    """What a failed assertion shows: the whole result, the raw answer included."""
    return f"{result.state}: {result.summary!r} error={result.error} raw={result.raw!r}"


async def bidi_command(
    ws: ClientConnection, command_id: int, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Send one BiDi command and return the answer with its id, skipping events."""
    await ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
    async with asyncio.timeout(30):
        while True:
            message = json.loads(await ws.recv())
            if isinstance(message, dict) and message.get("id") == command_id:
                return message


async def wait_until_ready(url: str, timeout: float = 15.0) -> ProbeResult:
    """Probe until the endpoint is READY or ``timeout`` passes; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe(endpoint(url), timeout=PROBE_TIMEOUT)
        if result.state is State.READY or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(0.25)


# --- Firefox ----------------------------------------------------------------------------------


async def test_firefox_session_is_ready(firefox: RunningBrowser) -> None:
    result = await probe(endpoint(firefox.url), timeout=PROBE_TIMEOUT)
    assert result.state is State.READY, describe(result)
    assert result.ready is True
    assert result.message == ""
    assert result.error is None
    assert result.latency_ms is not None and result.latency_ms > 0


async def test_firefox_not_ready_while_another_connection_holds_a_session(
    firefox: RunningBrowser,
) -> None:
    async with connect(firefox.url, proxy=None, open_timeout=PROBE_TIMEOUT) as ws:
        started = await bidi_command(ws, 1, "session.new", {"capabilities": {}})
        assert started.get("type") == "success", started
        try:
            result = await probe(endpoint(firefox.url), timeout=PROBE_TIMEOUT)
            assert result.state is State.NOT_READY, describe(result)
            assert result.ready is False
            assert result.message == "Session already started"
            assert result.error is None
        finally:
            await bidi_command(ws, 2, "session.end", {})
    # The session is gone: Firefox takes new ones again (the other tests rely on it).
    result = await wait_until_ready(firefox.url)
    assert result.state is State.READY, describe(result)


async def test_firefox_unknown_path_is_http_404(firefox: RunningBrowser) -> None:
    result = await probe(endpoint(f"ws://127.0.0.1:{firefox.port}/foo"), timeout=PROBE_TIMEOUT)
    assert result.state is State.ERROR, describe(result)
    assert result.error is not None
    assert result.error.kind is ErrorKind.HTTP_STATUS
    assert result.error.phase is Phase.HANDSHAKE
    assert result.error.detail.startswith("HTTP 404"), result.error.detail
    assert result.error.hint is not None and "/session" in result.error.hint


async def test_firefox_root_path_is_an_http_page(firefox: RunningBrowser) -> None:
    result = await probe(endpoint(f"ws://127.0.0.1:{firefox.port}/"), timeout=PROBE_TIMEOUT)
    assert result.state is State.ERROR, describe(result)
    assert result.error is not None
    assert result.error.kind is ErrorKind.HTTP_STATUS
    assert result.error.detail.startswith("HTTP 200"), result.error.detail


async def test_firefox_accepts_localhost(firefox: RunningBrowser) -> None:
    result = await probe(endpoint(f"ws://localhost:{firefox.port}/session"), timeout=PROBE_TIMEOUT)
    assert result.state is State.READY, describe(result)
    assert result.message == ""


# --- ChromeDriver -----------------------------------------------------------------------------


async def test_chromedriver_session_is_ready(chromedriver: RunningBrowser) -> None:
    result = await probe(endpoint(chromedriver.url), timeout=PROBE_TIMEOUT)
    assert result.state is State.READY, describe(result)
    assert result.ready is True
    assert result.message == "ChromeDriver ready for new sessions."
    assert "build" in result.meta, result.meta
    assert "os" in result.meta, result.meta
    assert "ready" not in result.meta and "message" not in result.meta


async def test_chromedriver_classic_session_websocket_is_already_connected(
    chromedriver: RunningBrowser,
) -> None:
    # Under the driver's own temporary directory: removed when the driver's process group
    # (Chromium included) is gone, even if this test is interrupted.
    user_data_dir = chromedriver.workdir / f"session-{uuid.uuid4().hex}"
    created = await asyncio.to_thread(
        http_json,
        "POST",
        f"{chromedriver.http_url}/session",
        chromedriver_capabilities(user_data_dir),
    )
    value = created.get("value")
    assert isinstance(value, dict) and "sessionId" in value, created
    session_id = value["sessionId"]
    try:
        ws_url = value["capabilities"]["webSocketUrl"]
        assert ws_url.startswith(f"ws://127.0.0.1:{chromedriver.port}/session/"), ws_url
        result = await probe(endpoint(ws_url), timeout=PROBE_TIMEOUT)
        assert result.state is State.NOT_READY, describe(result)
        assert result.ready is False
        assert result.message == "already connected"
    finally:
        deleted = await asyncio.to_thread(
            http_json, "DELETE", f"{chromedriver.http_url}/session/{session_id}"
        )
        assert deleted.get("value") is None, deleted
    # With the session deleted, the driver takes new sessions again.
    result = await wait_until_ready(chromedriver.url)
    assert result.state is State.READY, describe(result)


async def test_chromedriver_root_path_is_a_wrong_path_at_once(
    chromedriver: RunningBrowser,
) -> None:
    # ChromeDriver answers 400 with X-WebSocket-Reject-Reason and keeps the connection open:
    # the verdict is known from the headers, not at the deadline.
    started = time.monotonic()
    result = await probe(endpoint(f"ws://127.0.0.1:{chromedriver.port}/"), timeout=2)
    took = time.monotonic() - started
    assert result.state is State.ERROR, describe(result)
    assert result.error is not None
    assert result.error.kind is ErrorKind.HTTP_STATUS, describe(result)
    assert result.error.phase is Phase.HANDSHAKE
    assert "HTTP 400" in result.error.detail and "path" in result.error.detail
    assert result.error.hint is not None and "wrong path" in result.error.hint
    assert took < 1.0, took


# --- Chromium (CDP) ---------------------------------------------------------------------------


async def test_chromium_cdp_browser_url_is_not_bidi(chromium: RunningBrowser) -> None:
    assert "/devtools/browser/" in chromium.url
    result = await probe(endpoint(chromium.url), timeout=PROBE_TIMEOUT)
    assert result.state is State.ERROR, describe(result)
    assert result.error is not None
    assert result.error.kind is ErrorKind.NOT_BIDI
    assert result.error.phase is Phase.RESPONSE
    assert "session.status" in result.error.detail, result.error.detail
    assert result.error.hint is not None and "ChromeDriver" in result.error.hint


async def test_chromium_cdp_port_has_no_session_path(chromium: RunningBrowser) -> None:
    result = await probe(endpoint(f"ws://127.0.0.1:{chromium.port}/session"), timeout=PROBE_TIMEOUT)
    assert result.state is State.ERROR, describe(result)
    assert result.error is not None
    assert result.error.kind is ErrorKind.HTTP_STATUS
    assert result.error.detail.startswith("HTTP 404"), result.error.detail


# --- the dashboard and the one-shot command on real browsers --------------------------------


async def test_dashboard_turns_firefox_not_ready_after_recheck(
    firefox: RunningBrowser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config(tmp_path / "endpoints.toml", missing_ok=True)
    app = BidiTuiApp(
        config,
        parse_spec(f"ff={firefox.url}"),
        settings=Settings(cli_interval=3600, cli_timeout=10),
    )

    async def row_state_text() -> str:
        for _ in range(200):
            await pilot.pause(0.05)
            watch = app.engine.watch("ff")
            if watch.last is not None and watch.activity is Activity.WAITING:
                break
        app.apply_updates()
        await pilot.pause()
        return LOOKS[app.table.row_view("ff").state].label

    async with app.run_test(size=(120, 30)) as pilot:
        assert await row_state_text() == "● READY"
        async with connect(firefox.url, proxy=None, open_timeout=PROBE_TIMEOUT) as ws:
            started = await bidi_command(ws, 1, "session.new", {"capabilities": {}})
            assert started.get("type") == "success", started
            try:
                await pilot.press("r")
                await pilot.pause(0.1)
                assert await row_state_text() == "◐ NOT READY"
                assert app.table.row_view("ff").message == "Session already started"
                (line,) = [line for line in table_lines(app) if " ff " in line]
                assert "NOT READY" in line and "Session already started" in line
            finally:
                await bidi_command(ws, 2, "session.end", {})
    result = await wait_until_ready(firefox.url)
    assert result.state is State.READY, describe(result)


def test_check_command_on_firefox_chromedriver_and_a_refused_port(
    firefox: RunningBrowser, chromedriver: RunningBrowser
) -> None:
    """The README's done-when: a correct table and exit status 2 (the third is refused)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bidi_tui",
            "check",
            f"127.0.0.1:{firefox.port}",
            f"127.0.0.1:{chromedriver.port}",
            "localhost:1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2, completed.stderr
    results = json.loads(completed.stdout)
    assert [r["state"] for r in results] == ["ready", "ready", "error"]
    assert results[1]["message"] == "ChromeDriver ready for new sessions."
    assert set(results[1]["meta"]) >= {"build", "os"}
    assert results[2]["error"]["kind"] == "refused"


async def test_firefox_held_connection_sees_a_session_start_and_end(
    firefox: RunningBrowser,
) -> None:
    """Reuse mode on real Firefox: the held connection reports what a fresh one would."""
    held = HeldConnection()
    try:
        first = await probe(endpoint(firefox.url), timeout=PROBE_TIMEOUT, held=held)
        assert first.state is State.READY, describe(first)
        async with connect(firefox.url, proxy=None, open_timeout=PROBE_TIMEOUT) as ws:
            started = await bidi_command(ws, 1, "session.new", {"capabilities": {}})
            assert started.get("type") == "success", started
            try:
                busy = await probe(endpoint(firefox.url), timeout=PROBE_TIMEOUT, held=held)
                assert busy.state is State.NOT_READY, describe(busy)
                assert busy.message == "Session already started"
                assert busy.timings.connect_ms is None  # asked on the held connection
            finally:
                await bidi_command(ws, 2, "session.end", {})
        for _ in range(60):
            again = await probe(endpoint(firefox.url), timeout=PROBE_TIMEOUT, held=held)
            if again.state is State.READY:
                break
            await asyncio.sleep(0.25)
        assert again.state is State.READY, describe(again)
    finally:
        await held.close()
