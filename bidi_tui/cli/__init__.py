"""Command line: ``bidi-tui`` opens the dashboard; ``check``, ``serve`` and ``history``.

The one-shot paths import no Textual, so they start fast over SSH and in monitoring jobs.
"""

from bidi_tui.cli import check, history, serve, watch  # noqa: F401 (each registers its command)
from bidi_tui.cli.group import cli, main

__all__ = ["cli", "main"]
