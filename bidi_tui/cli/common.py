"""What every command shares: exit statuses, usage errors, endpoints from the config
and the command line, the options that check their values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    pass

from bidi_tui.config import (
    Config,
    ConfigError,
    default_config_path,
    load_config,
)
from bidi_tui.endpoints import (
    DuplicateNameError,
    Endpoint,
    SpecError,
    check_unique_names,
    parse_spec,
)
from bidi_tui.settings import (
    BUILT_IN_INTERVAL,
    BUILT_IN_TIMEOUT,
    SettingError,
    checked_interval,
    checked_timeout,
)

EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_ERROR = 2
EXIT_USAGE = 3


class UsageProblem(Exception):
    """A mistake in how the command was called or configured: exit status 3."""


def fail_usage(message: str) -> NoReturn:
    raise UsageProblem(message)


def load_endpoints(
    specs: Sequence[str],
    config_path: Path | None,
    *,
    use_default_config: bool,
    missing_ok: bool = False,
) -> tuple[Config | None, list[Endpoint]]:
    """Endpoints from the config file (explicit or default) followed by those from ``specs``.

    A missing default file is an empty config; a missing explicit one is an error unless
    ``missing_ok`` (the dashboard creates it on save)."""
    config: Config | None = None
    endpoints: list[Endpoint] = []
    if config_path is not None or use_default_config:
        path = config_path or default_config_path()
        try:
            config = load_config(path, missing_ok=missing_ok or config_path is None)
        except ConfigError as exc:
            fail_usage(f"config error: {exc}")
        for warning in config.warnings:
            click.echo(f"warning: {warning}", err=True)
        endpoints.extend(config.endpoints)
    for spec in specs:
        try:
            endpoints.extend(parse_spec(spec))
        except SpecError as exc:
            fail_usage(str(exc))
    try:
        check_unique_names(endpoints)
    except DuplicateNameError as exc:
        fail_usage(str(exc))
    return config, endpoints


def timeout_option(value: float | None) -> float | None:
    try:
        return None if value is None else checked_timeout(value, "--timeout")
    except SettingError as exc:
        fail_usage(str(exc))


def on_change_option(commands: Sequence[str]) -> None:
    """Every ``--on-change`` command splits into words and names a program that exists."""
    from bidi_tui.hook_command import HookCommandError, missing_program, split_command

    for command in commands:
        try:
            problem = missing_program(split_command(command))
        except HookCommandError as exc:
            fail_usage(f"--on-change: {exc}")
        if problem is not None:
            fail_usage(f"--on-change: {problem}; give a program that exists, or its path")


def interval_option(value: float | None) -> float | None:
    try:
        return None if value is None else checked_interval(value, "--interval")
    except SettingError as exc:
        fail_usage(str(exc))


ENDPOINT_HELP = """\b
ENDPOINT forms:
  ws://HOST:PORT/session     wss://HOST:PORT/PATH     (a given path is kept)
  HOST:PORT                  http://HOST:PORT          (both mean ws://HOST:PORT/session)
  [::1]:9222                 HOST:9222-9231            (one endpoint per port)
  NAME=SPEC                  ws://user:password@HOST:PORT/session (password never shown)
"""


CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])


def interval_and_timeout(function: CommandFunction) -> CommandFunction:
    """The --interval and --timeout options of the commands that keep watching (the
    dashboard and serve); their defaults are the built-in ones of settings.py."""
    function = click.option(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"Seconds one check may take [default: {BUILT_IN_TIMEOUT:g}].",
    )(function)
    return click.option(
        "--interval",
        type=float,
        metavar="SECONDS",
        help=f"Seconds between checks of one endpoint [default: {BUILT_IN_INTERVAL:g}].",
    )(function)


def endpoints_and_config(config_help: str) -> Callable[[CommandFunction], CommandFunction]:
    """The ENDPOINT arguments and --config option that every command takes."""

    def decorate(function: CommandFunction) -> CommandFunction:
        function = click.argument("endpoints", nargs=-1, metavar="[ENDPOINT]...")(function)
        return click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help=config_help,
        )(function)

    return decorate
