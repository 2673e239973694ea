"""`bidi-tui watch` (and plain `bidi-tui`): the dashboard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

from bidi_tui.cli.common import (
    ENDPOINT_HELP,
    endpoints_and_config,
    interval_and_timeout,
    interval_option,
    load_endpoints,
    on_change_option,
    timeout_option,
)
from bidi_tui.cli.group import cli
from bidi_tui.config import (
    default_config_path,
)
from bidi_tui.desktop_notify import NotifyProtocol
from bidi_tui.heap import Collector
from bidi_tui.settings import Settings


@cli.command(epilog=ENDPOINT_HELP)
@endpoints_and_config(
    f"TOML file with [[endpoints]], created on save [default: {default_config_path()}]"
)
@interval_and_timeout
@click.option("--demo", is_flag=True, help="Start an embedded demo farm and watch it.")
@click.option(
    "--bell", is_flag=True, help="Ring the terminal bell when an endpoint turns to error."
)
@click.option(
    "--reuse-connections",
    is_flag=True,
    help="Keep one connection per endpoint open and ask session.status on it each interval "
    "(about a sixth of the CPU per check; latency is then the round trip alone). "
    "Config: reuse_connections = true in [defaults].",
)
@click.option(
    "--on-change",
    "on_change",
    multiple=True,
    metavar="CMD",
    help="Run CMD on every state change (repeatable; split like a shell, run without one; "
    "BIDI_NAME, BIDI_STATE, ... in its environment, the check's JSON on stdin). "
    "Config: on_change = [...] in [defaults] or per endpoint.",
)
@click.option(
    "--desktop-notify",
    "desktop_notify",
    type=click.Choice([protocol.value for protocol in NotifyProtocol]),
    help="Also ask the terminal to show a desktop notification for each state change, "
    "with OSC 777 (foot, kitty, WezTerm, rxvt) or OSC 9 (iTerm2, Windows Terminal). Off "
    "by default.",
)
def watch(
    endpoints: tuple[str, ...],
    config_path: Path | None,
    interval: float | None,
    timeout: float | None,
    demo: bool,
    bell: bool,
    reuse_connections: bool,
    on_change: tuple[str, ...],
    desktop_notify: str | None,
) -> int:
    """Open the live dashboard on the config's endpoints plus any ENDPOINTs given.

    ENDPOINTs given here are watched for this run and saved only if you press `w`.
    """
    settings = Settings(cli_interval=interval_option(interval), cli_timeout=timeout_option(timeout))
    on_change_option(on_change)
    # Held before the config is read: a big one is not walked again and again.
    with Collector() as collector:
        config, selected = load_endpoints(
            endpoints, config_path, use_default_config=True, missing_ok=True
        )
        assert config is not None
        settings = replace(
            settings,
            default_interval=config.defaults.interval,
            default_timeout=config.defaults.timeout,
            reuse_connections=reuse_connections or config.defaults.reuse_connections,
        )
        from bidi_tui.ui.run import run_dashboard

        return run_dashboard(
            config=config,
            extra_endpoints=selected[len(config.endpoints) :],
            settings=settings,
            demo=demo,
            bell=bell,
            on_change=on_change,
            desktop_notify=None if desktop_notify is None else NotifyProtocol(desktop_notify),
            collector=collector,
        )
