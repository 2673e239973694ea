"""The file system side of the endpoints file: reading it without blocking, finding what a
symlink points to, private folders and the temporary files of an atomic save.

Nothing here keeps state between calls, and nothing touches the process-wide umask, so a
save may run in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from pathlib import Path

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# A temporary file of ours is stale once its save must be over: a save writes one buffer
# and renames it, in well under a second even at 50,000 endpoints. One whose process is
# gone is stale sooner, as that process can no longer rename it.
STALE_AFTER_SECONDS = 3600.0
STALE_ORPHAN_AFTER_SECONDS = 10.0
_MAX_SYMLINKS = 40  # as Linux's own limit


class NotARegularFile(OSError):
    """The path names a FIFO, socket or device: never read or replaced."""


def kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, which must be a regular file (a symlink to one is fine).

    A FIFO would block ``open`` until a writer comes and a device may never end, so the
    file is opened non-blocking and checked with ``fstat`` before anything is read: a file
    swapped for a FIFO between a ``stat`` and the ``open`` cannot block either.
    Raises ``FileNotFoundError``, ``IsADirectoryError``, :class:`NotARegularFile` or
    another ``OSError``.
    """
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(mode):  # a socket cannot even be opened: say what it is instead
        raise NotARegularFile(errno.EINVAL, kind_of(mode), str(path))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(errno.EINVAL, kind_of(mode), str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def final_target(path: Path) -> Path:
    """Where a save of ``path`` must write: the file at the end of its symlinks.

    Replacing the link itself would cut it from the file it points to. The target may
    not exist yet (a dangling link is created through). Raises ``OSError`` (ELOOP) for a
    symlink loop.
    """
    current = Path(os.path.abspath(path))
    for _ in range(_MAX_SYMLINKS):
        try:
            link = os.readlink(current)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):  # not a link, or nothing there
                return Path(os.path.realpath(current.parent)) / current.name
            raise
        current = Path(os.path.realpath(current.parent)) / link
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))


def make_private_folders(folder: Path) -> None:
    """Create ``folder`` and any missing parents as 0700, whatever the umask.

    ``mkdir(parents=True)`` gives parents the umask's mode, and a umask of 000 would give
    a folder of passwords 0777: each folder created here is chmod-ed instead.
    """
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile: its mode is its business
        os.chmod(created, PRIVATE_FOLDER_MODE)


def temp_prefix(target: Path) -> str:
    # The pid tells a later start whether the process that made the file is still there.
    return f".{target.name}.{os.getpid()}."


TEMP_SUFFIX = ".tmp"


def _temp_pattern(target: Path) -> re.Pattern[str]:
    # Ours only: the name tempfile.mkstemp makes from temp_prefix (and, from versions
    # before the pid was added, without it).
    return re.compile(rf"\.{re.escape(target.name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp\Z")


def make_temp_file(target: Path) -> str:
    """A new, empty 0600 file beside ``target`` for an atomic save; returns its path."""
    fd, temp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    return temp


def _process_is_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return False


def remove_stale_temp_files(target: Path, *, now: float | None = None) -> list[str]:
    """Delete temporary files earlier saves of ``target`` left behind; returns their names.

    Only files named as ours, regular, owned by this user, and old: any such file after an
    hour, or after a few seconds once the process that made it is gone (a save killed by
    SIGKILL). Errors are ignored: a folder we cannot clean is no reason to stop.
    """
    pattern = _temp_pattern(target)
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        candidate = target.parent / name
        with contextlib.suppress(OSError):
            info = os.lstat(candidate)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                continue
            age = now - info.st_mtime
            orphan = match.group(1) is not None and _process_is_gone(int(match.group(1)))
            if age > STALE_AFTER_SECONDS or (orphan and age > STALE_ORPHAN_AFTER_SECONDS):
                os.unlink(candidate)
                removed.append(name)
    return removed
