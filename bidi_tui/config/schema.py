"""What the endpoints file may hold: its keys, their limits, and the check of each value.

Schema::

    [defaults]
    interval = 5      # seconds between checks of one endpoint
    timeout = 5       # seconds one check may take
    reuse_connections = false   # the dashboard keeps one connection per endpoint open
    history_days = 30 # days of state changes and hourly counts kept; 0 turns history off
    on_change = ["/usr/local/bin/bidi-alert"]  # commands run on every state change (no shell)

    [[endpoints]]
    name = "ff-1"                         # optional: derived from the URL
    url = "ws://127.0.0.1:9222/session"   # any endpoint spec, port ranges included
    headers = { Authorization = "Bearer ..." }
    interval = 10
    timeout = 3
    tags = ["firefox"]
    enabled = true
    insecure = false                      # wss:// without certificate checks
    first_number = 1                      # a named range's first name: NAME-1
    on_change = ["/usr/local/bin/page-oncall"]  # instead of [defaults]' on_change; [] for none

Instead of a secret, a value may name the environment variable holding it::

    url = "ws://user@grid:4444/session"   # a user, no password: it comes from
    password_env = "GRID_PW"              # $GRID_PW
    headers = { Authorization = { env = "GRID_TOKEN" } }
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bidi_tui.endpoints import Endpoint, SpecError, mask_spec, parse_spec
from bidi_tui.hook_command import HookCommandError, split_command
from bidi_tui.settings import (
    BUILT_IN_INTERVAL,
    BUILT_IN_TIMEOUT,
    MAX_TIMEOUT,
    MIN_INTERVAL,
    MIN_TIMEOUT,
)

ENDPOINT_KEYS = (
    "name",
    "url",
    "password_env",
    "headers",
    "interval",
    "timeout",
    "tags",
    "enabled",
    "insecure",
    "first_number",
    "on_change",
)
DEFAULTS_KEYS = ("interval", "timeout", "reuse_connections", "history_days", "on_change")
DEFAULT_HISTORY_DAYS = 30
MAX_HISTORY_DAYS = 3650
# Headers the WebSocket handshake owns; setting them would break or confuse it.
RESERVED_HEADERS = {"host", "connection", "upgrade", "content-length", "transfer-encoding"}
_VARIABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_VARIABLE_RE = re.compile(r"[A-Z_][A-Z0-9_]*")  # names shown in errors: GRID_PW


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` names the file and line."""


@dataclass(frozen=True)
class Defaults:
    interval: float = BUILT_IN_INTERVAL
    timeout: float = BUILT_IN_TIMEOUT
    reuse_connections: bool = False
    history_days: int = DEFAULT_HISTORY_DAYS
    on_change: tuple[str, ...] = ()


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


def parse_defaults(table: Any, where: str, warnings: list[str]) -> Defaults:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    for key in table:
        if key not in DEFAULTS_KEYS:
            warnings.append(f"{where}: unknown key {key!r} in [defaults] is ignored")
    interval = BUILT_IN_INTERVAL
    timeout = BUILT_IN_TIMEOUT
    if "interval" in table:
        interval = _number(table["interval"], where, "interval", low=MIN_INTERVAL)
    if "timeout" in table:
        timeout = _number(table["timeout"], where, "timeout", low=MIN_TIMEOUT, high=MAX_TIMEOUT)
    reuse = table.get("reuse_connections", False)
    if not isinstance(reuse, bool):
        raise ConfigError(f"{where}: 'reuse_connections' must be true or false, got {reuse!r}")
    history_days = table.get("history_days", DEFAULT_HISTORY_DAYS)
    if (
        isinstance(history_days, bool)
        or not isinstance(history_days, int)
        or not 0 <= history_days <= MAX_HISTORY_DAYS
    ):
        raise ConfigError(
            f"{where}: 'history_days' must be a whole number of days from 0 (history off) "
            f"to {MAX_HISTORY_DAYS}, got {_shown(history_days)}"
        )
    on_change = _commands(table["on_change"], where) if "on_change" in table else ()
    return Defaults(
        interval=interval,
        timeout=timeout,
        reuse_connections=reuse,
        history_days=history_days,
        on_change=on_change,
    )


def _commands(value: Any, where: str) -> tuple[str, ...]:
    """``on_change``: a list of commands, each one string split like a shell would (but
    run without one)."""
    example = 'on_change = ["notify-send bidi-tui", "/usr/local/bin/page-oncall --farm"]'
    if isinstance(value, str):
        value = [value]  # one command written without the brackets
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{where}: 'on_change' must be a list of commands (strings), e.g. {example}"
        )
    for command in value:
        try:
            split_command(command)
        except HookCommandError as exc:
            raise ConfigError(f"{where}: 'on_change': {exc}") from None
    return tuple(value)


