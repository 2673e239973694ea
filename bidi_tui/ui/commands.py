"""The command palette's provider: every action of the dashboard by name, and "go to".

Textual's own system commands (theme, keys, quit …) stay; this adds ours. The App lists
what can run right now (:meth:`CommandSource.palette_commands`), so a command that needs a
selected row or a saveable file is offered only when it would work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from bidi_tui.ui import keys
from bidi_tui.view.arrangement import RowOrder
from bidi_tui.view.filtering import FILTER_STATES, SORT_CYCLE, SortKey
from bidi_tui.view.grouping import GROUP_CYCLE, GroupBy
from bidi_tui.workspace import Workspace


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


class Dashboard(Protocol):
    """What the commands need of the App (so this module does not import it)."""

    workspace: Workspace

    @property
    def order(self) -> RowOrder: ...

    def can_run(self, action: str) -> bool | None: ...
    def get_key_display(self, binding: Binding) -> str: ...
    def action_clear_filter(self) -> None: ...
    def sort_by(self, key: SortKey, reverse: bool) -> None: ...
    def group_by(self, by: GroupBy) -> None: ...
    def filter_to(self, state: str) -> None: ...
    def go_to(self, name: str) -> None: ...


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


def dashboard_commands(app: Dashboard) -> list[PaletteCommand]:
    """Every key's action that can run now, each sort and direction, each grouping, each
    state filter, and one "go to" per endpoint (found by name or tag)."""
    commands = []
    for binding in keys.BINDINGS:
        if binding.action in ("quit", "help", "clear_filter"):
            continue
        if app.can_run(binding.action) is not True:
            continue
        commands.append(
            PaletteCommand(
                binding.tooltip or binding.description,
                f"key {app.get_key_display(binding)}",
                getattr(app, f"action_{binding.action}"),
            )
        )
    if app.order.row_filter.active:
        commands.append(PaletteCommand("Clear the filter", "key escape", app.action_clear_filter))
    for key in SORT_CYCLE:
        for reverse in (False, True):
            title = f"Sort by {key.value}" + (", reversed" if reverse else "")
            commands.append(
                PaletteCommand(title, "s cycles, S reverses", partial(app.sort_by, key, reverse))
            )
    for by in GROUP_CYCLE:
        title = "No grouping" if by is GroupBy.NONE else f"Group by {by.value}"
        commands.append(PaletteCommand(title, "key b cycles", partial(app.group_by, by)))
    for state in FILTER_STATES:
        commands.append(
            PaletteCommand(f"Show only is:{state}", "filter", partial(app.filter_to, state))
        )
    for endpoint in app.workspace.endpoints:
        tags = f"  {' '.join(endpoint.tags)}" if endpoint.tags else ""
        commands.append(
            PaletteCommand(
                f"Go to {endpoint.name}{tags}",
                f"select {endpoint.display_url}",
                partial(app.go_to, endpoint.name),
                discoverable=False,
            )
        )
    return commands
