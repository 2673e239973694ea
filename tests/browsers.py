"""Real browsers for integration tests: each on a free port with its own temporary profile.

A start waits (bounded, with retries on a fresh port) until the browser listens; a stop
ends the whole process group and any helper that left it (crash reporters), so nothing
outlives the test run. A missing binary skips the test locally and fails it when CI=true.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Real instances may already listen on the usual ports: never take them.
RESERVED_PORTS = frozenset({9222, 9515})
STARTUP_TIMEOUT = 30.0
START_ATTEMPTS = 3
POLL_INTERVAL = 0.2
STOP_TIMEOUT = 10.0
# Set in each started browser's environment; children inherit it, so helpers that leave the
# process group (Firefox's crashhelper, Chromium's crashpad handler) can still be found.
OWNER_ENV = "BIDI_TUI_TEST_OWNER"

# Binary name -> the Debian package that provides it.
PACKAGES = {"firefox-esr": "firefox-esr", "chromium": "chromium", "chromedriver": "chromium-driver"}

# Chromium as root needs --no-sandbox; the rest keeps it off the network on a machine with none.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class BrowserStartError(RuntimeError):
    """A browser did not come up listening within the start-up budget."""


def in_ci() -> bool:
    """True when running in CI, where every browser test must run."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_binary(name: str) -> str:
    """Path of ``name``; skip the test when it is missing, or fail it when CI=true."""
    path = shutil.which(name)
    if path is not None:
        return path
    package = PACKAGES.get(name, name)
    problem = f"{name} is not installed (Debian package {package!r})"
    if in_ci():
        pytest.fail(
            f"{problem}; browser tests must run in CI: install it in .ci/run", pytrace=False
        )
    pytest.skip(problem)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, never one of :data:`RESERVED_PORTS`."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def http_json(method: str, url: str, body: Any = None, *, timeout: float = 60.0) -> dict[str, Any]:
    """Send one HTTP request with an optional JSON body; return the decoded JSON answer.

    An HTTP error status still returns the answer's JSON (WebDriver puts errors there).
    """
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    # No proxy: an http_proxy in the environment must not catch requests to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            text = exc.read().decode()
    answer = json.loads(text)
    if not isinstance(answer, dict):
        raise ValueError(f"{method} {url} answered JSON that is not an object: {text[:200]}")
    return answer


# --- processes --------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of ``pid`` from /proc, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may hold spaces: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[2])


def _pids() -> list[int]:
    try:
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``."""
    members = []
    for pid in _pids():
        stat = _proc_stat(pid)
        if stat is not None and stat[1] == pgid and stat[0] != "Z":
            members.append(pid)
    return members


def owned_processes(owner: str) -> list[int]:
    """Live processes whose environment carries ``OWNER_ENV=owner``."""
    marker = f"{OWNER_ENV}={owner}".encode()
    found = []
    for pid in _pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            stat = _proc_stat(pid)
            if stat is not None and stat[0] != "Z":
                found.append(pid)
    return found


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


@dataclass
class RunningBrowser:
    """A browser or driver started by :func:`launch`. ``url`` is the endpoint to probe."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    log_path: Path
    owner: str
    url: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def profile(self) -> Path:
        return self.workdir / "profile"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the browser's combined stdout and stderr."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """End the whole process group and the helpers that left it; remove the profile."""
        if self._stopped:
            return
        self._stopped = True
        pgid = self.process.pid  # start_new_session=True: the leader's pid is the group id
        try:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            _wait_for(lambda: self.process.poll() is not None, STOP_TIMEOUT)
            _wait_for(lambda: not group_members(pgid), 2.0)
            if self.process.poll() is None or group_members(pgid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
            # Crash reporters start their own session; they exit with their parent, but
            # never leave one behind.
            if not _wait_for(lambda: not owned_processes(self.owner), 5.0):
                for pid in owned_processes(self.owner):
                    _kill(pid, signal.SIGKILL)
                _wait_for(lambda: not owned_processes(self.owner), 5.0)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


# How to tell that a started browser listens: returns the URL to probe once it does.
ReadyCheck = Callable[[RunningBrowser], str | None]


def launch(
    name: str,
    build_argv: Callable[[int, Path], list[str]],
    ready: ReadyCheck,
    *,
    timeout: float = STARTUP_TIMEOUT,
    attempts: int = START_ATTEMPTS,
) -> RunningBrowser:
    """Start ``build_argv(port, profile_dir)`` in a new session and poll ``ready`` until it
    gives the endpoint URL. Retries on a fresh port; raises :class:`BrowserStartError`."""
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix=f"bidi-tui-{name}-"))
        profile = workdir / "profile"
        profile.mkdir()
        log_path = workdir / "output.log"
        owner = uuid.uuid4().hex
        argv = build_argv(port, profile)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, OWNER_ENV: owner},
                start_new_session=True,
            )
        browser = RunningBrowser(name, process, port, workdir, log_path, owner)
        try:
            problem = _wait_ready(browser, ready, timeout)
            if problem is None:
                return browser
            failures.append(
                f"attempt {attempt} (port {port}): {problem}\n"
                f"  command: {' '.join(argv)}\n  output:\n{browser.log_tail()}"
            )
        finally:
            if not browser.url:
                browser.stop()
    raise BrowserStartError(
        f"{name} did not start listening after {attempts} attempts:\n" + "\n".join(failures)
    )


