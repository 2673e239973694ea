"""`bidi-tui` itself: the group that runs the dashboard by default, and the entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    pass

from bidi_tui import __version__
from bidi_tui.cli.common import ENDPOINT_HELP, EXIT_USAGE, UsageProblem


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
