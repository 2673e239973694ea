"""A real Prometheus (Debian's ``prometheus`` package) for the serve tests.

:func:`running_prometheus` writes the given config and rule files into a temporary
directory, starts Prometheus on a free loopback port with its storage in that directory,
waits until it is ready and always stops it (its whole process group) when the block ends.
Without the binary the test skips, except with CI=true, where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.browsers import free_port, require_binary
from tests.serve_process import http_get

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass
class RunningPrometheus:
    url: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/PATH?params``: the ``data`` of a successful answer."""
        query = urllib.parse.urlencode(params)
        reply = http_get(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""))
        answer = json.loads(reply.body)
        if answer.get("status") != "success":
            raise AssertionError(f"Prometheus API {path} {params}: {answer}")
        return answer["data"]

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """An instant query: (labels, value) per series."""
        data = self.api("query", query=expr)
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` now, or None when it has no series."""
        result = self.query(expr)
        if len(result) > 1:
            raise AssertionError(f"{expr} has {len(result)} series: {result}")
        return result[0][1] if result else None

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")[-4000:]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus never showed {what} within {timeout:g} s")
            time.sleep(0.25)


@contextlib.contextmanager
def running_prometheus(config: str, files: Mapping[str, str] = {}) -> Iterator[RunningPrometheus]:
    """Prometheus with ``config`` as prometheus.yml and ``files`` (rule files) beside it."""
    binary = require_binary("prometheus")
    workdir = Path(tempfile.mkdtemp(prefix="bidi-tui-prometheus-"))
    try:
        (workdir / "prometheus.yml").write_text(config)
        for name, text in files.items():
            (workdir / name).write_text(text)
        port = free_port()
        with (workdir / "prometheus.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running = RunningPrometheus(f"http://127.0.0.1:{port}", workdir, process)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"prometheus exited: {running.log()}")
                with contextlib.suppress(OSError):
                    if http_get(f"{running.url}/-/ready", timeout=2).status == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"prometheus not ready: {running.log()}")
                time.sleep(0.2)
            yield running
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
