"""Command line: ``bidi-tui`` opens the dashboard, ``bidi-tui check`` checks once and exits.

The one-shot path imports no Textual, so it starts fast over SSH and in monitoring jobs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from rich.text import Text

from bidi_tui import __version__
from bidi_tui.config import (
    Config,
    ConfigError,
    default_config_path,
    load_config,
)
from bidi_tui.desktop_notify import NotifyProtocol
from bidi_tui.endpoints import (
    DuplicateNameError,
    Endpoint,
    SpecError,
    check_unique_names,
    parse_spec,
)
from bidi_tui.model import ProbeResult, State
from bidi_tui.settings import SettingError, Settings, checked_interval, checked_timeout
from bidi_tui.untrusted import one_line, strict_json_dumps
from bidi_tui.view.columns import COLUMN_BY_KEY
from bidi_tui.view.grouping import GroupBy, group_of, group_view, natural_key, rollup_text
from bidi_tui.view.rows import result_view
from bidi_tui.view.states import RowState

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


def _timeout_option(value: float | None) -> float | None:
    try:
        return None if value is None else checked_timeout(value, "--timeout")
    except SettingError as exc:
        fail_usage(str(exc))


def _on_change_option(commands: Sequence[str]) -> None:
    """Every ``--on-change`` command splits into words and names a program that exists."""
    from bidi_tui.hook_command import HookCommandError, missing_program, split_command

    for command in commands:
        try:
            problem = missing_program(split_command(command))
        except HookCommandError as exc:
            fail_usage(f"--on-change: {exc}")
        if problem is not None:
            fail_usage(f"--on-change: {problem}; give a program that exists, or its path")


def _interval_option(value: float | None) -> float | None:
    try:
        return None if value is None else checked_interval(value, "--interval")
    except SettingError as exc:
        fail_usage(str(exc))


# --- output -------------------------------------------------------------------------------

CLI_COLUMNS = ("state", "name", "url", "latency", "message")


def format_table(results: Sequence[ProbeResult], wall_seconds: float) -> list[Text]:
    """Lines for a terminal: a row per endpoint, a hint line under errors, a summary.

    Every text an endpoint sent is made safe (one line, bounded) by the view layer; the
    lines are Rich ``Text`` built from plain strings, never markup.
    """
    from rich.text import Text  # here: `check --help` and usage errors need no Rich

    views = [result_view(result) for result in results]
    columns = [COLUMN_BY_KEY[key] for key in CLI_COLUMNS]
    widths = [
        max(len(column.label), *(len(column.text(view)) for view in views))
        for column in columns[:-1]
    ]
    header = Text("  ".join(c.label.ljust(w) for c, w in zip(columns, widths, strict=False)))
    header.append("  " + columns[-1].label)
    header.stylize("bold")
    lines = [header]
    indent = " " * (sum(widths) + 2 * len(widths))
    for result, view in zip(results, views, strict=True):
        line = Text()
        for column, width in zip(columns, widths, strict=False):
            text = column.text(view)
            line.append(
                text.rjust(width) if column.right else text.ljust(width), column.style(view)
            )
            line.append("  ")
        last = columns[-1]
        line.append(last.text(view), last.style(view))
        line.rstrip()
        lines.append(line)
        if result.error is not None and result.error.hint:
            lines.append(Text(f"{indent}hint: {one_line(result.error.hint)}", style="dim"))
    counts = {state: sum(1 for r in results if r.state is state) for state in State}
    lines.append(
        Text(
            f"{len(results)} endpoint{'s' if len(results) != 1 else ''}: "
            f"{counts[State.READY]} ready, {counts[State.NOT_READY]} not ready, "
            f"{counts[State.ERROR]} error, in {wall_seconds:.2f} s"
        )
    )
    return lines


def rollup_lines(results: Sequence[ProbeResult], by: GroupBy) -> list[Text]:
    """One line per group under the table: ``rack2  8/10 ready · 1 not ready · 1 error``."""
    from rich.text import Text

    states: dict[str, list[RowState]] = {}
    for result in results:
        group = group_of(result.endpoint, by)
        states.setdefault(group, []).append(RowState(result.state.value))
    width = max(len(group) for group in states)
    lines = [Text(f"by {by.value}:", style="bold")]
    for group in sorted(states, key=natural_key):
        lines.append(
            Text(f"  {group.ljust(width)}  {rollup_text(group_view(group, states[group]))}")
        )
    return lines


def print_lines(lines: Sequence[Text]) -> None:
    """Print to stdout with colour where the terminal has it (NO_COLOR honoured)."""
    from rich.console import Console

    console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
    for line in lines:
        console.print(line)


# --- check --format nagios|prometheus --------------------------------------------------------

CHECK_FORMATS = ("table", "json", "nagios", "prometheus")
MONITORING_FORMATS = ("nagios", "prometheus")


def _check_format(as_json: bool, output_format: str | None) -> str:
    """The output format from --json and --format, which must not disagree."""
    if as_json and output_format not in (None, "json"):
        fail_usage(f"--json and --format {output_format} disagree: give one of them")
    return "json" if as_json else (output_format or "table")


def _print_monitoring_format(
    output_format: str, results: Sequence[ProbeResult], status: int
) -> None:
    from bidi_tui.serve.check_formats import format_nagios, format_prometheus

    if output_format == "nagios":
        click.echo(format_nagios(results, status))
    else:
        click.echo(format_prometheus(results), nl=False)


# --- commands -----------------------------------------------------------------------------

ENDPOINT_HELP = """\b
ENDPOINT forms:
  ws://HOST:PORT/session     wss://HOST:PORT/PATH     (a given path is kept)
  HOST:PORT                  http://HOST:PORT          (both mean ws://HOST:PORT/session)
  [::1]:9222                 HOST:9222-9231            (one endpoint per port)
  NAME=SPEC                  ws://user:password@HOST:PORT/session (password never shown)
