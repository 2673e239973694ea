"""Writing the endpoints file: rendered from its document, replaced atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import tomlkit

from bidi_tui.config.load import BOM, MISSING, Config, ConfigError, file_digest

NEW_FILE_HEADER = """\
# bidi-tui endpoints: one [[endpoints]] table per browser or driver.
# url takes any endpoint spec: ws://HOST:PORT/session, HOST:PORT, HOST:9222-9231 ...
"""


class ConfigSaveError(ConfigError):
    """The file could not be written; the file on disk is unchanged."""


def render(config: Config) -> str:
    document = config.document
    text = tomlkit.dumps(document)
    if not config.exists and not text.startswith("#"):
        text = NEW_FILE_HEADER + "\n" + text
    return text


def save_config(config: Config, *, force: bool = False) -> None:
    """Write the document atomically: a temp file in the same folder, then ``os.replace``.

    Refuses (unless ``force``) when the file changed on disk since it was loaded, so an
    edit made in an editor meanwhile is never overwritten silently. Saving again over the
    very file that was refused overwrites it knowingly; if it changed once more, it is
    refused again.
    """
    path = config.path
    if not force:
        try:
            on_disk = file_digest(path.read_bytes())
        except FileNotFoundError:
            on_disk = None
        except OSError as exc:
            raise ConfigSaveError(f"{path}: cannot read before saving: {exc.strerror}") from None
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
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigSaveError(f"{path.parent}: cannot create folder: {exc.strerror}") from None
    mode = 0o600
    with contextlib.suppress(OSError):
        mode = path.stat().st_mode & 0o777
    try:
        with _atomic_target(path) as temp:
            with os.fdopen(os.open(temp, os.O_WRONLY | os.O_TRUNC, mode), "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, mode)
            os.replace(temp, path)
    except OSError as exc:
        raise ConfigSaveError(
            f"{path}: not saved ({exc.strerror or exc}); the file on disk is unchanged"
        ) from None
    config.exists = True
    config.loaded_digest = file_digest(data)
    config.refused_on_disk = None


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[str]:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
