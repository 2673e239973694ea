"""What the engine and the workspace report, shown: the table's rows, the summary bar and
the notice of an empty list kept in step with the checks and the current query."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from bidi_tui.engine import CheckFinished, Engine, EngineEvent
from bidi_tui.ui.widgets.endpoint_table import EndpointTable
from bidi_tui.ui.widgets.summary_bar import Summary, SummaryBar
from bidi_tui.view.arrangement import Arrangement, RowOrder
from bidi_tui.view.columns import COLUMNS, Layout, fit_columns, without_history
from bidi_tui.view.filtering import RowFilter, SortKey
from bidi_tui.view.grouping import GroupBy, GroupView, is_group_row
from bidi_tui.view.rows import RowView, row_view
from bidi_tui.view.tally import StateTally
from bidi_tui.workspace import Workspace


def empty_text(path: str) -> Text:
    return Text.assemble(
        ("No endpoints to watch yet.", "bold"),
        "\n\nPress ",
        ("a", "bold"),
        " to add one (e.g. ws://127.0.0.1:9222/session for Firefox started with\n"
        "--remote-debugging-port=9222, or 127.0.0.1:9515 for ChromeDriver), then ",
        ("w", "bold"),
        f" to save it to {path}.\n\nOr start with endpoints:  ",
        ("bidi-tui 127.0.0.1:9222 127.0.0.1:9515", "italic"),
        "\nOr see a demo farm:       ",
        ("bidi-tui --demo", "italic"),
    )


class DashboardFeed:
    """Records what the engine and the workspace report and shows it when asked
    (:meth:`apply_updates`): rows arranged by :attr:`order`, the tally in the summary bar,
    state changes handed to ``announce``."""

    def __init__(
        self,
        engine: Engine,
        workspace: Workspace,
        now: Callable[[], datetime],
        *,
        config_path: str,
        with_history: Callable[[], bool],
        announce: Callable[[Sequence[CheckFinished]], None],
        refresh_bindings: Callable[[], None],
    ) -> None:
        """``with_history``: whether there is a history (its columns are shown then);
        ``refresh_bindings``: called when the rows changed (what can run may have)."""
        self.engine = engine
        self.workspace = workspace
        self.now = now
        self._with_history = with_history
        self._announce = announce
        self._refresh_bindings = refresh_bindings
        self.order = RowOrder()
        self._uptimes: dict[str, float | None] = {}
        self._arrangement = Arrangement()
        self._changed_rows: set[str] = set()
        self._tally = StateTally()
        self._state_changes: list[CheckFinished] = []
        self._list_changed = True
        self.summary = SummaryBar(id="summary")
        self.table = EndpointTable(self._view_of, self._layout_for, id="endpoints")
        self.empty = Static(empty_text(config_path), id="empty")
        engine.subscribe(self._on_engine_event)

    def show_uptimes(self, uptimes: dict[str, float | None]) -> None:
        self._uptimes = uptimes
        self.table.update_rows(self.table.visible_names())

    def tick(self) -> None:
        self.table.refresh_visible()  # ages
        self._tally.count_stale(self.engine.watches, self.engine.now())

    def _layout_for(self, width: int) -> Layout:
        endpoints = self.workspace.endpoints
        return fit_columns(
            width,
            max((len(e.name) for e in endpoints), default=4),
            max((len(e.display_url) for e in endpoints), default=3),
            COLUMNS if self._with_history() else without_history(),
        )

    def _view_of(self, key: str) -> RowView | GroupView:
        watches = self.engine.watches
        if is_group_row(key):
            return self.order.header_view(key, self._arrangement, watches)
        return row_view(watches[key], self.now(), self.engine.now(), self._uptimes.get(key))

    def _on_engine_event(self, event: EngineEvent) -> None:
        # Runs on the app's loop for every check: only records, apply_updates draws.
        self._changed_rows.add(event.name)
        if isinstance(event, CheckFinished) and event.changed:
            self._state_changes.append(event)

    def workspace_changed(self, endpoints: bool) -> None:
        # A save changes the unsaved mark, not the rows (rearranging 20,000 took 0.1 s).
        self._list_changed = self._list_changed or endpoints

    def apply_updates(self) -> None:
        """Show what the engine and the workspace reported since the last call."""
        if self._list_changed:
            self.sync_rows()
        if self._changed_rows:
            names, self._changed_rows = self._changed_rows, set()
            self._tally.update(self.engine.watches, names)
            if self.order.row_filter.active and self._filter_membership_changed(names):
                self.sync_rows()
            self.table.update_rows(names | self._arrangement.headers_of(names))
        if self._state_changes:
            changes, self._state_changes = self._state_changes, []
            self._announce(changes)
        self.update_summary()

    def _filter_membership_changed(self, names: Iterable[str]) -> bool:
        now_clock, shown = self.engine.now(), set(self.table.names)
        watches = self.engine.watches
        return any(
            self.order.row_filter.matches(watches[name], now_clock) != (name in shown)
            for name in names
            if name in watches
        )

    def sync_rows(self) -> None:
        """The table's rows for the workspace's endpoints and the current query."""
        if self._list_changed:
            self._tally.recount(self.engine.watches, self.engine.now())
        self._list_changed = False
        self._arrangement = self.order.arrange(
            self.workspace.endpoints, self.engine.watches, self.engine.now()
        )
        self.table.set_sort(self.order.sort_key, self.order.reverse)
        self.table.set_rows(self._arrangement.rows)
        self.table.relayout()
        empty = len(self.workspace) == 0
        self.table.display, self.empty.display = not empty, empty
        self._refresh_bindings()

    def update_summary(self) -> None:
        self.summary.show(
            Summary.of(
                self._tally,
                self.engine,
                self.order,
                shown=self._arrangement.endpoint_rows,
                saving=self.workspace.saving,
            )
        )

    # --- the query: what the rows show and in which order ---------------------------------

    def filter_by(self, row_filter: RowFilter) -> None:
        self.order.row_filter = row_filter
        self.sync_rows()
        self.update_summary()

    def sort_by(self, key: SortKey, reverse: bool) -> None:
        self.order.sort_key, self.order.reverse = key, reverse
        self.sync_rows()
        self.update_summary()

    def group_by(self, by: GroupBy) -> None:
        self.order.group_by = by
        self.order.collapsed.clear()
        self.sync_rows()
        self.update_summary()

    def fold(self, group: str, collapse: bool | None) -> None:
        self.order.fold(group, collapse)
        self.sync_rows()

    def unfold_group_of(self, name: str) -> None:
        """Endpoint ``name``'s group, if folded, shows its rows again."""
        self.order.collapsed.discard(self._arrangement.group_of.get(name, ""))
        self.sync_rows()
