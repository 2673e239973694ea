"""The benchmarks' load target: ``python -m bidi_tui.demo --healthy N`` in its own process.

The demo farm serves N always-ready BiDi endpoints on one loopback socket. Running it in a
separate process keeps its CPU out of the measured client's numbers; its own CPU is read
from ``/proc`` so a report can say when the server, not the client, bounds the wall time.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

STARTUP_TIMEOUT = 60.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit(wanted: int = 1 << 16) -> int:
    """Lift this process's soft descriptor limit towards ``wanted``; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_rss_kib(pid: int) -> int:
    """Resident set size and its peak (``VmHWM``) of a live process, in KiB: the peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class DemoServer:
    """A running demo farm process; its ``specs`` are ``NAME=ws://127.0.0.1:PORT/PATH``."""

    def __init__(self, process: subprocess.Popen[str], specs: list[str]) -> None:
        self.process = process
        self.specs = specs

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def urls(self) -> list[str]:
        return [spec.split("=", 1)[1] for spec in self.specs]

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
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
