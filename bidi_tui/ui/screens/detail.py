"""The detail view of one endpoint: last answer, error, phase timings and history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from bidi_tui.engine import Engine, Watch
from bidi_tui.history import HistoryStore
from bidi_tui.untrusted import DETAIL_LIMIT, safe_text
from bidi_tui.view.formats import format_duration, format_latency, format_uptime
from bidi_tui.view.states import LOOKS, row_state, verdict_look


def _section(title: str) -> Text:
    return Text(title, style="bold underline")


def _timestamp(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _facts(label_style: str = "bold") -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style=label_style)
    table.add_column()
    return table


def _untrusted(value: object) -> Text:
    """An endpoint's text in full, made safe, as data (a str cell would be read as markup)."""
    return Text(safe_text(value, limit=DETAIL_LIMIT, multiline=True))


def render_detail(watch: Watch, now: datetime, *, colour: bool = True) -> RenderableType:
    """Everything known about ``watch``, as one Rich renderable built from Text only."""
    endpoint = watch.endpoint
    look = LOOKS[row_state(watch)]
    parts: list[RenderableType] = []
    heading = Text.assemble((look.label, look.style_in(colour)), "  ", (endpoint.name, "bold"))
    if watch.state_since is not None:
        heading.append(
            f"  since {_timestamp(watch.state_since)} "
            f"({format_duration((now - watch.state_since).total_seconds())})",
            style="dim",
        )
    parts.append(heading)

    facts = _facts()
    facts.add_row(Text("URL"), _untrusted(endpoint.display_url))
    facts.add_row(Text("Interval"), Text(f"{watch.interval:g} s"))
    facts.add_row(Text("Timeout"), Text(f"{watch.timeout:g} s"))
    if endpoint.tags:
        facts.add_row(Text("Tags"), _untrusted(", ".join(endpoint.tags)))
    if endpoint.headers:
        facts.add_row(Text("Headers"), _untrusted(", ".join(f"{n}: ***" for n in endpoint.headers)))
    if endpoint.insecure:
        facts.add_row(Text("TLS"), Text("certificate checks OFF (insecure)"))
    facts.add_row(Text("Checks"), Text(str(watch.checks)))
    parts += [Text(""), facts]

    last = watch.last
    if last is not None:
        result = _facts()
        result.add_row(
            Text("Checked"),
            Text(
                f"{_timestamp(last.checked_at)} "
                f"({format_duration((now - last.checked_at).total_seconds())} ago)"
            ),
        )
        result.add_row(Text("Latency"), Text(format_latency(last.latency_ms)))
        timings = last.timings
        result.add_row(
            Text("Phases"),
            Text(
                f"connect {format_latency(timings.connect_ms)} · "
                f"handshake {format_latency(timings.handshake_ms)} · "
                f"response {format_latency(timings.response_ms)}"
            ),
        )
        if last.error is None:
            result.add_row(Text("Ready"), Text(str(last.ready).lower()))
            result.add_row(Text("Message"), _untrusted(repr(last.message or "")))
        parts += [Text(""), _section("Last check"), result]
        if last.error is not None:
            error = _facts(label_style="bold")
            error.add_row(Text("Kind"), Text(last.error.kind.value))
            if last.error.phase is not None:
                error.add_row(Text("Phase"), Text(last.error.phase.value))
            error.add_row(Text("Detail"), _untrusted(last.error.detail))
            if last.error.hint:
                hint = _untrusted(last.error.hint)
                hint.stylize("italic")
                error.add_row(Text("Hint"), hint)
            parts += [Text(""), _section("Error"), error]
        if last.raw is not None:
            parts += [Text(""), _section("Last response"), _pretty_json(last.raw)]
        elif last.meta:
            parts += [Text(""), _section("Meta"), _pretty_data(dict(last.meta))]

    if watch.history:
        history = Table(box=None, padding=(0, 2), header_style="bold", show_edge=False)
        history.add_column("When")
        history.add_column("State")
        history.add_column("Latency", justify="right")
        history.add_column("Message")
        for entry in reversed(watch.history):
            entry_look = verdict_look(entry.state)
            history.add_row(
                Text(entry.checked_at.astimezone().strftime("%H:%M:%S")),
                Text(entry_look.label, style=entry_look.style_in(colour)),
                Text(format_latency(entry.latency_ms)),
                Text(safe_text(entry.summary)),
            )
        parts += [Text(""), _section(f"History (last {len(watch.history)})"), history]
    return Group(*parts)


