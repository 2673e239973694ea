"""The dashboard's edits: add, edit, delete, write, and quitting with unsaved edits.

Each action opens its dialog, hands the answer to the workspace (the one list of
endpoints) and says what happened; the App composes this with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import work
from textual.app import App

from bidi_tui.config import Config, ConfigError
from bidi_tui.endpoints import Endpoint
from bidi_tui.ui.feed import DashboardFeed
from bidi_tui.ui.screens.confirm import Choice, ConfirmScreen
from bidi_tui.ui.screens.endpoint_dialog import EndpointDialog
from bidi_tui.workspace import Workspace, WorkspaceError

UNSAVED_CHOICES = (
    Choice("save", "Save and quit", "s", "primary"),
    Choice("discard", "Quit without saving", "w", "error"),
    Choice("cancel", "Cancel", "c"),
)


class EditingApp(App[None]):
    """Edits of the workspace from dialogs; the subclass provides the feed of the rows."""

    config: Config
    workspace: Workspace
    demo: bool
    feed: DashboardFeed

    @property
    def dirty(self) -> bool:
        return self.workspace.dirty

    def _after_edit(self, what: str, warnings: Sequence[str], select: str | None) -> None:
        self.feed.sync_rows()
        if select is not None:
            self.feed.table.select(select)
        hint = "" if self.demo else "; press w to save"
        self.notify(f"{what}{hint}", timeout=4, markup=False)
        for warning in warnings:
            self.notify(warning, severity="warning", timeout=8, markup=False)

    def action_add(self) -> None:
        def added(endpoints: list[Endpoint] | None) -> None:
            if not endpoints:
                return
            try:
                warnings = self.workspace.add(endpoints)
            except WorkspaceError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            names = endpoints[0].name if len(endpoints) == 1 else f"{len(endpoints)} endpoints"
            self._after_edit(f"Added {names}", warnings, endpoints[0].name)

        self.push_screen(EndpointDialog(self.workspace.names()), added)

    def action_edit(self) -> None:
        name = self.feed.table.selected_name
        if name is None:
            return
        original = self.workspace.get(name)

        def edited(endpoints: list[Endpoint] | None) -> None:
            if not endpoints or endpoints[0] == original:
                return
            try:
                warnings = self.workspace.replace(name, endpoints[0])
            except WorkspaceError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self._after_edit(f"Updated {endpoints[0].name}", warnings, endpoints[0].name)

        self.push_screen(EndpointDialog(self.workspace.names(), original), edited)

    def action_delete(self) -> None:
        name = self.feed.table.selected_name
        if name is None:
            return
        endpoint = self.workspace.get(name)

        def answered(choice: str | None) -> None:
            if choice == "delete":
                self.workspace.remove(name)
                self._after_edit(f"Deleted {name}", (), None)

        self.push_screen(
            ConfirmScreen(
                "Delete endpoint",
                f"Stop watching {name} ({endpoint.display_url})?",
                [Choice("delete", "Delete", "d", "error"), Choice("cancel", "Cancel", "c")],
            ),
            answered,
        )

    def action_save(self) -> None:
        self._save()

    @work(group="save", exit_on_error=False)
    async def _save(self, then_quit: bool = False) -> None:
        """Write in the workspace's worker thread; keys keep working meanwhile."""
        if self.demo:
            self.notify("The demo farm is not saved", severity="warning")
            return
        self.feed.update_summary()
        try:
            result = await self.workspace.save()
        except (ConfigError, WorkspaceError) as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=12, markup=False)
            return
        finally:
            self.feed.update_summary()
        self.notify(f"Saved {result.count} endpoints to {result.path}", timeout=4, markup=False)
        if then_quit:
            self.exit()

    async def action_quit(self) -> None:
        if not self.dirty:
            await self.workspace.wait_for_save()
            self.exit()
            return

        def answered(choice: str | None) -> None:
            if choice == "save":
                self._save(then_quit=True)
            elif choice == "discard":
                self.exit()

        self.push_screen(
            ConfirmScreen(
                "Unsaved changes",
                f"Endpoints were added, edited or deleted since {self.config.path} was saved.",
                UNSAVED_CHOICES,
            ),
            answered,
        )

    def action_help_quit(self) -> None:
        """ctrl+c quits like q (Textual's default only says which key quits)."""
        if isinstance(self.screen, ConfirmScreen):
            return  # the question is open already
        self.call_later(self.action_quit)
