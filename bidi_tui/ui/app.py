"""The live dashboard: composes the widgets, binds the keys and routes between the
workspace (the endpoints), the engine (the checks) and the widgets (what is shown)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Header, Input, Static

from bidi_tui.config import Config, ConfigError
from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import CheckFinished, Engine, EngineEvent
from bidi_tui.limits import raise_open_file_limit
from bidi_tui.settings import Settings
from bidi_tui.ui import signals
from bidi_tui.ui.commands import DashboardCommands, PaletteCommand
from bidi_tui.ui.notices import announce_changes
from bidi_tui.ui.screens.confirm import Choice, ConfirmScreen
from bidi_tui.ui.screens.detail import DetailScreen
from bidi_tui.ui.screens.endpoint_dialog import EndpointDialog
from bidi_tui.ui.screens.help import HelpScreen
from bidi_tui.ui.widgets.endpoint_table import EndpointTable
from bidi_tui.ui.widgets.summary_bar import Summary, SummaryBar
from bidi_tui.view.columns import Layout, fit_columns
from bidi_tui.view.filtering import (
    FILTER_STATES,
    SORT_CYCLE,
    RowFilter,
    SortKey,
    next_sort,
    parse_filter,
    sort_value,
)
from bidi_tui.view.rows import RowView, row_view
from bidi_tui.view.states import RowState, row_state
from bidi_tui.workspace import Workspace, WorkspaceError

UPDATE_SECONDS = 0.2  # results reach the table this often
TICK_SECONDS = 1.0  # ages tick once a second
QUIT_GRACE_SECONDS = 0.1  # on quit, checks get this long to close their connections politely
# Actions of the main screen: asleep while a dialog or the detail view is on top (Tab,
# the palette and the dialogs' own keys are not among them).
MAIN_SCREEN_ACTIONS = frozenset(
    {
        "recheck", "recheck_all", "add", "edit", "delete", "toggle_pause", "pause_all",
        "filter", "clear_filter", "sort", "reverse_sort", "details", "first_row", "last_row",
        "save",
    }
)  # fmt: skip
NEEDS_A_ROW = frozenset({"recheck", "edit", "delete", "toggle_pause", "details"})


def empty_text(path: str) -> Text:
    return Text.assemble(
        ("No endpoints to watch yet.", "bold"),
        "\n\nPress ",
        ("a", "bold"),
        " to add one (e.g. ws://127.0.0.1:9222/session for Firefox started with\n"
        "--remote-debugging-port=9222, or 127.0.0.1:9515 for ChromeDriver), then ",
        ("w", "bold"),
        f" to save it to {path}.\n\n",
        "Or start with endpoints:  ",
        ("bidi-tui 127.0.0.1:9222 127.0.0.1:9515", "italic"),
        "\nOr see a demo farm:       ",
        ("bidi-tui --demo", "italic"),
    )


class BidiTuiApp(App[None]):
    """Watches a browser farm: one row per BiDi endpoint, updated live."""

    CSS_PATH = "app.tcss"
    TITLE = "bidi-tui"
    COMMANDS = App.COMMANDS | {DashboardCommands}

    # The footer shows the everyday keys; `?` lists them all, ctrl+p finds them by name.
    # Help and Quit come first: a narrow terminal cuts the footer from the right.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", tooltip="Quit (asks if there are unsaved edits)"),
        Binding("r", "recheck", "Check", tooltip="Check the selected endpoint now"),
        Binding("R", "recheck_all", "Check all", tooltip="Check every endpoint now", show=False),
        Binding("a", "add", "Add", tooltip="Add an endpoint"),
        Binding("e", "edit", "Edit", tooltip="Edit the selected endpoint"),
        Binding("d", "delete", "Del", tooltip="Delete the selected endpoint"),
        Binding(
            "space",
            "toggle_pause",
            "Pause",
            tooltip="Pause or resume the selected",
            key_display="␣",
        ),
        Binding("P", "pause_all", "Pause all", tooltip="Pause or resume all", show=False),
        Binding("slash", "filter", "Filter", tooltip="Filter by text and is:STATE"),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            tooltip="Close and clear the filter",
            show=False,
        ),
        Binding("s", "sort", "Sort", tooltip="Cycle the sort column"),
        Binding("S", "reverse_sort", "Reverse sort", tooltip="Reverse the sort", show=False),
        Binding(
            "enter",
            "details",
            "Details",
            tooltip="Open the detail view",
            key_display="⏎",
            show=False,
        ),
        Binding("g", "first_row", "First", tooltip="Go to the first row (also home)", show=False),
        Binding("G", "last_row", "Last", tooltip="Go to the last row (also end)", show=False),
        Binding("w", "save", "Write", tooltip="Write the endpoints to the config file"),
    ]

    def __init__(
        self,
        config: Config,
        extra_endpoints: Iterable[Endpoint] = (),
        *,
        settings: Settings | None = None,
        demo: bool = False,
        bell: bool = False,
        start_engine: bool = True,
        now: Callable[[], datetime] | None = None,
        engine: Engine | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.demo = demo
        self.bell_on_error = bell
        self.start_engine = start_engine
        self.now = now or (lambda: datetime.now(UTC))
        self.engine = engine or Engine(settings=settings or Settings())
        # The demo farm's endpoints join on mount; nothing of the config file is watched.
        self.workspace = (
            Workspace(Config(path=config.path), self.engine, saves=False)
            if demo
            else Workspace(config, self.engine, extra_endpoints)
        )
        self.engine.subscribe(self._on_engine_event)
        self.workspace.subscribe(self._on_workspace_changed)
        self.row_filter = RowFilter()
        self.sort_key = SortKey.CONFIG
        self.sort_reverse = False
        self.hard_exit_on_hangup = False  # set by run_dashboard: never in inline tests
        self._hung_up_status: int | None = None
        self._changed_rows: set[str] = set()
        self._state_changes: list[CheckFinished] = []
        self._list_changed = True
        self._exit_stack = contextlib.AsyncExitStack()
        self._summary = SummaryBar(id="summary")
        self._filter_input = Input(
            placeholder="filter: words, is:error, is:not_ready, is:stale … (esc closes)",
            id="filter",
        )
        self._table = EndpointTable(self._view_of, self._layout_for, id="endpoints")
        self._empty = Static(empty_text(str(config.path)), id="empty")

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="main"):
            yield self._summary
            yield self._filter_input
            yield self._table
            yield self._empty
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> EndpointTable:
        return self._table

    @property
    def dirty(self) -> bool:
        return self.workspace.dirty

    @property
    def selected_name(self) -> str | None:
        return self._table.selected_name

    async def on_mount(self) -> None:
        signals.catch_quit_signals(self._exit_on_signal)
        if self.demo:
            from bidi_tui.demo import DemoFarm

            farm = await self._exit_stack.enter_async_context(DemoFarm.start())
            self.workspace.watch(farm.endpoints)
        self._sync_rows()
        if self.start_engine:
            self.engine.start()
            if self.engine.descriptor_warning:
                self.notify(
                    self.engine.descriptor_warning,
                    title="Local limit",
                    severity="warning",
                    timeout=20,
                    markup=False,
                )
        # Timers on the main screen stop with it, so none fires while the app shuts down.
        self.screen.set_interval(UPDATE_SECONDS, self.apply_updates)
        self.screen.set_interval(TICK_SECONDS, self._table.refresh_visible)
        self._update_title()
        self._update_summary()
        self._table.focus()
        for warning in self.config.warnings:
            self.notify(
                warning, title="Config warning", severity="warning", timeout=10, markup=False
            )

    def _layout_for(self, width: int) -> Layout:
        endpoints = self.workspace.endpoints
        return fit_columns(
            width,
            max((len(e.name) for e in endpoints), default=4),
            max((len(e.display_url) for e in endpoints), default=3),
        )

    async def on_unmount(self) -> None:
        signals.release_quit_signals()
        await self.engine.stop(grace=QUIT_GRACE_SECONDS)
        await self._exit_stack.aclose()
        if self._hung_up_status is not None:
            os._exit(self._hung_up_status)  # connections closed; no terminal left to restore

    def _update_title(self) -> None:
        if self.demo:
            self.sub_title = "demo farm (nothing is saved)"
        else:
            # The mark first: a long path is cut at the end on a narrow terminal.
            self.sub_title = f"{'[unsaved] ' if self.dirty else ''}{self.config.path}"

    # --- engine and workspace → widgets ---------------------------------------------------

    def _view_of(self, name: str) -> RowView:
        return row_view(self.engine.watch(name), self.now(), self.engine.now())

    def _on_engine_event(self, event: EngineEvent) -> None:
        # Runs on the app's loop for every check: only records, apply_updates draws.
        self._changed_rows.add(event.name)
        if isinstance(event, CheckFinished) and event.changed:
            self._state_changes.append(event)

    def _on_workspace_changed(self) -> None:
        self._list_changed = True
        self._update_title()

    def apply_updates(self) -> None:
        """Show what the engine and the workspace reported since the last call (a timer
        calls this every UPDATE_SECONDS)."""
        if self._list_changed:
            self._sync_rows()
        if self._changed_rows:
            names, self._changed_rows = self._changed_rows, set()
            if self.row_filter.active and self._filter_membership_changed(names):
                self._sync_rows()
            self._table.update_rows(names)
        if self._state_changes:
            changes, self._state_changes = self._state_changes, []
            announce_changes(self, changes, bell=self.bell_on_error)
        self._update_summary()

    def _filter_membership_changed(self, names: Iterable[str]) -> bool:
        now_clock = self.engine.now()
        shown = set(self._table.names)
        for name in names:
            watch = self.engine.watches.get(name)
            if watch is not None and self.row_filter.matches(watch, now_clock) != (name in shown):
                return True
        return False

    def _sync_rows(self) -> None:
        """Rows for the workspace's endpoints that pass the filter, in the sort's order."""
        self._list_changed = False
        watches = self.engine.watches
        now_clock = self.engine.now()
        names = [
            name
            for name in self.workspace.names()
            if name in watches and self.row_filter.matches(watches[name], now_clock)
        ]
        position = self.workspace.position
        names.sort(
            key=lambda name: sort_value(self.sort_key, watches[name], position(name)),
            reverse=self.sort_reverse,
        )
        self._table.set_sort(self.sort_key, self.sort_reverse)
        self._table.set_rows(names)
        self._table.relayout()
        empty = len(self.workspace) == 0
        self._table.display = not empty
        self._empty.display = empty
        self.refresh_bindings()

    def _update_summary(self) -> None:
        counts: dict[RowState, int] = {}
        now_clock = self.engine.now()
        stale = 0
        for watch in self.engine.watches.values():
            state = row_state(watch)
            counts[state] = counts.get(state, 0) + 1
            stale += watch.is_stale(now_clock)
        self._summary.show(
            Summary(
                counts=counts,
                stale=stale,
                total=len(self.engine.watches),
                in_flight=self.engine.in_flight,
                sort=self.sort_key,
                reverse=self.sort_reverse,
                shown=self._table.row_count if self.row_filter.active else None,
                saving=self.workspace.saving,
            )
        )

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False  # the table's keys sleep while a dialog or the detail view is open
        return self._can_run(action)

    def _can_run(self, action: str) -> bool | None:
        """Whether ``action`` would do something on the main screen now (None: dimmed)."""
        if action in NEEDS_A_ROW and self.selected_name is None:
            return None
        if action == "save" and self.demo:
            return None
        if action == "clear_filter":
            return self.row_filter.active or self._filter_input.has_class("visible")
        return True

    @on(EndpointTable.CursorMoved)
    def _cursor_moved(self) -> None:
        self.refresh_bindings()

    @on(EndpointTable.RowActivated)
    def _row_activated(self, event: EndpointTable.RowActivated) -> None:
        self.action_details()

    @on(EndpointTable.HeaderClicked)
    def _header_clicked(self, event: EndpointTable.HeaderClicked) -> None:
        reverse = self.sort_key is event.sort and not self.sort_reverse
        self._sort_by(event.sort, reverse)

    def action_recheck(self) -> None:
        name = self.selected_name
        if name is not None:
            self.engine.recheck(name)

    def action_recheck_all(self) -> None:
        self.engine.recheck_all()
        self.notify(f"Rechecking {len(self.engine.watches)} endpoints", timeout=2)

    def action_first_row(self) -> None:
        self._table.action_first_row()

    def action_last_row(self) -> None:
        self._table.action_last_row()

    def action_toggle_pause(self) -> None:
        name = self.selected_name
        if name is not None:
            self.engine.set_paused(name, not self.engine.watch(name).paused)

    def action_pause_all(self) -> None:
        watches = self.engine.watches
        pause = not all(w.paused for w in watches.values())
        for name in list(watches):
            self.engine.set_paused(name, pause)
        self.notify("Paused all endpoints" if pause else "Resumed all endpoints", timeout=2)

    def action_filter(self) -> None:
        self._filter_input.add_class("visible")
        self._filter_input.focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        """Escape: close the filter box and clear it, in one press, typed or not."""
        self._filter_input.value = ""
        self._filter_input.remove_class("visible")
        self._set_filter(RowFilter())
        self._table.focus()

    def _set_filter(self, row_filter: RowFilter) -> None:
        self.row_filter = row_filter
        self._sync_rows()
        self._update_summary()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        row_filter = parse_filter(event.value)
        self._filter_input.set_class(bool(row_filter.problems), "-invalid")
        self._filter_input.tooltip = "\n".join(row_filter.problems) or None
        self._set_filter(row_filter)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self.row_filter.problems:
            self.notify(self.row_filter.problems[0], severity="warning", markup=False)
        if not event.value.strip():
            self.action_clear_filter()
            return
        self._table.focus()

    def _filter_to(self, state: str) -> None:
        self._filter_input.add_class("visible")
        self._filter_input.value = f"is:{state}"
        self._table.focus()

    def action_sort(self) -> None:
        self._sort_by(next_sort(self.sort_key), self.sort_reverse)

    def action_reverse_sort(self) -> None:
        self._sort_by(self.sort_key, not self.sort_reverse)

    def _sort_by(self, key: SortKey, reverse: bool) -> None:
        self.sort_key = key
        self.sort_reverse = reverse
        self._sync_rows()
        self._update_summary()

    def _go_to(self, name: str) -> None:
        if name not in self._table.names:
            self.action_clear_filter()
        self._table.select(name)
        self._table.focus()

    def action_details(self) -> None:
        name = self.selected_name
        if name is not None:
            self.push_screen(DetailScreen(self.engine, name, self.now))

    def action_help(self) -> None:
        keys = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            keys.append((self.get_key_display(binding), binding.tooltip or binding.description))
        keys += [
            ("↑ ↓ j k", "Move the cursor (PgUp/PgDn, Home/End by pages and to the ends)"),
            ("tab", "Next field or button in a dialog (shift+tab: previous)"),
            ("^p", "Command palette: every action by name, sorting, filters, go to endpoint"),
            ("^c", "Quit, like q (SIGTERM and SIGHUP quit at once)"),
        ]
        self.push_screen(HelpScreen(keys))

    # --- edits ----------------------------------------------------------------------------

    def _after_edit(self, what: str, warnings: Sequence[str]) -> None:
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
            self._sync_rows()
            self._table.select(endpoints[0].name)
            names = endpoints[0].name if len(endpoints) == 1 else f"{len(endpoints)} endpoints"
            self._after_edit(f"Added {names}", warnings)

        self.push_screen(EndpointDialog(self.workspace.names()), added)

    def action_edit(self) -> None:
        name = self.selected_name
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
            self._sync_rows()
            self._table.select(endpoints[0].name)
            self._after_edit(f"Updated {endpoints[0].name}", warnings)

        self.push_screen(EndpointDialog(self.workspace.names(), original), edited)

    def action_delete(self) -> None:
        name = self.selected_name
        if name is None:
            return
        endpoint = self.workspace.get(name)

        def answered(choice: str | None) -> None:
            if choice == "delete":
                self.workspace.remove(name)
                self._sync_rows()
                self._after_edit(f"Deleted {name}", ())

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
        if self.demo:
            self.notify("The demo farm is not saved", severity="warning")
            return
        self._update_summary()
        try:
            result = await self.workspace.save()
        except (ConfigError, WorkspaceError) as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=12, markup=False)
            return
        finally:
            self._update_summary()
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
                [
                    Choice("save", "Save and quit", "s", "primary"),
                    Choice("discard", "Quit without saving", "w", "error"),
                    Choice("cancel", "Cancel", "c"),
                ],
            ),
            answered,
        )

    def action_help_quit(self) -> None:
        """ctrl+c quits like q (Textual's default only says which key quits)."""
        if isinstance(self.screen, ConfirmScreen):
            return  # the question is open already
        self.call_later(self.action_quit)

    # --- quitting on signals --------------------------------------------------------------

    def _exit_on_signal(self, signum: int) -> None:
        # Unsaved edits cannot be asked about: there may be no terminal left to ask on.
        status = 128 + signum
        self.exit(return_code=status)
        if signum == signal.SIGHUP and self.hard_exit_on_hangup and signals.terminal_gone():
            self._hung_up_status = status
            signals.leave_a_hung_up_terminal(status)

    # --- command palette ------------------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        """Every action that can run now, then sorts, filters, and one "go to" per row."""
        commands = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action in ("quit", "help", "clear_filter"):
                continue
            if self._can_run(binding.action) is not True:
                continue
            commands.append(
                PaletteCommand(
                    binding.tooltip or binding.description,
                    f"key {self.get_key_display(binding)}",
                    getattr(self, f"action_{binding.action}"),
                )
            )
        if self.row_filter.active:
            commands.append(
                PaletteCommand("Clear the filter", "key escape", self.action_clear_filter)
            )
        for key in SORT_CYCLE:
            for reverse in (False, True):
                title = f"Sort by {key.value}" + (", reversed" if reverse else "")
                commands.append(
                    PaletteCommand(
                        title, "s cycles, S reverses", partial(self._sort_by, key, reverse)
                    )
                )
        for state in FILTER_STATES:
            commands.append(
                PaletteCommand(f"Show only is:{state}", "filter", partial(self._filter_to, state))
            )
        for endpoint in self.workspace.endpoints:
            tags = f"  {' '.join(endpoint.tags)}" if endpoint.tags else ""
            commands.append(
                PaletteCommand(
                    f"Go to {endpoint.name}{tags}",
                    f"select {endpoint.display_url}",
                    partial(self._go_to, endpoint.name),
                    discoverable=False,
                )
            )
        return commands


def run_dashboard(
    *,
    config: Config,
    extra_endpoints: list[Endpoint],
    settings: Settings,
    demo: bool,
    bell: bool,
) -> int:
    """Run the dashboard until it quits; the exit status (128 + N after signal N)."""
    raise_open_file_limit()
    app = BidiTuiApp(config, extra_endpoints, settings=settings, demo=demo, bell=bell)
    app.hard_exit_on_hangup = True  # this process is the dashboard's alone
    app.run()
    return app.return_code or 0
