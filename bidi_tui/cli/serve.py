"""`bidi-tui serve`: the engine headless, for Prometheus and log shippers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

from bidi_tui.cli.common import (
    ENDPOINT_HELP,
    endpoints_and_config,
    fail_usage,
    interval_and_timeout,
    interval_option,
    on_change_option,
    timeout_option,
)
from bidi_tui.cli.group import cli
from bidi_tui.config import (
    default_config_path,
)

# --- serve -----------------------------------------------------------------------------------


@cli.command(epilog=ENDPOINT_HELP)
@endpoints_and_config(
    f"TOML file with [[endpoints]], read again on SIGHUP [default: {default_config_path()}]"
)
@click.option(
    "--listen",
    default="127.0.0.1:9464",
    show_default=True,
    help="HOST:PORT for /metrics, /probe, / and /-/healthy ([::1]:9464, 0.0.0.0:9464 for "
    "every interface; port 0 picks a free one), or none (with --jsonl).",
)
@interval_and_timeout
@click.option(
    "--reuse-connections",
    is_flag=True,
    help="Keep one connection per endpoint open between checks (as the dashboard's option).",
)
@click.option(
    "--jsonl",
    is_flag=True,
    help="Write one JSON line per finished check on stdout: the keys of check --json plus "
    "previous_state.",
)
@click.option(
    "--probe-allow",
    "probe_allow",
    multiple=True,
    metavar="PATTERN",
    help="Let /probe check targets whose host matches: a host glob ('*.farm.example'), an "
    "address or a network (10.1.0.0/16), each with an optional :PORT or :PORT-PORT. "
    "Configured endpoints are always allowed; anything else gets HTTP 403. Repeatable.",
)
@click.option("--demo", is_flag=True, help="Start an embedded demo farm and watch it.")
@click.option(
    "--on-change",
    "on_change",
    multiple=True,
    metavar="CMD",
    help="Run CMD on every state change, as the dashboard's option (repeatable).",
)
def serve(
    endpoints: tuple[str, ...],
    config_path: Path | None,
    listen: str,
    interval: float | None,
    timeout: float | None,
    reuse_connections: bool,
    jsonl: bool,
    probe_allow: tuple[str, ...],
    demo: bool,
    on_change: tuple[str, ...],
) -> int:
    """Watch the endpoints without a UI; serve Prometheus metrics and /probe.

    \b
    GET /metrics            every watched endpoint (OpenMetrics when asked for)
    GET /probe?target=T     one check now, blackbox_exporter style (allowed targets only)
    GET /  and  /-/healthy  an index page, a health check
    SIGHUP reloads the config file; SIGTERM or SIGINT stop within a second.
    """
    from bidi_tui.serve.allow import PatternError, parse_patterns
    from bidi_tui.serve.command import ServeOptions, ServeUsageError, parse_listen, run_serve

    timeout = timeout_option(timeout)
    interval = interval_option(interval)
    on_change_option(on_change)
    try:
        options = ServeOptions(
            specs=endpoints,
            config_path=config_path,
            listen=parse_listen(listen),
            interval=interval,
            timeout=timeout,
            reuse_connections=reuse_connections,
            jsonl=jsonl,
            probe_allow=parse_patterns(probe_allow),
            demo=demo,
            on_change=on_change,
        )
        return run_serve(options)
    except (ServeUsageError, PatternError) as exc:
        fail_usage(str(exc))
