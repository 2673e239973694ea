"""The live dashboard: a thin Textual layer over the polling engine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from bidi_tui.config import Config, ConfigEditor, ConfigError, save_config
from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import CheckFinished, Engine, EngineEvent
from bidi_tui.model import State
from bidi_tui.screens.confirm import ConfirmScreen
from bidi_tui.screens.detail import STATE_STYLE, DetailScreen
from bidi_tui.screens.endpoint_dialog import EndpointDialog
from bidi_tui.screens.help import HelpScreen
from bidi_tui.settings import Settings
from bidi_tui.view.rows import (
    COLUMN_LABELS,
    STATE_TEXT,
    RowCells,
    RowFilter,
    RowState,
    SortKey,
    column_layout,
    next_sort,
    parse_filter,
    row_cells,
    row_state,
    sort_value,
    verdict_state,
)

TIMER_SECONDS = 0.2  # how often the refresh timer wakes
TICK_SECONDS = 1.0  # ages tick once a second
# Every table update repaints the DataTable, which costs tens of ms at thousands of rows
# (bench/dashboard_load.py): big farms coalesce results for longer, up to one update a second.
ENDPOINTS_PER_REFRESH_SECOND = 2000


def refresh_seconds(endpoint_count: int) -> float:
    """How long results are coalesced before the table shows them."""
    return min(TICK_SECONDS, max(TIMER_SECONDS, endpoint_count / ENDPOINTS_PER_REFRESH_SECOND))


MAX_CHANGE_TOASTS = 3  # more state changes than this in one refresh make one summary toast
QUIT_GRACE_SECONDS = 0.1  # on quit, checks get this long to close their connections politely
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
# After a hangup the process ends this long after SIGHUP, whatever state shutdown is in.
HANGUP_EXIT_SECONDS = 0.8

STATE_WORD = {
    State.READY: "READY",
    State.NOT_READY: "NOT READY",
    State.ERROR: "ERROR",
}

SUMMARY_WORDS = {
    RowState.READY: "ready",
    RowState.NOT_READY: "not ready",
    RowState.ERROR: "error",
    RowState.PAUSED: "paused",
}

EMPTY_TEXT = """\
[b]No endpoints to watch yet.[/b]

Press [b]a[/b] to add one (e.g. [i]ws://127.0.0.1:9222/session[/i] for Firefox started
with --remote-debugging-port=9222, or [i]127.0.0.1:9515[/i] for ChromeDriver), then [b]w[/b]
to save it to {path}.

