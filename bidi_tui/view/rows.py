"""What one table row shows for one watched endpoint, as plain values.

A :class:`RowView` is frozen and hashable: the table caches each rendered line under it,
so a line is drawn again only when something it shows changed. Every text that came from
the endpoint passed :func:`~bidi_tui.untrusted.one_line` here, before any view sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bidi_tui.engine import Activity, Watch
from bidi_tui.history.flapping import is_flapping
from bidi_tui.model import ProbeResult
from bidi_tui.untrusted import CELL_LIMIT, SafeText, one_line
from bidi_tui.view.formats import format_duration, format_latency, format_uptime, sparkline
from bidi_tui.view.states import RowState, row_state

# Certificate checks are off for this endpoint: say so wherever its URL shows.
INSECURE_MARK = "⚠insecure "
STALE_MARK = "⚠ "


@dataclass(frozen=True)
class RowView:
    name: str
    state: RowState
    url: str
    insecure: bool
    message: SafeText
    is_error: bool
    latency: str
    age: str
    stale: bool
    backing_off: bool
    since: str
    trend: str
    uptime: str = "-"
    flapping: bool = False


def message_text(result: ProbeResult | None) -> SafeText:
    """The message, or ``kind: detail`` for an error; one safe line."""
    if result is None:
        return SafeText("")
    if result.error is not None:
        return one_line(f"{result.error.kind.value}: {result.error.detail}", limit=CELL_LIMIT)
    return one_line(result.message or "", limit=CELL_LIMIT)


def _age(watch: Watch, now_wall: datetime, now_clock: float) -> tuple[str, bool, bool]:
    """The CHECKED cell: how long ago, ``⚠`` when stale, or when the next try comes while
    backing off after errors (that is no stall: the engine waits on purpose)."""
    last = watch.last
    if last is None:
        return "-", False, False
    if (
        watch.consecutive_errors >= 2
        and watch.activity is Activity.WAITING
        and watch.next_due > now_clock
    ):
        return f"retry {format_duration(watch.next_due - now_clock + 0.999)}", False, True
    age = format_duration((now_wall - last.checked_at).total_seconds())
    if watch.is_stale(now_clock):
        return STALE_MARK + age, True, False
    return age, False, False


def row_view(
    watch: Watch, now_wall: datetime, now_clock: float, uptime: float | None = None
) -> RowView:
    """``uptime``: the share of the last 24 h not in error, from the history (if kept)."""
    last = watch.last
    age, stale, backing_off = _age(watch, now_wall, now_clock)
    since = "-"
    if watch.state_since is not None:
        since = format_duration((now_wall - watch.state_since).total_seconds())
    endpoint = watch.endpoint
    return RowView(
        name=endpoint.name,
        state=row_state(watch),
        url=INSECURE_MARK * endpoint.insecure + one_line(endpoint.display_url),
        insecure=endpoint.insecure,
        message=message_text(last),
        is_error=last is not None and last.error is not None,
        latency=format_latency(None if last is None else last.latency_ms),
        age=age,
        stale=stale,
        backing_off=backing_off,
        since=since,
        trend=sparkline(watch.history),
        uptime=format_uptime(uptime),
        flapping=is_flapping(entry.state for entry in watch.history),
    )


def result_view(result: ProbeResult) -> RowView:
    """A one-shot check's row (``bidi-tui check``): no age, trend or time in state."""
    endpoint = result.endpoint
    return RowView(
        name=endpoint.name,
        state=RowState(result.state.value),
        url=INSECURE_MARK * endpoint.insecure + one_line(endpoint.display_url),
        insecure=endpoint.insecure,
        message=message_text(result),
        is_error=result.error is not None,
        latency=format_latency(result.latency_ms),
        age="-",
        stale=False,
        backing_off=False,
        since="-",
        trend="",
    )