def _wait_ready(browser: RunningBrowser, ready: ReadyCheck, timeout: float) -> str | None:
    """Poll until ready; None on success, else what went wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = browser.process.poll()
        if code is not None:
            return f"exited with code {code} before listening"
        try:
            url = ready(browser)
        except (OSError, ValueError):  # not up yet: refused, reset, half-written answer
            url = None
        if url:
            browser.url = url
            return None
        time.sleep(POLL_INTERVAL)
    return f"not listening after {timeout:g} s"


# --- the browsers -----------------------------------------------------------------------------


def _firefox_ready(browser: RunningBrowser) -> str | None:
    banner = f"WebDriver BiDi listening on ws://127.0.0.1:{browser.port}"
    if banner in browser.log_path.read_text(errors="replace") and port_open(browser.port):
        return f"ws://127.0.0.1:{browser.port}/session"
    return None


def _chromedriver_ready(browser: RunningBrowser) -> str | None:
    status = http_json("GET", f"{browser.http_url}/status", timeout=2.0)
    value = status.get("value")
    if isinstance(value, dict) and value.get("ready") is True:
        return f"ws://127.0.0.1:{browser.port}/session"
    return None


def _chromium_ready(browser: RunningBrowser) -> str | None:
    version = http_json("GET", f"{browser.http_url}/json/version", timeout=2.0)
    url = version.get("webSocketDebuggerUrl")
    return url if isinstance(url, str) and url.startswith("ws://") else None


@contextlib.contextmanager
def running_firefox() -> Iterator[RunningBrowser]:
    """Firefox ESR, headless, with WebDriver BiDi at ``url`` (``ws://127.0.0.1:PORT/session``)."""
    binary = require_binary("firefox-esr")
    browser = launch(
        "firefox",
        lambda port, profile: [
            binary,
            "--headless",
            f"--remote-debugging-port={port}",
            "--profile",
            str(profile),
            "--no-remote",
        ],
        _firefox_ready,
    )
    try:
        yield browser
    finally:
        browser.stop()


@contextlib.contextmanager
def running_chromedriver() -> Iterator[RunningBrowser]:
    """ChromeDriver, with BiDi at ``url`` and the classic HTTP API at ``http_url``."""
    binary = require_binary("chromedriver")
    browser = launch(
        "chromedriver", lambda port, _profile: [binary, f"--port={port}"], _chromedriver_ready
    )
    try:
        yield browser
    finally:
        browser.stop()


@contextlib.contextmanager
def running_chromium() -> Iterator[RunningBrowser]:
    """Headless Chromium with CDP only; ``url`` is the browser's CDP WebSocket URL."""
    binary = require_binary("chromium")
    browser = launch(
        "chromium",
        lambda port, profile: [
            binary,
            *CHROMIUM_ARGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
        ],
        _chromium_ready,
    )
    try:
        yield browser
    finally:
        browser.stop()


def chromedriver_capabilities(user_data_dir: Path) -> dict[str, Any]:
    """Capabilities for a classic ChromeDriver session with a BiDi ``webSocketUrl``."""
    return {
        "capabilities": {
            "alwaysMatch": {
                "webSocketUrl": True,
                "goog:chromeOptions": {
                    "binary": require_binary("chromium"),
                    "args": [*CHROMIUM_ARGS, f"--user-data-dir={user_data_dir}"],
                },
            }
        }
    }
