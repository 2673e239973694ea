"""``serve --jsonl``: one strict JSON line per finished check, flushed line by line.

The keys are those of ``check --json`` plus ``previous_state`` (``null`` for an endpoint's
first check). The engine's listener only queues the line; a writer thread writes and
flushes it, so a slow reader (``| jq`` on a busy terminal, a stalled log shipper) never
holds up the checks. When it falls more than :data:`MAX_QUEUED_LINES` behind, lines are
dropped and counted, and a note on stderr says how many.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from bidi_tui.engine import CheckFinished, EngineEvent
from bidi_tui.untrusted import strict_json_dumps

MAX_QUEUED_LINES = 100_000
_STOP = b""


def check_line(event: CheckFinished) -> bytes:
    """One finished check as a JSON line (UTF-8, newline-terminated, strict RFC 8259)."""
    record = event.result.to_json()
    record["previous_state"] = None if event.previous_state is None else event.previous_state.value
    return (strict_json_dumps(record, ensure_ascii=False) + "\n").encode()


class JsonlStream:
    """An engine listener writing :func:`check_line` for every finished check to ``out``.

    ``on_closed`` is called (from the writer thread) when the reader went away.
    """

    def __init__(
        self,
        out: BinaryIO | None = None,
        *,
        on_closed: Callable[[], None] | None = None,
        max_queued: int = MAX_QUEUED_LINES,
    ) -> None:
        self.out = out if out is not None else sys.stdout.buffer
        self.on_closed = on_closed
        self.dropped = 0
        self.closed = False
        self._lines: queue.Queue[bytes] = queue.Queue(max_queued)
        self._thread = threading.Thread(target=self._write, name="bidi-tui jsonl", daemon=True)
        self._thread.start()

    def on_event(self, event: EngineEvent) -> None:
        if not isinstance(event, CheckFinished) or self.closed:
            return
        try:
            self._lines.put_nowait(check_line(event))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 0.3) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop the writer."""
        with contextlib.suppress(queue.Full):
            self._lines.put(_STOP, timeout=timeout)
        self._thread.join(timeout)

    def _silence_out(self) -> None:
        """Point a dead stdout at /dev/null, so the interpreter's flush at exit is quiet."""
        if self.out is sys.stdout.buffer:
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.out.fileno())
                os.close(devnull)

    def _write(self) -> None:
        reported = 0
        while (line := self._lines.get()) != _STOP:
            try:
                self.out.write(line)
                self.out.flush()
            except (BrokenPipeError, ValueError, OSError):  # the reader is gone
                self.closed = True
                self._silence_out()
                if self.on_closed is not None:
                    self.on_closed()
                return
            if self.dropped != reported:
                print(
                    f"bidi-tui serve: the JSON stream fell behind; {self.dropped - reported} "
                    "lines dropped",
                    file=sys.stderr,
                    flush=True,
                )
                reported = self.dropped
