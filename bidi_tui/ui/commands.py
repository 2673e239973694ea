"""The command palette's provider: every action of the dashboard by name, and "go to".

Textual's own system commands (theme, keys, quit …) stay; this adds ours. The App lists
what can run right now (:meth:`CommandSource.palette_commands`), so a command that needs a
selected row or a saveable file is offered only when it would work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], object]
    # Offered before anything is typed; "go to" commands wait for a query (a farm has
    # thousands of them).
    discoverable: bool = True


class CommandSource(Protocol):
    def palette_commands(self) -> Sequence[PaletteCommand]: ...


class DashboardCommands(Provider):
    """Fuzzy search over the dashboard's commands, endpoint names and tags."""

    def _commands(self) -> Sequence[PaletteCommand]:
        source = self.app
        if not hasattr(source, "palette_commands"):
            return ()
        return source.palette_commands()  # type: ignore[no-any-return]

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discoverable:
                yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
