"""Which rows the table shows, in what order, under which group headers.

The table's query (filter, sort, grouping, folded groups) is one object; :meth:`RowOrder.arrange`
turns the workspace's endpoints and the engine's watches into the table's list of rows, so
the dashboard only hands the result to its table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import Watch
from bidi_tui.view.filtering import RowFilter, SortKey, sort_value
from bidi_tui.view.grouping import (
    GroupBy,
    GroupView,
    arrange,
    group_name,
    group_of,
    group_row_key,
    group_view,
    is_group_row,
)
from bidi_tui.view.states import row_state


@dataclass
class Arrangement:
    """The table's rows (endpoint names and group header keys) and who is in which group."""

    rows: list[str] = field(default_factory=list)
    group_of: dict[str, str] = field(default_factory=dict)  # endpoint -> its group
    members: dict[str, list[str]] = field(default_factory=dict)  # group -> all its endpoints

    @property
    def endpoint_rows(self) -> int:
        return sum(1 for row in self.rows if not is_group_row(row))

    def headers_of(self, names: set[str]) -> set[str]:
        """The header rows whose roll-up counts ``names`` (their groups')."""
        return {group_row_key(self.group_of[n]) for n in names if n in self.group_of}


@dataclass
class RowOrder:
    row_filter: RowFilter = field(default_factory=RowFilter)
    sort_key: SortKey = SortKey.CONFIG
    reverse: bool = False
    group_by: GroupBy = GroupBy.NONE
    collapsed: set[str] = field(default_factory=set)

    def arrange(
        self, endpoints: Sequence[Endpoint], watches: Mapping[str, Watch], now_clock: float
    ) -> Arrangement:
        """Endpoints that pass the filter, sorted (ties in config order), grouped."""
        row_filter = self.row_filter
        if row_filter.active:
            names = [
                e.name
                for e in endpoints
                if e.name in watches and row_filter.matches(watches[e.name], now_clock)
            ]
        else:
            names = [e.name for e in endpoints if e.name in watches]
        if self.sort_key is SortKey.CONFIG:  # the order they came in (0.3 s less at 50,000)
            if self.reverse:
                names.reverse()
        else:
            position = {endpoint.name: index for index, endpoint in enumerate(endpoints)}
            names.sort(
                key=lambda name: sort_value(self.sort_key, watches[name], position[name]),
                reverse=self.reverse,
            )
        if self.group_by is GroupBy.NONE:
            return Arrangement(names)
        by_name = {endpoint.name: endpoint for endpoint in endpoints}
        groups = {name: group_of(endpoint, self.group_by) for name, endpoint in by_name.items()}
        members: dict[str, list[str]] = {}
        for name, group in groups.items():
            members.setdefault(group, []).append(name)
        rows = arrange(names, by_name, self.group_by, frozenset(self.collapsed))
        return Arrangement(rows, groups, members)

    def header_view(
        self, key: str, arrangement: Arrangement, watches: Mapping[str, Watch]
    ) -> GroupView:
        """A group header's roll-up over all its endpoints (the filter only hides rows)."""
        group = group_name(key)
        return group_view(
            group,
            (row_state(watches[n]) for n in arrangement.members.get(group, ()) if n in watches),
            collapsed=group in self.collapsed,
        )

    def fold(self, group: str, collapse: bool | None) -> None:
        """Fold (True), unfold (False) or toggle (None) ``group``."""
        if collapse is None:
            collapse = group not in self.collapsed
        if collapse:
            self.collapsed.add(group)
        else:
            self.collapsed.discard(group)
