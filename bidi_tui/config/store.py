"""Writing the endpoints file: rendered from its document, replaced atomically.

Thread use: :func:`save_config` (and the :class:`~bidi_tui.config.edit.ConfigEditor` edits
before it, e.g. ``sync`` then ``save_config`` in one ``asyncio.to_thread`` call) may run in
a worker thread, off the event loop, provided that until it returns nothing else reads or
changes that :class:`Config` (its document, ``endpoints``, ``origins``) or the list and
dict handed to ``sync`` (pass copies of ones the caller keeps changing). Endpoints are
frozen, so sharing them is fine. These functions change only that Config (and the file);
they keep no module-level state, never change the umask or the working folder, and take no
lock, so saves of different Configs may even run in parallel.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from bidi_tui.config.files import (
    PRIVATE_FILE_MODE,
    NotARegularFile,
    final_target,
    kind_of,
    make_private_folders,
    make_temp_file,
    read_regular_file,
    remove_stale_temp_files,
)
from bidi_tui.config.load import BOM, MISSING, Config, file_digest
from bidi_tui.config.schema import ConfigError

NEW_FILE_HEADER = """\
# bidi-tui endpoints: one [[endpoints]] table per browser or driver.
# url takes any endpoint spec: ws://HOST:PORT/session, HOST:PORT, HOST:9222-9231 ...
"""


class ConfigSaveError(ConfigError):
    """The file could not be written; the file on disk is unchanged."""


def render(config: Config) -> str:
    """The file's new text. Reads ``config`` only."""
    text = config.text()
    if not config.exists and not text.startswith("#"):
        text = NEW_FILE_HEADER + "\n" + text
    return text


def save_config(config: Config, *, force: bool = False) -> None:
    """Write the document atomically: a temp file beside the file, then ``os.replace``.

    Through a symlink, the file it points to is replaced (its folder holds the temp file)
    and the link stays. A FIFO, socket or device at the path is never read or replaced.
    A new file is 0600 and new folders 0700 whatever the umask; an existing file keeps its
    mode. Temp files an interrupted save left are removed; this save's own never outlives
    it (a SIGKILL aside, which the next load or save cleans up).

    Refuses (unless ``force``) when the file changed on disk since it was loaded, so an
    edit made in an editor meanwhile is never overwritten silently. Saving again over the
    very file that was refused overwrites it knowingly; if it changed once more, it is
    refused again. See the module's docstring for use from a worker thread.
    """
    path = config.path
    try:
        target = final_target(path)
    except OSError as exc:
        raise ConfigSaveError(f"{path}: not saved ({exc.strerror or exc})") from None
    remove_stale_temp_files(target)
    on_disk = _on_disk_digest(path, target)
    if not force:
        changed = on_disk != config.loaded_digest
        if changed and config.refused_on_disk != (on_disk or MISSING):
            config.refused_on_disk = on_disk or MISSING
            what = "was deleted" if on_disk is None else "changed on disk"
            raise ConfigSaveError(
                f"{path}: {what} since it was loaded; not overwritten. "
                "Save again to overwrite it, or restart to load it."
            )
    data = (BOM if config.bom else b"") + render(config).encode("utf-8")
    try:
        make_private_folders(target.parent)
    except OSError as exc:
        raise ConfigSaveError(f"{target.parent}: cannot create folder: {exc.strerror}") from None
    mode = PRIVATE_FILE_MODE
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.stat(target).st_mode)
    try:
        with _temp_file(target) as temp:
            with os.fdopen(os.open(temp, os.O_WRONLY | os.O_TRUNC, mode), "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, mode)  # mkstemp made it 0600; an existing file's mode wins
            os.replace(temp, target)
    except OSError as exc:
        raise ConfigSaveError(
            f"{path}: not saved ({exc.strerror or exc}); the file on disk is unchanged"
        ) from None
    _sync_folder(target.parent)
    config.exists = True
    config.loaded_digest = file_digest(data)
    config.refused_on_disk = None


def _on_disk_digest(path: Path, target: Path) -> str | None:
    """The digest of what is on disk now (None: nothing); refuses anything but a file."""
    try:
        return file_digest(read_regular_file(path))
    except FileNotFoundError:
        pass
    except NotARegularFile as exc:
        raise ConfigSaveError(
            f"{path}: is {exc.strerror}, not a regular file; not overwritten"
        ) from None
    except OSError as exc:
        raise ConfigSaveError(f"{path}: cannot read before saving: {exc.strerror}") from None
    # Nothing at the path: a dangling symlink may still point at something odd.
    with contextlib.suppress(OSError):
        mode = os.lstat(target).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
            raise ConfigSaveError(
                f"{path}: is {kind_of(mode)}, not a regular file; not overwritten"
            )
    return None


@contextlib.contextmanager
def _temp_file(target: Path) -> Iterator[str]:
    temp = make_temp_file(target)
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort (not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
