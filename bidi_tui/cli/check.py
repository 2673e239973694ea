"""`bidi-tui check`: every endpoint once, a table or JSON, a monitoring exit status."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

from bidi_tui.cli.common import (
    ENDPOINT_HELP,
    endpoints_and_config,
    fail_usage,
    load_endpoints,
    timeout_option,
)
from bidi_tui.cli.group import cli
from bidi_tui.cli.output import (
    CHECK_FORMATS,
    MONITORING_FORMATS,
    check_format,
    format_table,
    print_lines,
    print_monitoring_format,
    rollup_lines,
)
from bidi_tui.config import (
    default_config_path,
)
from bidi_tui.settings import BUILT_IN_TIMEOUT, Settings
from bidi_tui.untrusted import strict_json_dumps
from bidi_tui.view.grouping import GroupBy


@cli.command(epilog=ENDPOINT_HELP)
@endpoints_and_config(
    "TOML file with [[endpoints]]. Default: none when ENDPOINTs are given, "
    f"else {default_config_path()}"
)
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help=f"Seconds one check may take in all [default: {BUILT_IN_TIMEOUT:g}].",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(CHECK_FORMATS),
    help="table (default), json (= --json), nagios (the one-line plugin output with "
    "perfdata) or prometheus (text exposition for node_exporter's textfile collector).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 100000),
    help="Checks in flight at once [default: every endpoint, as far as the open-file "
    "limit allows].",
)
@click.option(
    "--group-by",
    type=click.Choice(["tag", "host"]),
    help="Also print a roll-up per group (an endpoint's first tag, or its host).",
)
def check(
    endpoints: tuple[str, ...],
    config_path: Path | None,
    timeout: float | None,
    as_json: bool,
    output_format: str | None,
    concurrency: int | None,
    group_by: str | None,
) -> None:
    """Check every ENDPOINT once with BiDi session.status, concurrently, and exit.

    \b
    Exit status (as Nagios/Icinga plugins):
      0  every endpoint is ready
      1  at least one is not ready, none in error
      2  at least one is in error (refused, timeout, not BiDi, ...)
      3  bad usage or bad config

    With --json, prints an array in input order of objects with the keys name, url
    (password masked), state (ready|not_ready|error), ready, message, meta, latency_ms,
    checked_at (ISO 8601, UTC) and error (null or {kind, detail, hint}).
    --format nagios and --format prometheus keep the same exit status.
    """
    from bidi_tui.checks import check_all, exit_code
    from bidi_tui.limits import plan_descriptors, raise_open_file_limit

    timeout = timeout_option(timeout)
    as_json = check_format(as_json, output_format) == "json"
    config, selected = load_endpoints(
        endpoints, config_path, use_default_config=config_path is not None or not endpoints
    )
    selected = [e for e in selected if e.enabled]
    if not selected:
        where = ""
        if config is not None:
            where = (
                f" ({config.path} has none enabled)"
                if config.exists
                else (f" (no config file at {config.path})")
            )
        fail_usage(
            f"no endpoints to check{where}: give ENDPOINTs, e.g. "
            "`bidi-tui check 127.0.0.1:9222 127.0.0.1:9515`, or --config FILE"
        )
    settings = Settings(cli_timeout=timeout)
    if config is not None:
        settings = replace(settings, default_timeout=config.defaults.timeout)
    started = time.perf_counter()
    raise_open_file_limit()
    plan = plan_descriptors(concurrency or len(selected), endpoints=len(selected))
    if plan.warning:
        click.echo(f"warning: {plan.warning}", err=True)
    results = asyncio.run(check_all(selected, settings=settings, concurrency=plan.concurrency))
    wall = time.perf_counter() - started
    if output_format in MONITORING_FORMATS:
        print_monitoring_format(output_format, results, exit_code(results))
    elif as_json:
        click.echo(strict_json_dumps([r.to_json() for r in results], indent=2))
    else:
        lines = format_table(results, wall)
        if group_by is not None:
            lines += rollup_lines(results, GroupBy(group_by))
        print_lines(lines)
    sys.exit(exit_code(results))
