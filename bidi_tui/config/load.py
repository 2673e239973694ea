"""Reading the endpoints file: strict TOML (tomllib), validated into :class:`Config`.

Schema::

    [defaults]
    interval = 5      # seconds between checks of one endpoint
    timeout = 5       # seconds one check may take
    reuse_connections = false   # the dashboard keeps one connection per endpoint open

    [[endpoints]]
    name = "ff-1"                         # optional: derived from the URL
    url = "ws://127.0.0.1:9222/session"   # any endpoint spec, port ranges included
    headers = { Authorization = "Bearer ..." }
    interval = 10
    timeout = 3
    tags = ["firefox"]
    enabled = true
    insecure = false                      # wss:// without certificate checks
"""

from __future__ import annotations

import codecs
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomlkit
import tomlkit.exceptions

from bidi_tui.endpoints import Endpoint, SpecError, mask_spec, parse_spec

APP_NAME = "bidi-tui"
CONFIG_FILE_NAME = "endpoints.toml"
DEFAULT_INTERVAL = 5.0
DEFAULT_TIMEOUT = 5.0
MIN_INTERVAL = 0.1
MAX_TIMEOUT = 300.0
ENDPOINT_KEYS = (
    "name",
    "url",
    "headers",
    "interval",
    "timeout",
    "tags",
    "enabled",
    "insecure",
)
DEFAULTS_KEYS = ("interval", "timeout", "reuse_connections")
# Headers the WebSocket handshake owns; setting them would break or confuse it.
RESERVED_HEADERS = {"host", "connection", "upgrade", "content-length", "transfer-encoding"}


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / CONFIG_FILE_NAME


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` names the file and line."""


@dataclass(frozen=True)
class Defaults:
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    reuse_connections: bool = False


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


def _shown(value: Any) -> str:
    """A wrong value for an error message: numbers and strings (password masked) as
    written, cut short; lists and tables by their type only, as they may hold a URL."""
    if isinstance(value, str):
        text = repr(mask_spec(value))
    elif isinstance(value, bool | int | float):
        text = repr(value)
    else:
        return "a table" if isinstance(value, dict) else f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:39] + "…"


def _number(value: Any, where: str, key: str, *, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: '{key}' must be a number of seconds, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if number < low or (high is not None and number > high) or not math.isfinite(number):
        limit = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ConfigError(f"{where}: '{key}' must be {limit} seconds, got {_shown(value)}")
    return number


def _parse_defaults(table: Any, where: str, warnings: list[str]) -> Defaults:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    for key in table:
        if key not in DEFAULTS_KEYS:
            warnings.append(f"{where}: unknown key {key!r} in [defaults] is ignored")
    interval = DEFAULT_INTERVAL
    timeout = DEFAULT_TIMEOUT
    if "interval" in table:
        interval = _number(table["interval"], where, "interval", low=MIN_INTERVAL)
    if "timeout" in table:
        timeout = _number(table["timeout"], where, "timeout", low=0.1, high=MAX_TIMEOUT)
    reuse = table.get("reuse_connections", False)
    if not isinstance(reuse, bool):
        raise ConfigError(f"{where}: 'reuse_connections' must be true or false, got {reuse!r}")
    return Defaults(interval=interval, timeout=timeout, reuse_connections=reuse)


def _parse_headers(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'headers' must be a table of name = \"value\" strings")
    headers: dict[str, str] = {}
    for name, header_value in value.items():
        if not isinstance(header_value, str):
            raise ConfigError(f"{where}: header {name!r} must be a string")
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):  # a '$' would allow "\n"
            raise ConfigError(f"{where}: {name!r} is not a valid HTTP header name")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("sec-websocket-"):
            raise ConfigError(f"{where}: header '{name}' is set by the WebSocket handshake")
        if any(c in header_value for c in "\r\n\0"):
            raise ConfigError(f"{where}: header '{name}' holds a line break")
        headers[str(name)] = str(header_value)
    return headers


def parse_entry(entry: Any, where: str, warnings: list[str]) -> list[Endpoint]:
    """Validate one ``[[endpoints]]`` table into endpoints (several for a port range)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each endpoint must be a table with at least 'url'")
    for key in entry:
        if key not in ENDPOINT_KEYS:
            warnings.append(f"{where}: unknown key {key!r} is ignored")
    url = entry.get("url")
    if url is None:
        raise ConfigError(f"{where}: 'url' is missing (e.g. url = \"ws://127.0.0.1:9222/session\")")
    if not isinstance(url, str):
        raise ConfigError(f"{where}: 'url' must be a string, got {_shown(url)}")
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where}: 'name' must be a string, got {_shown(name)}")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{where}: 'tags' must be a list of strings")
    for key in ("enabled", "insecure"):
        if key in entry and not isinstance(entry[key], bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, got {_shown(entry[key])}")
    interval = entry.get("interval")
    timeout = entry.get("timeout")
    try:
        return parse_spec(
            url,
            name=name,
            headers=_parse_headers(entry["headers"], where) if "headers" in entry else None,
            interval=None
            if interval is None
            else _number(interval, where, "interval", low=MIN_INTERVAL),
            timeout=None
            if timeout is None
            else _number(timeout, where, "timeout", low=0.1, high=MAX_TIMEOUT),
            tags=tuple(str(t) for t in tags),
            enabled=bool(entry.get("enabled", True)),
            insecure=bool(entry.get("insecure", False)),
        )
    except SpecError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_config(path: Path, *, missing_ok: bool = False) -> Config:
    """Read and validate ``path``. Raises :class:`ConfigError` naming the file and line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return Config(path=path)
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a TOML file") from None
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
    warnings: list[str] = []
    for key in plain:
        if key not in ("defaults", "endpoints"):
            line = _key_line(text, key) or _table_line(text, key) or 1
            warnings.append(f"{path}:{line}: unknown key {key!r} is ignored")
    defaults = Defaults()
    if "defaults" in plain:
        line = _table_line(text, "defaults") or 1
        defaults = _parse_defaults(plain["defaults"], f"{path}:{line}", warnings)
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
        for endpoint in parse_entry(entry, where, warnings):
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


def _parse_error_text(exc: tomlkit.exceptions.TOMLKitError) -> str:
    message = re.sub(r"\s*at line \d+ col \d+$", "", str(exc))
    # One line, even when it quotes a key holding a line break.
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], message)


def with_defaults(endpoint: Endpoint, defaults: Defaults) -> tuple[float, float]:
    """The interval and timeout that apply to ``endpoint``."""
    return (
        endpoint.interval if endpoint.interval is not None else defaults.interval,
        endpoint.timeout if endpoint.timeout is not None else defaults.timeout,
    )
