"""What the benchmarks point the product at: ``python -m bidi_tui.demo --healthy N`` in its
own process (N ready BiDi endpoints on one loopback socket), a loopback port that refuses
every connection, config files of any size, and the ``bidi-tui`` command of this checkout.

The demo farm runs in a separate process so its CPU stays out of the measured client's.
Importing this module puts this checkout first on the path, here and (``PYTHONPATH``) in
every child process, so the benchmarks measure this checkout's code whatever is installed.
It also gives this run, and every child, a history of its own: a history left by other runs
(tens of thousands of endpoints) is read at every start and held in memory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import report

STARTUP_TIMEOUT = 60.0
CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(CHECKOUT), os.environ.get("PYTHONPATH")) if p
)
STATE_DIR = tempfile.mkdtemp(prefix="bidi-bench-state-")
os.environ["BIDI_TUI_STATE_DIR"] = STATE_DIR
atexit.register(shutil.rmtree, STATE_DIR, ignore_errors=True)


def raise_fd_limit(wanted: int = 1 << 16) -> int:
    """Lift this process's soft descriptor limit towards ``wanted``; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bidi_tui_command() -> list[str]:
    """The installed ``bidi-tui`` script beside this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("bidi-tui")
    if script.exists():
        return [str(script)]
    found = shutil.which("bidi-tui")
    return [found] if found else [sys.executable, "-m", "bidi_tui"]


def terminal_env() -> dict[str, str]:
    """What a program in a tmux window gets on top of the tmux server's environment: this
    checkout's code, and true colour (so the cursor row's background is told apart)."""
    return {
        "PYTHONPATH": os.environ["PYTHONPATH"],
        "BIDI_TUI_STATE_DIR": STATE_DIR,
        "COLORTERM": "truecolor",
    }


def write_config(path: Path, urls: Sequence[str], *, interval: float = 5.0) -> Path:
    """A config file watching ``urls`` as ``demo-1``, ``demo-2``, ... every ``interval`` s."""
    lines = ["# written by bench/farm.py", "[defaults]", f"interval = {interval:g}", "timeout = 5"]
    for index, url in enumerate(urls, 1):
        lines += ["", "[[endpoints]]", f'name = "demo-{index}"', f'url = "{url}"']
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that is bound but never listens (connections are refused), held
    for the block's lifetime so nothing else takes it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class DemoServer:
    """A running demo farm process; its ``specs`` are ``NAME=ws://127.0.0.1:PORT/PATH``."""

    def __init__(self, process: subprocess.Popen[str], specs: list[str]) -> None:
        self.process = process
        self.specs = specs

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return report.cpu_seconds(self.pid)

    def urls(self, count: int | None = None) -> list[str]:
        return [spec.split("=", 1)[1] for spec in self.specs[:count]]

    def write_specs(self, path: Path, count: int | None = None) -> Path:
        path.write_text("".join(f"{spec}\n" for spec in self.specs[:count]))
        return path


@contextlib.contextmanager
def demo_server(count: int) -> Iterator[DemoServer]:
    """Start ``count`` healthy demo endpoints in a child process; always stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bidi_tui.demo", "--healthy", str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    # The specs come in one flushed burst; a watchdog ends a server that never sends them.
    watchdog = threading.Timer(STARTUP_TIMEOUT, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        specs: list[str] = []
        while len(specs) < count:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the demo server did not start ({len(specs)} of {count})")
            specs.append(line.strip())
        watchdog.cancel()
        yield DemoServer(process, specs)
    finally:
        watchdog.cancel()
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
