"""Groups of rows and their roll-ups: "how is rack 2 doing" at a glance.

Endpoints are grouped by their first tag or by their host; each group gets a header row with
its counts (``rack2  8/10 ready · 1 not ready · 1 error``). The dashboard's table and
``bidi-tui check --group-by`` use the same functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bidi_tui.endpoints import Endpoint
from bidi_tui.view.states import LOOKS, RowState

UNTAGGED = "(untagged)"
# A group row's key in the table's list of rows: no endpoint name can hold a NUL.
GROUP_PREFIX = "\x00group:"


class GroupBy(StrEnum):
    NONE = "none"
    TAG = "tag"
    HOST = "host"


GROUP_CYCLE = (GroupBy.NONE, GroupBy.TAG, GroupBy.HOST)


def next_grouping(current: GroupBy) -> GroupBy:
    return GROUP_CYCLE[(GROUP_CYCLE.index(current) + 1) % len(GROUP_CYCLE)]


def group_of(endpoint: Endpoint, by: GroupBy) -> str:
    """The group ``endpoint`` belongs to: its first tag (an endpoint is in one group, so
    its row appears once), or its host."""
    if by is GroupBy.TAG:
        return endpoint.tags[0] if endpoint.tags else UNTAGGED
    return endpoint.host


def natural_key(text: str) -> tuple[object, ...]:
    """rack2 before rack10; the untagged group last."""
    parts = re.split(r"(\d+)", text.lower())
    return (text == UNTAGGED, *(int(p) if p.isdigit() else p for p in parts))


def group_row_key(group: str) -> str:
    return GROUP_PREFIX + group


def is_group_row(key: str) -> bool:
    return key.startswith(GROUP_PREFIX)


def group_name(key: str) -> str:
    return key[len(GROUP_PREFIX) :]


@dataclass(frozen=True)
class GroupView:
    """What a group's header row shows."""

    name: str
    collapsed: bool
    counts: tuple[tuple[RowState, int], ...]  # in the vocabulary's order, zeros left out
    total: int

    @property
    def ready(self) -> int:
        return dict(self.counts).get(RowState.READY, 0)


def group_view(name: str, states: Iterable[RowState], *, collapsed: bool = False) -> GroupView:
    counted: dict[RowState, int] = {}
    total = 0
    for state in states:
        counted[state] = counted.get(state, 0) + 1
        total += 1
    counts = tuple((state, counted[state]) for state in LOOKS if counted.get(state))
    return GroupView(name, collapsed, counts, total)


def rollup_text(view: GroupView) -> str:
    """``8/10 ready · 1 not ready · 1 error``: ready of all first, then the rest."""
    parts = [f"{view.ready}/{view.total} ready"]
    parts += [
        f"{count} {LOOKS[state].summary_word}"
        for state, count in view.counts
        if state is not RowState.READY
    ]
    return " · ".join(parts)


def arrange(
    names: Sequence[str],
    endpoint_of: Mapping[str, Endpoint],
    by: GroupBy,
    collapsed: frozenset[str] = frozenset(),
) -> list[str]:
    """The table's rows: ``names`` (already filtered and sorted) under a header per group,
    groups in natural order, members in the order given; a collapsed group keeps only its
    header."""
    if by is GroupBy.NONE:
        return list(names)
    members: dict[str, list[str]] = {}
    for name in names:
        members.setdefault(group_of(endpoint_of[name], by), []).append(name)
    rows: list[str] = []
    for group in sorted(members, key=natural_key):
        rows.append(group_row_key(group))
        if group not in collapsed:
            rows += members[group]
    return rows
