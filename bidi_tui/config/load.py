"""Reading the endpoints file: strict TOML (tomllib), validated into :class:`Config` by
the rules in ``schema``. Nothing is ever blocked on, whatever the path names.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import tomlkit
import tomlkit.exceptions

from bidi_tui.config.files import (
    NotARegularFile,
    final_target,
    read_regular_file,
    remove_stale_temp_files,
)
from bidi_tui.config.schema import (
    ConfigError,
    Defaults,
    parse_defaults,
    parse_entry,
)
from bidi_tui.endpoints import Endpoint

APP_NAME = "bidi-tui"
CONFIG_FILE_NAME = "endpoints.toml"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / CONFIG_FILE_NAME


@dataclass
class Config:
    """A loaded endpoints file: its endpoints plus what is needed to save it faithfully."""

    path: Path
    defaults: Defaults = field(default_factory=Defaults)
    endpoints: list[Endpoint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The file's text. Its format-preserving tomlkit document is built only when an edit
    # or a save needs it: tomlkit parses ten times slower than tomllib (2.6 s vs 0.23 s
    # for 10,000 endpoints, bench/startup.py), and a dashboard that only watches never edits.
    source: str = ""
    exists: bool = False
    # Which [[endpoints]] table each endpoint came from (a port range gives several).
    origins: dict[str, int] = field(default_factory=dict)
    loaded_digest: str | None = None
    # What was on disk when a save was refused because the file had changed (its digest,
    # or MISSING): the next save over exactly that overwrites it, as the refusal said.
    refused_on_disk: str | None = None
    bom: bool = False  # the file started with a UTF-8 byte-order mark: kept on save
    _document: tomlkit.TOMLDocument | None = field(default=None, repr=False, compare=False)

    @property
    def document(self) -> tomlkit.TOMLDocument:
        if self._document is None:
            self._document = tomlkit.parse(self.source)
        return self._document

    @document.setter
    def document(self, document: tomlkit.TOMLDocument) -> None:
        self._document = document

    def text(self) -> str:
        """What the file says now: its source as loaded until an edit parses it (tomlkit
        writes an unedited document back byte for byte, so parsing it would only cost)."""
        return self.source if self._document is None else str(tomlkit.dumps(self._document))


MISSING = "missing"  # refused_on_disk when the file had been deleted
BOM = codecs.BOM_UTF8


def _entry_lines(text: str) -> list[int]:
    """1-based line numbers of each ``[[endpoints]]`` header, in order."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if re.match(r"^\s*\[\[\s*endpoints\s*\]\]", line)
    ]


def _key_line(text: str, key: str, start: int = 1) -> int | None:
    for number, line in enumerate(text.splitlines()[start - 1 :], start=start):
        if re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _table_line(text: str, name: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*\[\s*{re.escape(name)}\s*\]", line):
            return number
    return None


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_config(
    path: Path, *, missing_ok: bool = False, environ: Mapping[str, str] | None = None
) -> Config:
    """Read and validate ``path``. Raises :class:`ConfigError` naming the file and line.

    A FIFO, socket or device is refused without being read (it could block forever).
    Temporary files that an interrupted save left beside the file are removed.
    """
    removed = _clean_folder(path)
    try:
        data = read_regular_file(path)
    except FileNotFoundError:
        if missing_ok:
            return Config(path=path, warnings=removed)
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a TOML file") from None
    except NotARegularFile as exc:
        raise ConfigError(
            f"{path}: is {exc.strerror}, not a regular file; give the path of a TOML file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        # "utf-8-sig": editors on Windows may start the file with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        plain = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        plain = None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    try:
        # Invalid TOML: tomlkit says where and what more precisely than tomllib.
        document = tomlkit.parse(text) if plain is None else None
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(
            f"{path}:{exc.line}: invalid TOML at column {exc.col}: {_parse_error_text(exc)}"
        ) from None
    except tomlkit.exceptions.TOMLKitError as exc:
        # A key defined twice across tables ([a] b=1 then [a.b]) comes without a position.
        raise ConfigError(f"{path}: invalid TOML: {_parse_error_text(exc)}") from None

    if plain is None:
        assert document is not None
        plain = document.unwrap()  # tomllib refused what tomlkit reads: trust neither less
    warnings = removed
    for key in plain:
        if key not in ("defaults", "endpoints"):
            line = _key_line(text, key) or _table_line(text, key) or 1
            warnings.append(f"{path}:{line}: unknown key {key!r} is ignored")
    defaults = Defaults()
    if "defaults" in plain:
        line = _table_line(text, "defaults") or 1
        defaults = parse_defaults(plain["defaults"], f"{path}:{line}", warnings)
    entries = plain.get("endpoints", [])
    if not isinstance(entries, list):
        line = _key_line(text, "endpoints") or _table_line(text, "endpoints") or 1
        raise ConfigError(f"{path}:{line}: 'endpoints' must be a list of [[endpoints]] tables")
    header_lines = _entry_lines(text)
    endpoints: list[Endpoint] = []
    origins: dict[str, int] = {}
    for index, entry in enumerate(entries):
        line = (
            header_lines[index]
            if index < len(header_lines)
            else (_key_line(text, "endpoints") or 1)
        )
        where = f"{path}:{line}: endpoint #{index + 1}"
        for endpoint in parse_entry(entry, where, warnings, environ):
            if endpoint.name in origins:
                raise ConfigError(
                    f"{where}: the name {endpoint.name!r} is already used by endpoint "
                    f"#{origins[endpoint.name] + 1}; names must be unique"
                )
            origins[endpoint.name] = index
            endpoints.append(endpoint)
    return Config(
        path=path,
        defaults=defaults,
        endpoints=endpoints,
        warnings=warnings,
        source=text,
        _document=document,
        exists=True,
        origins=origins,
        loaded_digest=file_digest(data),
        bom=data.startswith(BOM),
    )


def _clean_folder(path: Path) -> list[str]:
    """Remove what interrupted saves left; one warning per file removed."""
    try:
        target = final_target(path)
    except OSError:
        return []  # reading the file will say what is wrong with the path
    return [
        f"{target.parent / name}: removed a temporary file an interrupted save left behind"
        for name in remove_stale_temp_files(target)
    ]


def _parse_error_text(exc: tomlkit.exceptions.TOMLKitError) -> str:
    message = re.sub(r"\s*at line \d+ col \d+$", "", str(exc))
    # One line, even when it quotes a key holding a line break.
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], message)