Or start with endpoints:  [i]bidi-tui 127.0.0.1:9222 127.0.0.1:9515[/i]
Or see a demo farm:       [i]bidi-tui --demo[/i]
"""


class BidiTuiApp(App[None]):
    """Watches a browser farm: one row per BiDi endpoint, updated live."""

    CSS_PATH = "app.tcss"
    TITLE = "bidi-tui"

    # The footer shows the everyday keys; `?` lists them all, ctrl+p finds them by name.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "recheck", "Check", id="recheck", tooltip="Check the selected endpoint now"),
        Binding(
            "R",
            "recheck_all",
            "Check all",
            id="recheck_all",
            tooltip="Check every endpoint now",
            show=False,
        ),
        Binding("a", "add", "Add", id="add", tooltip="Add an endpoint"),
        Binding("e", "edit", "Edit", id="edit", tooltip="Edit the selected endpoint"),
        Binding("d", "delete", "Del", id="delete", tooltip="Delete the selected endpoint"),
        Binding(
            "space",
            "toggle_pause",
            "Pause",
            id="pause",
            tooltip="Pause or resume the selected",
            key_display="␣",
        ),
        Binding(
            "P",
            "pause_all",
            "Pause all",
            id="pause_all",
            tooltip="Pause or resume all",
            show=False,
        ),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter by text and is:STATE"),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            id="clear_filter",
            tooltip="Clear the filter",
            show=False,
        ),
        Binding("s", "sort", "Sort", id="sort", tooltip="Cycle the sort column"),
        Binding(
            "S",
            "reverse_sort",
            "Reverse sort",
            id="reverse",
            tooltip="Reverse the sort",
            show=False,
        ),
        Binding(
            "enter",
            "details",
            "Details",
            id="details",
            tooltip="Open the detail view",
            key_display="⏎",
            show=False,
        ),
        Binding(
            "g",
            "first_row",
            "First",
            id="first_row",
            tooltip="Go to the first row (also ctrl+home)",
            show=False,
        ),
        Binding(
            "G",
            "last_row",
            "Last",
            id="last_row",
            tooltip="Go to the last row (also ctrl+end)",
            show=False,
        ),
        Binding("w", "save", "Write", id="save", tooltip="Write the endpoints to the config"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Show every key"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit (asks if there are unsaved edits)"),
    ]

    def __init__(
        self,
        config: Config,
        extra_endpoints: Iterable[Endpoint] = (),
        *,
        interval: float | None = None,
        timeout: float | None = None,
        demo: bool = False,
        bell: bool = False,
        reuse_connections: bool = False,
        start_engine: bool = True,
        now: Callable[[], datetime] | None = None,
        engine: Engine | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.editor = ConfigEditor(config)
        self.demo = demo
        self.bell_on_error = bell
        self.start_engine = start_engine
        self.now = now or (lambda: datetime.now(UTC))
        self.endpoints: list[Endpoint] = [] if demo else [*config.endpoints, *extra_endpoints]
        self.renames: dict[str, str] = {}
        self.dirty = False
        self.engine = engine or Engine(
            self.endpoints,
            settings=Settings(
                cli_interval=interval,
                cli_timeout=timeout,
                default_interval=config.defaults.interval,
                default_timeout=config.defaults.timeout,
                reuse_connections=reuse_connections or config.defaults.reuse_connections,
            ),
        )
        self.engine.subscribe(self._on_engine_event)
        self._dirty_rows: set[str] = set()
        self._state_changes: list[CheckFinished] = []
        self._rendered: dict[str, RowCells] = {}
        self._order: dict[str, int] = {}
        self._layout: dict[str, int] = {}
        self._last_apply = 0.0
        self._summary_text = Text()
        self._last_tick = 0.0
        self.row_filter = RowFilter()
        self.sort_key = SortKey.CONFIG
        self.sort_reverse = False
        self._exit_stack = contextlib.AsyncExitStack()
        # Held directly: the timers update them while another screen may be on top.
        self._summary = Static(id="summary")
        self._filter_input = Input(
            placeholder="filter: words, is:error, is:not_ready, is:stale … (esc clears)",
            id="filter",
        )
        self._table: DataTable[Text | str] = DataTable(
            id="endpoints", cursor_type="row", zebra_stripes=True
        )
        self._empty = Static(EMPTY_TEXT.format(path=self.config.path), id="empty", markup=True)

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="main"):
            yield self._summary
            yield self._filter_input
            yield self._table
            yield self._empty
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> DataTable[Text | str]:
        return self._table

    async def on_mount(self) -> None:
        self._catch_quit_signals()
        self.sub_title = self._sub_title()
        if self.demo:
            from bidi_tui.demo import DemoFarm

            farm = await self._exit_stack.enter_async_context(DemoFarm.start())
            for endpoint in farm.endpoints:
                self.endpoints.append(endpoint)
                self.engine.add(endpoint)
        self._renumber()
        self._apply_layout()
        self._sync_rows()
        if self.start_engine:
            self.engine.start()
        # Timers on the main screen stop with it, so none fires while the app shuts down.
        self.screen.set_interval(TIMER_SECONDS, self._on_timer)
        self.watch(self.table, "scroll_y", self._on_scroll, init=False)
        self._update_summary()
        self.table.focus()
        for warning in self.config.warnings:
            self.notify(warning, title="Config warning", severity="warning", timeout=10)

    def on_resize(self) -> None:
        # The new size reaches the screen after this event: lay out once it has.
        self.call_after_refresh(self._apply_layout)

    def _apply_layout(self) -> None:
        """Fit the columns to the terminal; rebuilt only when the widths change."""
        watches = self.engine.watches.values()
        layout = column_layout(
            self.screen.size.width - 2,  # the vertical scrollbar
            max((len(w.endpoint.name) for w in watches), default=4),
            max((len(w.endpoint.display_url) for w in watches), default=3),
        )
        if layout == self._layout:
            return
        self._layout = layout
        table = self.table
        selected = self.selected_name
        with self.batch_update():
            table.clear(columns=True)
            self._rendered.clear()
            for key, width in layout.items():
                table.add_column(COLUMN_LABELS[key], key=key, width=width)
            self._sync_rows()
            if selected is not None and selected in table.rows:
                table.move_cursor(row=table.get_row_index(selected))

    async def on_unmount(self) -> None:
        self._release_quit_signals()
        await self._stop_engine()
        await self._exit_stack.aclose()
        if self._hung_up_status is not None:
            os._exit(self._hung_up_status)  # connections closed; no terminal left to restore

    def _sub_title(self) -> str:
        if self.demo:
            return "demo farm (nothing is saved)"
        return f"{self.config.path}{' [modified]' if self.dirty else ''}"

    @property
    def _save_hint(self) -> str:
        return "" if self.demo else "; press w to save"

    def _mark_dirty(self) -> None:
        self.dirty = True
        self.sub_title = self._sub_title()

    # --- engine → table -------------------------------------------------------------------

    def _on_engine_event(self, event: EngineEvent) -> None:
        # Runs on the app's loop; only records what changed, _flush draws it.
        self._dirty_rows.add(event.name)
        if isinstance(event, CheckFinished) and event.changed:
            self._state_changes.append(event)

    def _apply_engine_updates(self) -> None:
        if self._dirty_rows:
            names, self._dirty_rows = self._dirty_rows, set()
            if self.row_filter.active and self._filter_membership_changed(names):
                self._sync_rows()
            # Off-screen rows are drawn when they scroll into view (see _on_scroll).
            self._update_rows(name for name in self._visible_names() if name in names)
        if self._state_changes:
            changes, self._state_changes = self._state_changes, []
            self._announce(changes)
        self._update_summary()

    def _filter_membership_changed(self, names: Iterable[str]) -> bool:
        now_clock = self.engine.now()
        rows = self.table.rows
        for name in names:
            watch = self.engine.watches.get(name)
            if watch is not None and self.row_filter.matches(watch, now_clock) != (name in rows):
                return True
        return False

    def _on_scroll(self) -> None:
        self._update_rows(self._visible_names())

    def _on_timer(self) -> None:
        """Apply results and tick ages when each is due, in one batch: one repaint."""
        now = time.monotonic()
        apply_due = now - self._last_apply >= refresh_seconds(len(self.engine.watches)) - 0.01
        tick_due = now - self._last_tick >= TICK_SECONDS - 0.01
        if not (apply_due or tick_due):
            return
        with self.batch_update():
            if apply_due:
                self._last_apply = now
                self._apply_engine_updates()
            if tick_due:
                self._last_tick = now
                self._tick()

    def _tick(self) -> None:
        """Ages change every second: redraw the rows on screen (off-screen ones wait)."""
        self._update_rows(self._visible_names())

    def _visible_names(self) -> list[str]:
        table = self.table
        first = max(0, int(table.scroll_offset.y))
        last = first + max(1, table.size.height)
        names = []
        for index in range(first, min(last, table.row_count)):
            row_key = table.coordinate_to_cell_key(Coordinate(index, 0)).row_key
            if row_key.value is not None:
                names.append(row_key.value)
        return names

    def _update_rows(self, names: Iterable[str]) -> None:
        """Redraw the cells of ``names`` that changed since they were last drawn."""
        table = self.table
        now_wall = self.now()
        now_clock = self.engine.now()
        with self.batch_update():
            for name in names:
                watch = self.engine.watches.get(name)
                if watch is None or name not in table.rows:
                    continue
                cells = row_cells(watch, now_wall, now_clock)
                old = self._rendered.get(name)
                state = row_state(watch)
                for column in self._layout:
                    value = getattr(cells, column)
                    if old is not None and getattr(old, column) == value:
                        continue
                    # Widths are fixed by the layout, so no cell update re-measures them.
                    table.update_cell(name, column, self._styled(column, value, state))
                self._rendered[name] = cells

    def _styled(self, column: str, value: str, state: RowState) -> Text | str:
        width = self._layout.get(column, len(value))
        if len(value) > width and column != "name":
            # The name stays whole: it is the row's sort key; DataTable crops it on screen.
            value = value[: max(width - 1, 0)] + "…"
        if column == "state":
            return Text(value, style=STATE_STYLE[state])
        if column == "age" and value.startswith("⚠"):
            return Text(value, style="bold yellow")
        if column == "message" and state is RowState.ERROR:
            return Text(value, style="red")
        if column == "trend":
            return Text(value, style="cyan")
        return value

    def _row_values(self, name: str) -> list[Text | str]:
        watch = self.engine.watches[name]
        cells = row_cells(watch, self.now(), self.engine.now())
        self._rendered[name] = cells
        state = row_state(watch)
        return [self._styled(column, getattr(cells, column), state) for column in self._layout]

    def _renumber(self) -> None:
        self._order = {endpoint.name: index for index, endpoint in enumerate(self.endpoints)}

    def _wanted_names(self) -> list[str]:
        now_clock = self.engine.now()
        names = [
            e.name
            for e in self.endpoints
            if e.name in self.engine.watches
            and self.row_filter.matches(self.engine.watches[e.name], now_clock)
        ]
        return names

    def _sync_rows(self) -> None:
        """Add and remove rows to match the endpoints and the filter, then apply the sort."""
        table = self.table
        wanted = self._wanted_names()
        wanted_set = set(wanted)
        selected = self.selected_name
        with self.batch_update():
            for row_key in list(table.rows):
                if row_key.value not in wanted_set:
                    table.remove_row(row_key)
                    self._rendered.pop(str(row_key.value), None)
            for name in wanted:
                if name not in table.rows:
                    table.add_row(*self._row_values(name), key=name)
            self._apply_sort(selected)
        empty = not self.endpoints
        table.display = not empty
        self._empty.display = empty

    def _apply_sort(self, keep_selected: str | None) -> None:
        table = self.table
        if table.row_count == 0:
            return
        watches = self.engine.watches
        table.sort(
            "name",
            key=lambda name: sort_value(
                self.sort_key, watches[str(name)], self._order.get(str(name), 0)
            ),
            reverse=self.sort_reverse and self.sort_key is not SortKey.CONFIG,
        )
        if keep_selected is not None and keep_selected in table.rows:
            table.move_cursor(row=table.get_row_index(keep_selected))
        # Rows that moved into view may hold values drawn while they were off-screen.
        self._update_rows(self._visible_names())

    @property
    def selected_name(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        with contextlib.suppress(Exception):
            row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            return None if row_key.value is None else str(row_key.value)
        return None

    def _update_summary(self) -> None:
        counts = dict.fromkeys(RowState, 0)
        now_clock = self.engine.now()
        stale = 0
        for watch in self.engine.watches.values():
            state = row_state(watch)
            counts[state if state is RowState.PAUSED else verdict_state(watch)] += 1
            stale += watch.is_stale(now_clock)
        parts = Text()
        for state, word in SUMMARY_WORDS.items():
            if counts[state] or state in (RowState.READY, RowState.NOT_READY, RowState.ERROR):
                parts.append(f"{STATE_TEXT[state][0]} {counts[state]} {word}  ", STATE_STYLE[state])
        pending = counts[RowState.PENDING] + counts[RowState.CHECKING]
        if pending:
            parts.append(f"… {pending} pending  ", style="dim")
        if stale:
            parts.append(f"⚠ {stale} stale  ", style="bold yellow")
        parts.append(
            f"│ {len(self.engine.watches)} endpoints, {self.engine.in_flight} checking",
            style="dim",
        )
        if self.sort_key is not SortKey.CONFIG or self.sort_reverse:
            order = self.sort_key.value + (" ↓" if self.sort_reverse else "")
            parts.append(f" · sort: {order}", style="dim")
        if self.row_filter.active:
            parts.append(
                f" · {self.table.row_count} of {len(self.engine.watches)} shown", style="bold"
            )
        # Same width every time: a repaint, not a re-layout of the whole screen (which cost
        # up to 320 ms at 2,000 rows, bench/dashboard_load.py); nothing when unchanged.
        if parts != self._summary_text:
            self._summary_text = parts
            self._summary.update(parts, layout=False)

    def _announce(self, changes: list[CheckFinished]) -> None:
        went_to_error = [c for c in changes if c.result.state is State.ERROR]
        if went_to_error and self.bell_on_error:
            self.bell()
        if len(changes) > MAX_CHANGE_TOASTS:
            counts: dict[State, int] = {}
            for change in changes:
                counts[change.result.state] = counts.get(change.result.state, 0) + 1
            summary = ", ".join(f"{n} → {STATE_WORD[s]}" for s, n in counts.items())
            self.notify(
                f"{len(changes)} endpoints changed state: {summary}",
                severity="error" if went_to_error else "information",
                timeout=5,
            )
            return
        for change in changes:
            assert change.previous_state is not None
            text = (
                f"{change.name}: {STATE_WORD[change.previous_state]} → "
                f"{STATE_WORD[change.result.state]}"
            )
            if change.result.error is not None:
                text += f" ({change.result.error.kind.value})"
            severity = {
                State.READY: "information",
                State.NOT_READY: "warning",
                State.ERROR: "error",
            }[change.result.state]
            self.notify(text, severity=severity, timeout=5, markup=False)  # type: ignore[arg-type]

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if len(self.screen_stack) > 1 and action not in ("quit", "help", "help_quit"):
            return False  # the table's keys sleep while a dialog or the detail view is open
        needs_row = {"recheck", "edit", "delete", "toggle_pause", "details"}
        if action in needs_row and self.selected_name is None:
            return None  # shown dimmed
        if action == "save" and self.demo:
            return None
        if action == "clear_filter" and not self.row_filter.active:
            return None
        return True

    def action_recheck(self) -> None:
        name = self.selected_name
        if name is not None:
            self.engine.recheck(name)

    def action_first_row(self) -> None:
        self.table.action_scroll_top()

    def action_last_row(self) -> None:
        self.table.action_scroll_bottom()

    def action_recheck_all(self) -> None:
        self.engine.recheck_all()
        self.notify(f"Rechecking {len(self.engine.watches)} endpoints", timeout=2)

    def action_toggle_pause(self) -> None:
        name = self.selected_name
        if name is None:
            return
        watch = self.engine.watch(name)
        self.engine.set_paused(name, not watch.paused)

    def action_pause_all(self) -> None:
        watches = self.engine.watches
        pause = not all(w.paused for w in watches.values())
        for name in list(watches):
            self.engine.set_paused(name, pause)
        self.notify("Paused all endpoints" if pause else "Resumed all endpoints", timeout=2)

    def action_filter(self) -> None:
        filter_input = self._filter_input
        filter_input.add_class("visible")
        filter_input.focus()

    def action_clear_filter(self) -> None:
        filter_input = self._filter_input
        filter_input.value = ""
        filter_input.remove_class("visible")
        self.row_filter = RowFilter()
        self._sync_rows()
        self._update_summary()
        self.table.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.row_filter = parse_filter(event.value)
        filter_input = self._filter_input
        filter_input.set_class(bool(self.row_filter.problems), "-invalid")
        filter_input.tooltip = "\n".join(self.row_filter.problems) or None
        self._sync_rows()
        self._update_summary()
        self.refresh_bindings()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self.row_filter.problems:
            self.notify(self.row_filter.problems[0], severity="warning")
        if not event.value.strip():
            self.action_clear_filter()
            return
        self.table.focus()

    def action_sort(self) -> None:
        self.sort_key = next_sort(self.sort_key)
        self._apply_sort(self.selected_name)
        self._update_summary()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._apply_sort(self.selected_name)
        self._update_summary()

    def action_details(self) -> None:
        name = self.selected_name
        if name is not None:
            self.push_screen(DetailScreen(self.engine, name, self.now))

    @on(DataTable.RowSelected, "#endpoints")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_details()

    def action_help(self) -> None:
        keys = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            key = self.get_key_display(binding)
            keys.append((key, binding.tooltip or binding.description))
        keys.append(("^c", "Quit, like q (SIGTERM and SIGHUP quit at once)"))
        self.push_screen(HelpScreen(keys))

    def action_add(self) -> None:
        def added(endpoints: list[Endpoint] | None) -> None:
            if not endpoints:
                return
            for endpoint in endpoints:
                self.endpoints.append(endpoint)
                self.engine.add(endpoint)
            self._renumber()
            self._mark_dirty()
            self._apply_layout()
            self._sync_rows()
            self.table.move_cursor(row=self.table.get_row_index(endpoints[0].name))
            names = endpoints[0].name if len(endpoints) == 1 else f"{len(endpoints)} endpoints"
            self.notify(f"Added {names}{self._save_hint}", timeout=4)

        self.push_screen(EndpointDialog(self.engine.watches.keys()), added)

    def action_edit(self) -> None:
        name = self.selected_name
        if name is None:
            return
        original = self.engine.watch(name).endpoint

        def edited(endpoints: list[Endpoint] | None) -> None:
            if not endpoints or endpoints[0] == original:
                return
            endpoint = endpoints[0]
            position = next(i for i, e in enumerate(self.endpoints) if e.name == name)
            self.endpoints[position] = endpoint
            if endpoint.name != name:
                self.renames[endpoint.name] = self.renames.pop(name, name)
            self.engine.replace(name, endpoint)
            self._renumber()
            self._mark_dirty()
            self._apply_layout()
            if endpoint.name != name:
                self._sync_rows()
            self._update_rows([endpoint.name])
            self.table.move_cursor(row=self.table.get_row_index(endpoint.name))
            self.notify(f"Updated {endpoint.name}{self._save_hint}", timeout=4)

        self.push_screen(EndpointDialog(self.engine.watches.keys(), original), edited)

    def action_delete(self) -> None:
        name = self.selected_name
        if name is None:
            return
        endpoint = self.engine.watch(name).endpoint

        def answered(choice: str | None) -> None:
            if choice != "delete":
                return
            self.endpoints = [e for e in self.endpoints if e.name != name]
            self.engine.remove(name)
            self.renames.pop(name, None)
            self._renumber()
            self._mark_dirty()
            self._sync_rows()
            self.notify(f"Deleted {name}{self._save_hint}", timeout=4)

        self.push_screen(
            ConfirmScreen(
                "Delete endpoint",
                f"Stop watching {name} ({endpoint.display_url})?",
                [("delete", "Delete", "error"), ("cancel", "Cancel", "default")],
            ),
            answered,
        )

    def action_save(self) -> bool:
        """Write the endpoints to the config file; True when saved."""
        if self.demo:
            self.notify("The demo farm is not saved", severity="warning")
            return False
        try:
            self.editor.sync(self.endpoints, self.renames)
            save_config(self.config)
        except ConfigError as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=12, markup=False)
            return False
        self.renames.clear()
        self.dirty = False
        self.sub_title = self._sub_title()
        self.notify(f"Saved {len(self.endpoints)} endpoints to {self.config.path}", timeout=4)
        return True

    async def action_quit(self) -> None:
        if not self.dirty:
            self.exit()
            return

        def answered(choice: str | None) -> None:
            if choice == "save" and not self.action_save():
                return
            if choice in ("save", "discard"):
                self.exit()

        self.push_screen(
            ConfirmScreen(
                "Unsaved changes",
                f"Endpoints were added, edited or deleted since {self.config.path} was saved.",
                [
                    ("save", "Save and quit", "primary"),
                    ("discard", "Quit without saving", "error"),
                    ("cancel", "Cancel", "default"),
                ],
            ),
            answered,
        )

    # --- quitting: ctrl+c, SIGTERM, SIGHUP (issue 4) -----------------------------------------

    hard_exit_on_hangup = False  # set by run_dashboard: never in tests that run the app inline
    _hung_up_status: int | None = None

    def action_help_quit(self) -> None:
        """ctrl+c quits like q (Textual's default only says which key quits)."""
        self.call_later(self.action_quit)

    def _catch_quit_signals(self) -> None:
        """SIGTERM, SIGHUP (the SSH session dropped) and SIGINT exit cleanly: connections
        closed, terminal restored, status 128 + the signal's number."""
        loop = asyncio.get_running_loop()
        for signum in QUIT_SIGNALS:
            # Only the main thread may set handlers; elsewhere the defaults stay.
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(signum, self._exit_on_signal, signum)

    def _release_quit_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in QUIT_SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.remove_signal_handler(signum)

    def _exit_on_signal(self, signum: int) -> None:
        # Unsaved edits cannot be asked about: there may be no terminal left to ask on.
        self.exit(return_code=128 + signum)
        if signum == signal.SIGHUP and self.hard_exit_on_hangup:
            self._leave_a_hung_up_terminal(128 + signum)

    def _leave_a_hung_up_terminal(self, status: int) -> None:
        """With the terminal gone (the SSH session dropped), every write to it fails and
        Textual's shutdown can block for good on them. So: what it still writes goes to
        /dev/null, the process ends once the checks are stopped (on_unmount), and at the
        latest HANGUP_EXIT_SECONDS after the signal, whatever state shutdown is in."""
        try:
            os.write(1, b"")
            return  # still there (a `kill -HUP`): shut down as usual, restoring it
        except OSError:
            pass
        self._hung_up_status = status
        with contextlib.suppress(OSError):
            nowhere = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(nowhere, fd)
            os.close(nowhere)
        timer = threading.Timer(HANGUP_EXIT_SECONDS, os._exit, args=(status,))
        timer.daemon = True
        timer.start()

    async def _stop_engine(self) -> None:
        """Stop every check without waiting on a server that never closes."""
        await self.engine.stop(grace=QUIT_GRACE_SECONDS)

    # --- command palette ------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.screen or not isinstance(screen, Screen):
            return
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action in ("quit", "help", "clear_filter"):
                continue
            if self.check_action(binding.action, ()) is not True:
                continue
            callback = getattr(self, f"action_{binding.action}")
            yield SystemCommand(
                f"{binding.description}: {binding.tooltip}"
                if binding.description != binding.tooltip
                else binding.description,
                f"key {self.get_key_display(binding)}",
                callback,
            )
        for key in (SortKey.STATE, SortKey.NAME, SortKey.LATENCY, SortKey.LAST_CHECK):
            yield SystemCommand(
                f"Sort by {key.value}", "key s cycles", lambda key=key: self._sort_by(key)
            )
        for state in ("error", "not_ready", "stale", "paused"):
            yield SystemCommand(
                f"Show only is:{state}", "filter", lambda state=state: self._filter_to(state)
            )
        for name in self.engine.watches:
            yield SystemCommand(
                f"Go to {name}", "select the endpoint's row", lambda name=name: self._go_to(name)
            )

    def _sort_by(self, key: SortKey) -> None:
        self.sort_key = key
        self._apply_sort(self.selected_name)
        self._update_summary()

    def _filter_to(self, state: str) -> None:
        filter_input = self._filter_input
        filter_input.add_class("visible")
        filter_input.value = f"is:{state}"

    def _go_to(self, name: str) -> None:
        if name not in self.table.rows:
            self.action_clear_filter()
        if name in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(name))
            self.table.focus()


def run_dashboard(
    *,
    config: Config,
    extra_endpoints: list[Endpoint],
    interval: float | None,
    timeout: float | None,
    demo: bool,
    bell: bool,
    reuse_connections: bool = False,
) -> int:
    """Run the dashboard until it quits; the exit status (128 + N after signal N)."""
    app = BidiTuiApp(
        config,
        extra_endpoints,
        interval=interval,
        timeout=timeout,
        demo=demo,
        bell=bell,
        reuse_connections=reuse_connections,
    )
    app.hard_exit_on_hangup = True  # this process is the dashboard's alone
    app.run()
    return app.return_code or 0
