"""Quitting: `q`, ctrl+c, SIGTERM and SIGHUP close every connection and exit within a second.

Issue 4, "Resource hygiene". The dashboard runs for real in a pseudo-terminal (``pty.fork``)
watching endpoints that accept the WebSocket and then never answer anything, not even the
closing handshake, so connections are open, and would stay open, when it is told to quit.
Each way of quitting must end the process within :data:`QUIT_LIMIT` seconds with a sensible
status, leave the terminal as it found it (alternate screen left, echo and line editing
back on), and close every connection. A few in-process pilot tests cover the same paths
where timing is not the point.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import os
import pty
import select
import signal
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from bidi_tui.config import load_config
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.ui.screens.confirm import ConfirmScreen
from bidi_tui.ui.screens.detail import DetailScreen

QUIT_LIMIT = 1.0  # seconds from the key or signal until the process is gone
STARTUP_LIMIT = 30.0  # seconds for the dashboard to show up on a busy machine
LEAVE_ALT_SCREEN = b"\x1b[?1049l"
ENTER_ALT_SCREEN = b"\x1b[?1049h"
ROWS, COLUMNS = 30, 120
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class DeafServer:
    """WebSocket endpoints that complete the upgrade, then ignore everything: no answer to
    session.status, no answer to a close frame. Served from a thread, so the dashboard can
    be a subprocess or run in the test's own loop. Counts connections open and closed."""

    def __init__(self) -> None:
        self.port = 0
        self.upgraded = 0  # connections past the WebSocket handshake
        self.closed = 0  # of those, how many the client has closed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    @property
    def open(self) -> int:
        return self.upgraded - self.closed

    def spec(self, name: str) -> str:
        return f"{name}=127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upgraded = False
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            await writer.drain()
            upgraded = True
            self.upgraded += 1
            while await reader.read(65536):  # frames, a close frame included: ignored
                pass
        except (OSError, asyncio.IncompleteReadError, StopIteration, asyncio.CancelledError):
            pass
        finally:
            if upgraded:
                self.closed += 1
            writer.transport.abort()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    def wait_until(self, condition: Callable[[DeafServer], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return True
            time.sleep(0.01)
        return False

    def __enter__(self) -> DeafServer:
        self._thread.start()
        assert self._started.wait(10), "the deaf server did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def three_open(server: DeafServer) -> bool:
    return server.open >= 3


def all_closed(server: DeafServer) -> bool:
    return server.open == 0


@pytest.fixture
def deaf() -> Iterator[DeafServer]:
    with DeafServer() as server:
        yield server


# --- the dashboard in a pseudo-terminal ---------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal, its output collected by a reader thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the program at once
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.status: int | None = None
        self._output = bytearray()
        self._lock = threading.Lock()
        self._mark = 0
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self.fd, 65536)
            except (OSError, ValueError):  # EIO once the child is gone, or fd closed
                return
            if not data:
                return
            with self._lock:
                self._output += data

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._output)

    def since_mark(self) -> bytes:
        return self.output[self._mark :]

    def mark(self) -> None:
        self._mark = len(self.output)

    def wait_for(self, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output:
                return True
            if self.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def poll(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait_exit(self, timeout: float) -> float | None:
        """Seconds until the child exited, or None if it is still running after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.poll() is not None:
                return time.monotonic() - started
            time.sleep(0.005)
        return None

    def local_modes(self) -> int:
        lflag: int = termios.tcgetattr(self.fd)[3]
        return lflag

    def close(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self._reader.join(2)


@contextlib.contextmanager
def dashboard(tmp_path: Path, *args: str) -> Iterator[Terminal]:
    """``python -m bidi_tui ARGS`` on a terminal, once its table shows."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEXTUAL", "PYTEST", "COLUMNS", "LINES"))
    }
    env.update(TERM="xterm-256color", XDG_CONFIG_HOME=str(tmp_path / "xdg"), LANG="C.UTF-8")
    config = tmp_path / "endpoints.toml"
    config.write_text("# empty\n", encoding="utf-8")
    terminal = Terminal([sys.executable, "-m", "bidi_tui", "--config", str(config), *args], env)
    try:
        shown = terminal.wait_for(b"endpoints,", STARTUP_LIMIT)
        assert shown, f"the dashboard did not show up: {terminal.output[-2000:]!r}"
        assert ENTER_ALT_SCREEN in terminal.output
        yield terminal
    finally:
        terminal.close()


def deaf_args(deaf: DeafServer) -> list[str]:
    """Three endpoints on the deaf server, checked with a deadline far beyond the test."""
    return ["--timeout", "60", "--interval", "1", *(deaf.spec(f"deaf-{i}") for i in (1, 2, 3))]


RAW_MODES = termios.ECHO | termios.ICANON


def assert_exits_cleanly(terminal: Terminal, expected_status: int) -> float:
    took = terminal.wait_exit(QUIT_LIMIT + 5)
    assert took is not None, f"still running {QUIT_LIMIT + 5} s later"
    assert terminal.status == expected_status, terminal.since_mark()[-2000:]
    time.sleep(0.05)  # the reader thread collects the last bytes
    after = terminal.since_mark()
    assert b"Traceback" not in after, after[-3000:]
    assert LEAVE_ALT_SCREEN in after, "the alternate screen was not left"
    assert terminal.local_modes() & RAW_MODES == RAW_MODES, "echo and line editing not restored"
    assert took < QUIT_LIMIT, f"took {took:.2f} s to quit"
    return took


