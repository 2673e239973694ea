"""Quitting on signals: SIGTERM, SIGHUP (a dropped SSH session) and SIGINT end the dashboard
cleanly, connections closed and the terminal restored, with status 128 + the signal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable

QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
# After a hangup the process ends this long after SIGHUP, whatever state shutdown is in.
HANGUP_EXIT_SECONDS = 0.8


def catch_quit_signals(on_signal: Callable[[int], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in QUIT_SIGNALS:
        # Only the main thread may set handlers; elsewhere the defaults stay.
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signum, on_signal, signum)


def release_quit_signals() -> None:
    loop = asyncio.get_running_loop()
    for signum in QUIT_SIGNALS:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(signum)


def terminal_gone() -> bool:
    """True when the terminal is gone (writes to it fail), as after an SSH hangup."""
    try:
        os.write(1, b"")
    except OSError:
        return True
    return False


def leave_a_hung_up_terminal(status: int) -> None:
    """With the terminal gone, every write to it fails and Textual's shutdown can block for
    good on them. So what it still writes goes to /dev/null, and the process ends at the
    latest HANGUP_EXIT_SECONDS from now, whatever state shutdown is in."""
    with contextlib.suppress(OSError):
        nowhere = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(nowhere, fd)
        os.close(nowhere)
    timer = threading.Timer(HANGUP_EXIT_SECONDS, os._exit, args=(status,))
    timer.daemon = True
    timer.start()