UPTIME_SPANS = (
    ("1 h", timedelta(hours=1)),
    ("24 h", timedelta(hours=24)),
    ("7 d", timedelta(days=7)),
)
TIMELINE_LENGTH = 10


def render_history(
    history: HistoryStore, name: str, now: datetime, colour: bool = True
) -> RenderableType:
    """Uptime over 1 h, 24 h and 7 d, flapping, and the last changes, from the history."""
    uptime = Text("  ·  ".join(
        f"{span} {format_uptime(history.uptime(name, now - length))}"
        for span, length in UPTIME_SPANS
    ))  # fmt: skip
    if history.flapping(name):
        uptime.append("  ↯ flapping", style="bold")
    timeline = Table(box=None, padding=(0, 2), header_style="bold", show_edge=False)
    timeline.add_column("When")
    timeline.add_column("From")
    timeline.add_column("To")
    timeline.add_column("Message")
    changes = history.changes(name, limit=TIMELINE_LENGTH)
    for change in changes:
        to_look = verdict_look(change.to_state)
        timeline.add_row(
            Text(_timestamp(change.at)),
            Text("-" if change.from_state is None else verdict_look(change.from_state).label),
            Text(to_look.label, style=to_look.style_in(colour)),
            Text(safe_text(change.message)),
        )
    parts: list[RenderableType] = [Text(""), _section("Uptime (not in error)"), uptime]
    if changes:
        parts += [Text(""), _section(f"State changes (last {len(changes)})"), timeline]
    return Group(*parts)


def _safe_strings(data: object) -> object:
    if isinstance(data, str):
        return safe_text(data, limit=DETAIL_LIMIT, multiline=True)
    if isinstance(data, dict):
        return {str(_safe_strings(str(k))): _safe_strings(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_safe_strings(item) for item in data]
    return data


def _pretty_data(data: object) -> RenderableType:
    """JSON shown indented and highlighted, every string in it made safe first (JSON
    escaping leaves C1 controls and bidi overrides as they are)."""
    return JSON.from_data(_safe_strings(data), indent=2, ensure_ascii=False, default=str)


def _pretty_json(raw: str) -> RenderableType:
    try:
        return _pretty_data(json.loads(raw))
    except (ValueError, RecursionError):
        return _untrusted(raw)


class DetailScreen(Screen[None]):
    """Shows one endpoint and follows it live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="detail.back"),
        Binding("q", "close", "Back", show=False),
        Binding("r", "recheck", "Recheck", id="detail.recheck", tooltip="Check this endpoint now"),
    ]

    def __init__(
        self,
        engine: Engine,
        name: str,
        now: Callable[[], datetime],
        history: HistoryStore | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.endpoint_name = name
        self.now = now
        self.history = history

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.endpoint_name
        self.refresh_detail(force=True)
        self.set_interval(1.0, self.refresh_detail)

    def refresh_detail(self, force: bool = True) -> None:
        watch = self.engine.watches.get(self.endpoint_name)
        if watch is None:
            self.query_one("#detail", Static).update(
                Text(f"{self.endpoint_name} is no longer watched.", style="bold")
            )
            return
        colour = not self.app.no_color
        parts = [render_detail(watch, self.now(), colour=colour)]
        if self.history is not None:
            parts.append(render_history(self.history, self.endpoint_name, self.now(), colour))
        self.query_one("#detail", Static).update(Group(*parts))

    def action_recheck(self) -> None:
        if self.endpoint_name in self.engine.watches:
            self.engine.recheck(self.endpoint_name)
            self.notify(f"Rechecking {self.endpoint_name}", timeout=2)

    def action_close(self) -> None:
        self.dismiss(None)
