"""A real terminal for the benchmarks: a private tmux server, 120x40, driven by one
control-mode client (``tmux -C``).

One long-lived client sends every command (``send-keys``, ``capture-pane``) without a
process spawn per poll. It asks for no ``%output`` notifications: escaping every byte a
program writes for the client costs tmux more than the program's own drawing, and so would
slow a program that writes a whole screen more than one that writes a word. A wait polls
(one line where it can: 0.2 ms of tmux's time, a whole styled screen 3 ms). A screen is
what tmux has drawn from the program's output, as a user would see it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType

WIDTH, HEIGHT = 120, 40
COMMAND_TIMEOUT = 30.0
POLL = 0.001  # seconds between two captures of a wait
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


class TmuxError(RuntimeError):
    pass


class Tmux:
    """A tmux server of our own (its own socket, no user config), ended on exit."""

    def __init__(self) -> None:
        self.socket = f"bidi-bench-{os.getpid()}"
        self._responses: queue.Queue[tuple[bool, list[str]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._client: subprocess.Popen[bytes] | None = None
        self._socket_path: str | None = None

    def __enter__(self) -> Tmux:
        base = ["tmux", "-L", self.socket, "-f", "/dev/null"]
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        # The first window only holds the session open; programs run in windows of their own.
        subprocess.run(
            [*base, "new-session", "-d", "-s", "bench", *size, "sleep 86400"],
            check=True,
            timeout=COMMAND_TIMEOUT,
        )
        self._client = subprocess.Popen(
            [*base, "-C", "attach", "-t", "bench"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._response()  # the attach's own (empty) answer
        self.command("refresh-client", "-f", "no-output")
        self._socket_path = self.command("display-message", "-p", "#{socket_path}")[0]
        self.command("set-option", "-g", "remain-on-exit", "on")  # keep a crash's last words
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(
                ["tmux", "-L", self.socket, "kill-server"],
                capture_output=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.wait(timeout=5)
            if self._client.poll() is None:
                self._client.kill()
        if self._socket_path is not None:  # a killed server leaves its socket file behind
            with contextlib.suppress(OSError):
                os.unlink(self._socket_path)

    def _read(self) -> None:
        assert self._client is not None and self._client.stdout is not None
        block: list[str] | None = None
        for raw in self._client.stdout:
            if block is not None:
                if raw.startswith((b"%end ", b"%error ")):
                    self._responses.put((raw.startswith(b"%end "), block))
                    block = None
                else:
                    block.append(raw.decode("utf-8", "replace").rstrip("\n"))
            elif raw.startswith(b"%begin "):
                block = []
        self._responses.put(None)  # the client ended

    def _response(self) -> list[str]:
        try:
            answer = self._responses.get(timeout=COMMAND_TIMEOUT)
        except queue.Empty:
            raise TmuxError("tmux did not answer") from None
        if answer is None:
            raise TmuxError("the tmux control client ended")
        ok, lines = answer
        if not ok:
            raise TmuxError("\n".join(lines))
        return lines

    def command(self, *args: str) -> list[str]:
        """Run one tmux command; its output lines."""
        assert self._client is not None and self._client.stdin is not None
        with self._lock:
            self._client.stdin.write((shlex.join(args) + "\n").encode())
            return self._response()

    def launch(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> Pane:
        """Run ``command`` in a new 120x40 window; its pane (the process is the command's
        own: ``exec``)."""
        variables = [f"{k}={v}" for k, v in (env or {}).items()]
        shell = shlex.join(["exec", "env", *variables, *command])
        pane_id, pid = self.command(
            "new-window", "-d", "-P", "-F", "#{pane_id} #{pane_pid}", "-t", "bench:", shell
        )[0].split()
        size = self.command("display-message", "-p", "-t", pane_id, "#{pane_width}x#{pane_height}")
        if size != [f"{WIDTH}x{HEIGHT}"]:
            raise TmuxError(f"the pane is {size}, not {WIDTH}x{HEIGHT}")
        return Pane(self, pane_id, int(pid))


class Pane:
    """One program in its own window."""

    def __init__(self, tmux: Tmux, pane_id: str, pid: int) -> None:
        self.tmux = tmux
        self.id = pane_id
        self.pid = pid

    def screen(self, styles: bool = False, line: int | None = None) -> str:
        """The visible screen, or its ``line`` (0 is the top); with ``styles``, with its
        SGR escape codes."""
        args = ["capture-pane", "-p", "-t", self.id, *(["-e"] if styles else [])]
        if line is not None:
            args += ["-S", str(line), "-E", str(line)]
        return "\n".join(self.tmux.command(*args))

    def send(self, key: str) -> None:
        """Type ``key`` (a tmux key name: ``G``, ``Down``)."""
        self.tmux.command("send-keys", "-t", self.id, key)

    def wait_for(
        self,
        shows: Callable[[str], bool],
        timeout: float,
        *,
        styles: bool = False,
        line: int | None = None,
        poll: float = POLL,
    ) -> tuple[float | None, str]:
        """Until the screen (or its ``line``) ``shows`` what is wanted: (the
        ``time.perf_counter()`` of the first capture that showed it, or None after
        ``timeout`` s; the last capture)."""
        deadline = time.perf_counter() + timeout
        while True:
            screen = self.screen(styles, line)
            now = time.perf_counter()
            if shows(screen):
                return now, screen
            if now > deadline:
                return None, screen
            time.sleep(poll)

    def close(self) -> None:
        """End the program (the pane's hang-up, then SIGTERM, SIGKILL) and its window."""
        with contextlib.suppress(TmuxError):
            self.tmux.command("kill-pane", "-t", self.id)
        for signum in (0, signal.SIGTERM, signal.SIGKILL):
            if signum:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signum)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not _alive(self.pid):
                    return
                time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (the tmux server has not reaped it yet) is gone for our purposes.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@contextlib.contextmanager
def running(tmux: Tmux, command: Sequence[str], env: Mapping[str, str]) -> Iterator[Pane]:
    pane = tmux.launch(command, env)
    try:
        yield pane
    finally:
        pane.close()


def row_looks(styled: str, name: re.Pattern[str]) -> list[tuple[int, str, str]]:
    """(line, the first ``name`` on it, the background it is drawn on) for each line of a
    ``capture-pane -e`` screen that shows a ``name``."""
    looks = []
    background = ""
    for number, line in enumerate(styled.splitlines()):
        found: tuple[int, str, str] | None = None
        position = 0
        for match in [*_SGR.finditer(line), None]:
            hit = name.search(line, position, match.start() if match else len(line))
            if hit and found is None:
                found = (number, hit.group(0), background)
            if match is None:
                break
            position = match.end()
            background = _background(match.group(1), background)
        if found is not None:
            looks.append(found)
    return looks


def _background(params: str, current: str) -> str:
    """The background after one SGR sequence (only what the table uses: reset, 48;2;r;g;b)."""
    parts = params.split(";") if params else ["0"]
    index = 0
    while index < len(parts):
        part = parts[index]
        if part in ("", "0", "49"):
            current = ""
        elif part == "48" and index + 1 < len(parts):
            width = 5 if parts[index + 1] == "2" else 3
            current = ";".join(parts[index : index + width])
            index += width - 1
        elif part == "38" and index + 1 < len(parts):
            index += 4 if parts[index + 1] == "2" else 2
        index += 1
    return current
