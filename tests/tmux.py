"""The real `bidi-tui` binary in a tmux pane: keys sent as a person types them, the screen
read back as the terminal shows it (with ``-e``, its colours too)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.browsers import require_binary

EXIT_MARK = "bidi-tui exited with"
SGR = re.compile(r"\x1b\[([0-9;]*)m")


class Pane:
    def __init__(self, session: str) -> None:
        self.session = session

    def send(self, *keys: str, literal: bool = False) -> None:
        """Keys as tmux names them (``Tab``, ``BTab``, ``Escape``, ``C-p``), or text."""
        flags = ["-l"] if literal else []
        subprocess.run(["tmux", "send-keys", "-t", self.session, *flags, *keys], check=True)

    def type(self, text: str) -> None:
        self.send(text, literal=True)

    def screen(self, *, colours: bool = False) -> str:
        command = ["tmux", "capture-pane", "-p", "-t", self.session]
        if colours:
            command.insert(2, "-e")
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def wait_for(
        self, predicate: Callable[[str], bool], timeout: float = 15.0, *, colours: bool = False
    ) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen(colours=colours)
            if predicate(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed what was awaited:\n{shown}")
            time.sleep(0.05)

    def wait_for_text(self, text: str, timeout: float = 15.0) -> str:
        return self.wait_for(lambda shown: text in shown, timeout)

    def exit_status(self, timeout: float = 10.0) -> int:
        shown = self.wait_for(lambda s: EXIT_MARK in s, timeout)
        found = re.search(rf"{EXIT_MARK} (\d+)", shown)
        assert found is not None
        return int(found.group(1))


@contextmanager
def tmux_pane(
    args: list[str],
    *,
    size: tuple[int, int] = (120, 30),
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Pane]:
    """Run ``bidi-tui ARGS`` (this interpreter's) in a new tmux session of ``size``; the
    pane stays after it exits, showing EXIT_MARK and the status."""
    require_binary("tmux")
    session = f"bidi-tui-test-{uuid.uuid4().hex[:8]}"
    command = shlex.join([sys.executable, "-m", "bidi_tui", *args])
    environment = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR")}
    environment.setdefault("TERM", "xterm-256color")
    environment.update(env or {})
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment.items() if k.isidentifier())
    script = f"env -i {exports} {command}; echo; echo {EXIT_MARK} $?; sleep 600"
    width, height = size
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height)]
        + (["-c", str(cwd)] if cwd is not None else [])
        + ["bash", "-c", script],
        check=True,
    )
    try:
        yield Pane(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


@dataclass
class CellStyle:
    """What the terminal draws a cell with: colours as SGR text (``38;5;203``, ``91``)."""

    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    reverse: bool = False


def style_at(screen: str, text: str, *, last: bool = False) -> CellStyle:
    """The style in force where ``text`` starts (its first or ``last`` occurrence), on a
    ``capture-pane -e`` screen."""
    at = screen.rfind(text) if last else screen.find(text)
    assert at >= 0, f"{text!r} is not on the screen"
    style = CellStyle()
    for match in SGR.finditer(screen, 0, at):
        params = match.group(1).split(";") if match.group(1) else ["0"]
        index = 0
        while index < len(params):
            param = params[index]
            if param in ("38", "48"):
                size = 3 if params[index + 1 : index + 2] == ["5"] else 5
                value = ";".join(params[index : index + size])
                style.fg, style.bg = (value, style.bg) if param == "38" else (style.fg, value)
                index += size
                continue
            number = int(param or 0)
            if number == 0:
                style = CellStyle()
            elif number == 1:
                style.bold = True
            elif number == 22:
                style.bold = False
            elif number == 7:
                style.reverse = True
            elif number == 27:
                style.reverse = False
            elif 30 <= number <= 37 or 90 <= number <= 97:
                style.fg = param
            elif 40 <= number <= 47 or 100 <= number <= 107:
                style.bg = param
            elif number == 39:
                style.fg = None
            elif number == 49:
                style.bg = None
            index += 1
    return style