"""


CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])


def endpoints_and_config(config_help: str) -> Callable[[CommandFunction], CommandFunction]:
    """The ENDPOINT arguments and --config option that both commands take."""

    def decorate(function: CommandFunction) -> CommandFunction:
        function = click.argument("endpoints", nargs=-1, metavar="[ENDPOINT]...")(function)
        return click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help=config_help,
        )(function)

    return decorate


class DefaultToWatch(click.Group):
    """``bidi-tui ARGS`` runs ``watch`` unless ARGS start with a command name or --help."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["watch", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[DASHBOARD OPTIONS] [ENDPOINT]...")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="       ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The dashboard's own options first: `bidi-tui --demo` is what most people type."""
        watch_command = self.commands["watch"]
        with click.Context(watch_command, info_name="watch", parent=ctx) as watch_ctx:
            records = [
                record
                for param in watch_command.get_params(watch_ctx)
                if isinstance(param, click.Option)
                and (record := param.get_help_record(watch_ctx)) is not None
                and not record[0].startswith("-h")
            ]
        with formatter.section("Dashboard options (bidi-tui = bidi-tui watch)"):
            formatter.write_dl(records)
        super().format_options(ctx, formatter)


@click.group(
    cls=DefaultToWatch,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=ENDPOINT_HELP,
)
@click.version_option(__version__, prog_name="bidi-tui")
def cli() -> None:
    """Watch which browsers of a farm can take a new WebDriver BiDi session.

    With no command, opens the live dashboard (same as `bidi-tui watch`).
    `bidi-tui check` checks once and exits with a monitoring-plugin status;
    `bidi-tui history` shows uptimes and state changes recorded while watching.
    """


@cli.command(epilog=ENDPOINT_HELP)
@endpoints_and_config(
    "TOML file with [[endpoints]]. Default: none when ENDPOINTs are given, "
    f"else {default_config_path()}"
)
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help="Seconds one check may take in all [default: 5].",
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

    timeout = _timeout_option(timeout)
    as_json = _check_format(as_json, output_format) == "json"
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
        _print_monitoring_format(output_format, results, exit_code(results))
    elif as_json:
        click.echo(strict_json_dumps([r.to_json() for r in results], indent=2))
    else:
        lines = format_table(results, wall)
        if group_by is not None:
            lines += rollup_lines(results, GroupBy(group_by))
        print_lines(lines)
    sys.exit(exit_code(results))


