"""A hook command as written (``--on-change``, ``on_change``): split into an argv, checked.

Apart from :mod:`bidi_tui.hooks` so the config's schema checks commands without loading
the engine.
"""

from __future__ import annotations

import os
import shlex
import shutil

from bidi_tui.untrusted import one_line

Argv = tuple[str, ...]


class HookCommandError(ValueError):
    """A hook command that cannot be run; ``str()`` says why, in one line."""


def split_command(command: str) -> Argv:
    """``command`` split into its argv like a shell would, or :class:`HookCommandError`."""
    shown = one_line(command, limit=60)
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise HookCommandError(f"cannot split {shown!r} into words: {exc}") from None
    if not argv:
        raise HookCommandError("a command is empty; give a program, e.g. 'notify-send bidi-tui'")
    if any("\0" in word for word in argv):
        raise HookCommandError(f"{shown!r} holds a NUL character")
    return argv


def missing_program(argv: Argv) -> str | None:
    """Why ``argv``'s program cannot run here (not found, not executable), or None."""
    program = argv[0]
    if os.sep not in program:
        return None if shutil.which(program) else f"{program!r} is not found on PATH"
    if not os.path.isfile(program):
        return f"{program!r}: no such file"
    return None if os.access(program, os.X_OK) else f"{program!r} is not executable"
