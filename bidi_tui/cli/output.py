"""What `check` prints: its table (the view vocabulary, never markup), group roll-ups,
and the monitoring formats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.text import Text

from bidi_tui.cli.common import fail_usage
from bidi_tui.model import ProbeResult, State
from bidi_tui.untrusted import one_line
from bidi_tui.view.columns import COLUMN_BY_KEY
from bidi_tui.view.grouping import GroupBy, group_of, group_view, natural_key, rollup_text
from bidi_tui.view.rows import result_view
from bidi_tui.view.states import RowState

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


def check_format(as_json: bool, output_format: str | None) -> str:
    """The output format from --json and --format, which must not disagree."""
    if as_json and output_format not in (None, "json"):
        fail_usage(f"--json and --format {output_format} disagree: give one of them")
    return "json" if as_json else (output_format or "table")


def print_monitoring_format(
    output_format: str, results: Sequence[ProbeResult], status: int
) -> None:
    from bidi_tui.serve.check_formats import format_nagios, format_prometheus

    if output_format == "nagios":
        click.echo(format_nagios(results, status))
    else:
        click.echo(format_prometheus(results), nl=False)