def _from_environment(
    variable: Any, environ: Mapping[str, str], where: str, what: str, example: str
) -> str:
    """The value of the environment variable a config value names instead of a secret."""
    if not isinstance(variable, str) or not _VARIABLE_RE.fullmatch(variable):
        raise ConfigError(
            f"{where}: {what} must name an environment variable, e.g. {example}, "
            + (
                f"got {_shown(variable)}"
                # Not echoed: a password pasted here by mistake must not be printed.
                if not isinstance(variable, str)
                else "got a text that is not one (letters, digits and '_')"
            )
        )
    value = environ.get(variable)
    if value is None or value == "":
        state = "is not set" if value is None else "is empty"
        if not _SHOWN_VARIABLE_RE.fullmatch(variable):
            # Not the usual GRID_PW: it may be the password itself, pasted here. Not shown.
            raise ConfigError(
                f"{where}: {what} names an environment variable which {state} (its name is "
                "not shown: not in capitals, it may be a secret); name a variable, e.g. "
                f"{example}, and set it before starting bidi-tui"
            )
        raise ConfigError(
            f"{where}: {what} names the environment variable {variable}, which {state}; "
            f"set it (export {variable}=...) before starting bidi-tui"
        )
    return value


def _parse_headers(
    value: Any, where: str, label: str, environ: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers, and for those given as ``{ env = "VAR" }`` the variable they come from."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'headers' must be a table of name = \"value\" strings")
    headers: dict[str, str] = {}
    header_env: dict[str, str] = {}
    for name, header_value in value.items():
        if isinstance(header_value, dict) and list(header_value) == ["env"]:
            variable = header_value["env"]
            header_value = _from_environment(
                variable, environ, where, f"header '{name}' of {label}", '{ env = "GRID_TOKEN" }'
            )
            header_env[str(name)] = variable
        elif not isinstance(header_value, str):
            raise ConfigError(
                f'{where}: header {name!r} must be a string or {{ env = "VARIABLE" }}'
            )
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):  # a '$' would allow "\n"
            raise ConfigError(f"{where}: {name!r} is not a valid HTTP header name")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("sec-websocket-"):
            raise ConfigError(f"{where}: header '{name}' is set by the WebSocket handshake")
        if any(c in header_value for c in "\r\n\0"):
            raise ConfigError(f"{where}: header '{name}' holds a line break")
        headers[str(name)] = str(header_value)
    return headers, header_env


def _first_number(entry: dict[str, Any], where: str, warnings: list[str]) -> int:
    value = entry.get("first_number", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**9:
        raise ConfigError(
            f"{where}: 'first_number' must be a whole number from 1, got {_shown(value)}"
        )
    if "first_number" in entry and "name" not in entry:
        warnings.append(f"{where}: 'first_number' is ignored: it numbers a named port range")
    return value


def parse_entry(
    entry: Any, where: str, warnings: list[str], environ: Mapping[str, str] | None = None
) -> list[Endpoint]:
    """Validate one ``[[endpoints]]`` table into endpoints (several for a port range).

    ``password_env`` and ``{ env = "VAR" }`` header values are read from ``environ``
    (the process environment by default)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each endpoint must be a table with at least 'url'")
    environ = os.environ if environ is None else environ
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
    label = f"endpoint {name!r}" if name is not None else f"endpoint {mask_spec(url)!r}"
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{where}: 'tags' must be a list of strings")
    for key in ("enabled", "insecure"):
        if key in entry and not isinstance(entry[key], bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, got {_shown(entry[key])}")
    interval = entry.get("interval")
    timeout = entry.get("timeout")
    password_env = entry.get("password_env")
    password = None
    if password_env is not None:
        password = _from_environment(
            password_env, environ, where, f"'password_env' of {label}", '"GRID_PW"'
        )
    headers, header_env = (
        _parse_headers(entry["headers"], where, label, environ) if "headers" in entry else ({}, {})
    )
    try:
        endpoints = parse_spec(
            url,
            name=name,
            headers=headers,
            interval=None
            if interval is None
            else _number(interval, where, "interval", low=MIN_INTERVAL),
            timeout=None
            if timeout is None
            else _number(timeout, where, "timeout", low=MIN_TIMEOUT, high=MAX_TIMEOUT),
            tags=tuple(str(t) for t in tags),
            enabled=bool(entry.get("enabled", True)),
            insecure=bool(entry.get("insecure", False)),
            password=password,
            first_number=_first_number(entry, where, warnings),
        )
    except SpecError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if "on_change" in entry:
        on_change = _commands(entry["on_change"], where)
        endpoints = [replace(e, on_change=on_change) for e in endpoints]
    if password_env is None and not header_env:
        return endpoints
    return [replace(e, password_env=password_env, header_env=header_env) for e in endpoints]
