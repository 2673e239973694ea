"""`bidi-tui history`: uptimes and state changes recorded while watching."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass

from bidi_tui.cli.common import fail_usage, load_endpoints
from bidi_tui.cli.group import cli
from bidi_tui.cli.output import print_lines
from bidi_tui.config import (
    default_config_path,
)
from bidi_tui.untrusted import one_line, strict_json_dumps

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
