"""``bidi-tui serve`` in a subprocess, as a person runs it, and plain HTTP against it.

:func:`running_serve` starts the real command on a free loopback port (``--listen
127.0.0.1:0``), reads the address from its start-up line and always stops it (SIGTERM,
then SIGKILL) when the block ends. Its stderr is collected line by line.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LISTENING = re.compile(r"metrics at (http://[^ ,;]+)/metrics")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def http_get(url: str, headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> Reply:
    """GET ``url`` without any proxy; an HTTP error status is a reply like any other."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, dict(exc.headers.items()), exc.read())


@dataclass
class RunningServe:
    process: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:PORT, or "" with --listen none
    stderr_lines: list[str] = field(default_factory=list)

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        reply = http_get(self.url + path, headers)
        if reply.headers.get("Content-Encoding") == "gzip":
            return Reply(reply.status, reply.headers, gzip.decompress(reply.body))
        return reply

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def log(self) -> str:
        return "".join(self.stderr_lines)

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        wait_until(lambda: text in self.log(), timeout, f"{text!r} in serve's log")

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``signum``; (exit status, seconds until the process was gone)."""
        started = time.monotonic()
        self.process.send_signal(signum)
        status = self.process.wait(STOP_TIMEOUT)
        return status, time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _collect(stream: IO[bytes], lines: list[str]) -> None:
    for line in iter(stream.readline, b""):
        lines.append(line.decode(errors="replace"))


@contextlib.contextmanager
def running_serve(*args: str, stdout: int | None = subprocess.DEVNULL) -> Iterator[RunningServe]:
    """``bidi-tui serve ARGS`` (``--listen 127.0.0.1:0`` unless ARGS give --listen)."""
    listen = [] if "--listen" in args else ["--listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "bidi_tui", "serve", *listen, *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stderr is not None
    running = RunningServe(process, "")
    reader = threading.Thread(
        target=_collect, args=(process.stderr, running.stderr_lines), daemon=True
    )
    reader.start()
    try:
        wait_until(
            lambda: "watching" in running.log() or process.poll() is not None,
            START_TIMEOUT,
            "serve to start",
        )
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {running.log()}")
        found = _LISTENING.search(running.log())
        running.url = found.group(1) if found else ""
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(STOP_TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
