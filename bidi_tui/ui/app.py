"""The live dashboard: composes the widgets, binds the keys and routes between the
workspace (the endpoints), the engine (the checks) and the widgets (what is shown)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Header

from bidi_tui.config import Config
from bidi_tui.desktop_notify import NotifyProtocol
from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import Engine
from bidi_tui.heap import Collector
from bidi_tui.recorders import Recorders
from bidi_tui.settings import Settings
from bidi_tui.ui import keys
from bidi_tui.ui.commands import DashboardCommands, PaletteCommand, dashboard_commands
from bidi_tui.ui.editing import EditingApp
from bidi_tui.ui.feed import DashboardFeed
from bidi_tui.ui.lifetime import Lifetime
from bidi_tui.ui.notices import Notices
from bidi_tui.ui.screens.detail import DetailScreen
from bidi_tui.ui.screens.help import HelpScreen
from bidi_tui.ui.widgets.endpoint_table import EndpointTable
from bidi_tui.ui.widgets.filter_bar import FilterBar
from bidi_tui.view.arrangement import RowOrder
from bidi_tui.view.filtering import SortKey, next_sort
from bidi_tui.view.grouping import GroupBy, group_row_key, next_grouping
from bidi_tui.workspace import Workspace

UPDATE_SECONDS = 0.2  # results reach the table this often
TICK_SECONDS = 1.0  # ages tick once a second
UPTIME_SECONDS = 30.0  # the uptime column is read from the history this often
QUIET_SECONDS = 2.0  # no key or click for this long: a full collection may run


class BidiTuiApp(EditingApp):
    """Watches a browser farm: one row per BiDi endpoint, updated live."""

    CSS_PATH = "app.tcss"
    TITLE = "bidi-tui"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(keys.BINDINGS)

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
        recorders: Recorders | None = None,
        desktop_notify: NotifyProtocol | None = None,
        collector: Collector | None = None,
    ) -> None:
        """``recorders``: history and hooks (run_dashboard opens them); ``desktop_notify``:
        also tell the terminal of state changes (OSC 777 or OSC 9), off by default;
        ``collector``: when the garbage collector may pause the app (heap.py)."""
        super().__init__()
        self.collector = collector or Collector()
        self._last_input = 0.0
        self.recorders = recorders or Recorders()
        self.notices = Notices(self, bell=bell, desktop=desktop_notify)
        self.config = config
        self.demo = demo
        self.start_engine = start_engine
        self.now = now or (lambda: datetime.now(UTC))
        self.engine = engine or Engine(settings=settings or Settings())
        # The demo farm's endpoints join on mount; nothing of the config file is watched.
        self.workspace = (
            Workspace(Config(path=config.path), self.engine, saves=False)
            if demo
            else Workspace(config, self.engine, extra_endpoints)
        )
        self.feed = DashboardFeed(
            self.engine, self.workspace, self.now,
            config_path=str(config.path),
            with_history=lambda: self.recorders.history is not None,
            announce=self.notices.announce,
            refresh_bindings=self.refresh_bindings,
        )  # fmt: skip
        self.workspace.subscribe(self._on_workspace_changed)
        self.lifetime = Lifetime(self.engine, self.workspace, self.notices, self.exit, demo=demo)
        self._no_row_selected = True
        self._filter = FilterBar(id="filter")

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="main"):
            yield self.feed.summary
            yield self._filter
            yield self.feed.table
            yield self.feed.empty
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> EndpointTable:
        return self.feed.table

    @property
    def order(self) -> RowOrder:
        return self.feed.order

    @property
    def selected_name(self) -> str | None:
        return self.table.selected_name

    async def on_mount(self) -> None:
        self.lifetime.catch_signals()
        self.collector.hold()
        await self.lifetime.start(self.recorders)
        self.feed.sync_rows()
        if self.start_engine:
            # After the first frame: starting thousands of checks first delayed it.
            self.call_after_refresh(self.lifetime.start_engine)
        # Timers on the main screen stop with it, so none fires while the app shuts down.
        self.screen.set_interval(UPDATE_SECONDS, self.apply_updates)
        self.screen.set_interval(TICK_SECONDS, self._tick)
        if self.recorders.history is not None:
            self._refresh_uptimes()
            self.screen.set_interval(UPTIME_SECONDS, self._refresh_uptimes)
        self._on_workspace_changed(endpoints=False)  # the subtitle; the rows are synced
        self.feed.update_summary()
        self.table.focus()
        for warning in self.config.warnings:
            self.notices.warn(warning, title="Config warning")

    async def on_unmount(self) -> None:
        await self.lifetime.stop(self.recorders, return_code=self.return_code)
        self.collector.release()
        self.lifetime.exit_if_hung_up()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self._last_input = self.engine.now()
        await super().on_event(event)

    def _tick(self) -> None:
        self.feed.tick()
        self._collect_when_quiet()

    def _collect_when_quiet(self) -> None:
        quiet = self.engine.now() - self._last_input >= QUIET_SECONDS
        self.collector.collect_if_due(quiet=quiet and not self.workspace.saving)

    def report_problem(self, line: str) -> None:
        """A history or hook problem: one line, as a notification (never endpoint text)."""
        self.notices.warn(line)

    @work(group="uptimes", exit_on_error=False)
    async def _refresh_uptimes(self) -> None:
        # A query over the whole history: in a thread, every UPTIME_SECONDS.
        self.feed.show_uptimes(await asyncio.to_thread(self.recorders.uptimes))

    def _on_workspace_changed(self, endpoints: bool) -> None:
        self.feed.workspace_changed(endpoints)
        self.sub_title = self._sub_title()

    def _sub_title(self) -> str:
        if self.demo:
            return "demo farm (nothing is saved)"
        # The mark first: a long path is cut at the end on a narrow terminal.
        return f"{'[unsaved] ' if self.dirty else ''}{self.config.path}"

    def apply_updates(self) -> None:
        """Show what the engine and the workspace reported since the last call (a timer
        calls this every UPDATE_SECONDS)."""
        self.feed.apply_updates()

    # --- actions: the table and its query -------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in keys.MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False  # the table's keys sleep while a dialog or the detail view is open
        return self.can_run(action)

    def can_run(self, action: str) -> bool | None:
        """Whether ``action`` would do something on the main screen now (None: dimmed)."""
        if action in keys.NEEDS_A_ROW and self.selected_name is None:
            return None
        if action == "save" and self.demo:
            return None
        if action == "clear_filter":
            return self.order.row_filter.active or self._filter.is_open
        return True

    @on(EndpointTable.CursorMoved)
    def _cursor_moved(self, event: EndpointTable.CursorMoved) -> None:
        # Only whether a row is selected changes what can run; refreshing the bindings
        # recomposes the footer and lays the screen out again (~25 ms a key in a terminal).
        if (event.name is None) != self._no_row_selected:
            self._no_row_selected = event.name is None
            self.refresh_bindings()

    @on(EndpointTable.RowActivated)
    def _row_activated(self) -> None:
        self.action_details()

    @on(EndpointTable.GroupToggled)
    def _group_toggled(self, event: EndpointTable.GroupToggled) -> None:
        self.feed.fold(event.group, event.collapse)
        self.table.select(group_row_key(event.group))

    @on(EndpointTable.HeaderClicked)
    def _header_clicked(self, event: EndpointTable.HeaderClicked) -> None:
        self.sort_by(event.sort, self.order.sort_key is event.sort and not self.order.reverse)

    def action_recheck(self) -> None:
        if self.selected_name is not None:
            self.engine.recheck(self.selected_name)

    def action_recheck_all(self) -> None:
        self.engine.recheck_all()
        self.notify(f"Rechecking {len(self.engine.watches)} endpoints", timeout=2)

    def action_first_row(self) -> None:
        self.table.action_first_row()

    def action_last_row(self) -> None:
        self.table.action_last_row()

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
        self._filter.open()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        self._filter.action_close()

    def filter_to(self, state: str) -> None:
        self._filter.open(f"is:{state}")
        self.table.focus()

    @on(FilterBar.Updated)
    def _filter_changed(self, event: FilterBar.Updated) -> None:
        self.feed.filter_by(event.row_filter)

    @on(FilterBar.Done)
    def _filter_done(self) -> None:
        self.table.focus()
        self.refresh_bindings()

    def action_sort(self) -> None:
        self.sort_by(next_sort(self.order.sort_key), self.order.reverse)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.order.sort_key, not self.order.reverse)

    def sort_by(self, key: SortKey, reverse: bool) -> None:
        self.feed.sort_by(key, reverse)

    def action_group(self) -> None:
        self.group_by(next_grouping(self.order.group_by))

    def group_by(self, by: GroupBy) -> None:
        self.feed.group_by(by)

    def go_to(self, name: str) -> None:
        self.feed.unfold_group_of(name)
        if name not in self.table.names:
            self.action_clear_filter()
            self.feed.sync_rows()
        self.table.select(name)
        self.table.focus()

    def action_details(self) -> None:
        if self.selected_name is not None:
            self.push_screen(
                DetailScreen(self.engine, self.selected_name, self.now, self.recorders.history)
            )

    def action_help(self) -> None:
        self.push_screen(HelpScreen(keys.help_rows(self.get_key_display)))

    def palette_commands(self) -> list[PaletteCommand]:
        return dashboard_commands(self)