QUITS = [
    pytest.param("q", 0, id="q"),
    pytest.param("ctrl+c", 0, id="ctrl+c"),
    pytest.param("SIGTERM", 128 + signal.SIGTERM, id="SIGTERM"),
    pytest.param("SIGHUP", 128 + signal.SIGHUP, id="SIGHUP"),
]


@pytest.mark.parametrize(("how", "status"), QUITS)
def test_quitting_with_connections_open_is_prompt_and_restores_the_terminal(
    tmp_path: Path, deaf: DeafServer, how: str, status: int
) -> None:
    with dashboard(tmp_path, *deaf_args(deaf)) as terminal:
        assert deaf.wait_until(three_open, STARTUP_LIMIT), "the checks never connected"
        assert terminal.local_modes() & RAW_MODES == 0  # the app has the terminal raw
        terminal.mark()
        if how == "q":
            os.write(terminal.fd, b"q")
        elif how == "ctrl+c":
            os.write(terminal.fd, b"\x03")  # raw mode: a key, not SIGINT
        else:
            os.kill(terminal.pid, getattr(signal, how))
        took = assert_exits_cleanly(terminal, status)
        print(f"{how}: exited in {took:.3f} s with status {terminal.status}")
    # Every connection was closed (by the app, or at the latest by the process's end).
    assert deaf.wait_until(all_closed, 2), f"{deaf.open} connections still open"


def test_the_ssh_session_dropping_ends_the_dashboard_promptly(
    tmp_path: Path, deaf: DeafServer
) -> None:
    # Closing the terminal's master side is what sshd does when the connection drops: the
    # kernel sends SIGHUP, and nothing can be written to the terminal any more.
    with dashboard(tmp_path, *deaf_args(deaf)) as terminal:
        assert deaf.wait_until(three_open, STARTUP_LIMIT)
        os.close(terminal.fd)
        took = terminal.wait_exit(QUIT_LIMIT + 5)
        assert took is not None, "still running after the terminal went away"
        assert terminal.status == 128 + signal.SIGHUP
        assert took < QUIT_LIMIT, f"took {took:.2f} s to quit"
        print(f"terminal closed: exited in {took:.3f} s with status {terminal.status}")
    assert deaf.wait_until(all_closed, 2)


def test_quitting_the_demo_is_prompt(tmp_path: Path) -> None:
    # The demo farm runs inside the dashboard: closing it is part of quitting.
    with dashboard(tmp_path, "--demo", "--timeout", "60") as terminal:
        time.sleep(0.5)  # the first round of checks is under way, the hanging one included
        terminal.mark()
        os.kill(terminal.pid, signal.SIGTERM)
        took = assert_exits_cleanly(terminal, 128 + signal.SIGTERM)
        print(f"demo, SIGTERM: exited in {took:.3f} s")


# --- in-process ---------------------------------------------------------------------------------


def make_app(tmp_path: Path, endpoints: list[Endpoint], *, start_engine: bool = True) -> BidiTuiApp:
    config = load_config(tmp_path / "none.toml", missing_ok=True)
    return BidiTuiApp(
        config,
        endpoints,
        settings=Settings(cli_timeout=60, cli_interval=1),
        start_engine=start_engine,
    )


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


async def test_quit_cuts_short_checks_whose_server_never_closes(
    tmp_path: Path, deaf: DeafServer
) -> None:
    endpoints = [e for i in range(5) for e in parse_spec(deaf.spec(f"deaf-{i}"))]
    app = make_app(tmp_path, endpoints)
    async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
        await wait_for(pilot, lambda: deaf.open == 5 and app.engine.in_flight == 5)
        started = time.monotonic()
        await pilot.press("q")
    took = time.monotonic() - started
    assert not app.is_running
    assert took < QUIT_LIMIT, f"quitting took {took:.2f} s"
    assert app.engine.in_flight == 0
    # The app closed them itself, before it was gone (this process lives on).
    assert await asyncio.to_thread(deaf.wait_until, all_closed, 1.0), deaf.open
    leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("bidi-tui check")]
    assert leftover == []


async def test_ctrl_c_quits_like_q_and_asks_about_unsaved_edits(tmp_path: Path) -> None:
    app = make_app(tmp_path, [], start_engine=False)
    async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
        await pilot.press("a", *"127.0.0.1:9", "enter")  # an unsaved edit
        await pilot.pause()
        assert app.dirty
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # the same question q asks
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
        app.table.select(app.table.names[0])
        await pilot.press("enter")  # from the detail view too
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#discard")
        await pilot.pause()
    assert not app.is_running
    assert app.return_code == 0


async def test_ctrl_c_quits_at_once_without_unsaved_edits(tmp_path: Path) -> None:
    app = make_app(tmp_path, parse_spec("a=127.0.0.1:9"), start_engine=False)
    async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert not app.is_running
    assert app.return_code == 0


async def test_sigterm_exits_with_its_status_and_the_handler_goes_with_the_app(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, parse_spec("a=127.0.0.1:9"), start_engine=False)
    before = signal.getsignal(signal.SIGTERM)
    async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
        handler = signal.getsignal(signal.SIGTERM)
        # Only with the app's handler in place is it safe to signal this test process.
        assert handler not in (signal.SIG_DFL, signal.SIG_IGN, None, before)
        os.kill(os.getpid(), signal.SIGTERM)
        await pilot.pause(0.1)
    assert not app.is_running
    assert app.return_code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before