@cli.command(epilog=ENDPOINT_HELP)
@endpoints_and_config(
    f"TOML file with [[endpoints]], created on save [default: {default_config_path()}]"
)
@click.option(
    "--interval",
    type=float,
    metavar="SECONDS",
    help="Seconds between checks of one endpoint [default: 5].",
)
@click.option(
    "--timeout", type=float, metavar="SECONDS", help="Seconds one check may take [default: 5]."
)
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
    settings = Settings(
        cli_interval=_interval_option(interval), cli_timeout=_timeout_option(timeout)
    )
    _on_change_option(on_change)
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
    from bidi_tui.ui.app import run_dashboard

    return run_dashboard(
        config=config,
        extra_endpoints=selected[len(config.endpoints) :],
        settings=settings,
        demo=demo,
        bell=bell,
        on_change=on_change,
        desktop_notify=None if desktop_notify is None else NotifyProtocol(desktop_notify),
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
@click.option("--interval", type=float, help="Seconds between checks of one endpoint [default: 5].")
@click.option("--timeout", type=float, help="Seconds one check may take [default: 5].")
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

    timeout = _timeout_option(timeout)
    interval = _interval_option(interval)
    _on_change_option(on_change)
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


# --- bidi-tui history ---------------------------------------------------------------------


@cli.command(name="history")
@click.argument("names", nargs=-1, metavar="[ENDPOINT]...")
@click.option(
    "--since",
    default="24h",
    show_default=True,
    metavar="DURATION",
    help="List the changes of this long: 90m, 24h, 7d, 2w, 1h30m.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of text.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"TOML file with [[endpoints]] (their order and URLs) [default: {default_config_path()}]",
)
def history_command(
    names: tuple[str, ...], since: str, as_json: bool, config_path: Path | None
) -> None:
    """Uptime for 1 h, 24 h and 7 d, flapping, and the state changes of each ENDPOINT (a
    name, or a spec naming it), newest first, from the history the dashboard and serve
    record. Without ENDPOINTs: the config's endpoints, then any other with history.

    \b
    Uptime: the share of time an endpoint answered (ready or not ready,
    that is, not in error). Flapping: over 5 state changes in its last 20 checks.
    The history: $BIDI_TUI_STATE_DIR/history.sqlite3, else in the platform's
    state folder. Exit status: 0, or 3 for bad usage, bad config, or a history
    file that cannot be read (damaged, locked: one line says which, what to try).

    With --json, prints an array of objects with the keys name, url, uptime ({1h, 24h, 7d}:
    0-1 or null), flapping and changes ([{at, from, to, message, error_kind}]).
    """
    from datetime import UTC, datetime

    from bidi_tui.history import default_history_path
    from bidi_tui.history.report import (
        DurationError,
        ReportError,
        format_history,
        gather_histories,
        parse_duration,
    )

    try:
        window = parse_duration(since)
    except DurationError as exc:
        fail_usage(f"--since: {exc}")
    config, _ = load_endpoints((), config_path, use_default_config=True)
    assert config is not None
    path = default_history_path()
    now = datetime.now(UTC)
    configured = {endpoint.name: endpoint.display_url for endpoint in config.endpoints}
    try:
        histories, found = gather_histories(path, names, configured, now, window)
    except ReportError as exc:
        fail_usage(str(exc))
    if not found:
        click.echo(
            f"note: no history yet at {path}: the dashboard and serve record it as they watch",
            err=True,
        )
    if config.defaults.history_days == 0:
        click.echo(f"note: history_days = 0 in {config.path}: nothing new is recorded", err=True)
    if as_json:
        click.echo(strict_json_dumps([h.to_json() for h in histories], indent=2))
    elif histories:
        print_lines(format_history(histories, now, one_line(since.strip())))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: maps usage and config mistakes to exit status 3, without a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = cli.main(args=args, prog_name="bidi-tui", standalone_mode=False)
    except UsageProblem as exc:
        click.echo(f"bidi-tui: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    # The dashboard's status: 0, or 128 + N when signal N (SIGTERM, SIGHUP) ended it.
    sys.exit(status if isinstance(status, int) else 0)
