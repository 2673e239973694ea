"""The detail view of one endpoint: last answer, error, phase timings and history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
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
from bidi_tui.view.rows import (
    STATE_TEXT,
    format_duration,
    format_latency,
    row_state,
)
from bidi_tui.view.rows import RowState as RS

STATE_STYLE = {
    RS.READY: "bold green",
    RS.NOT_READY: "bold yellow",
    RS.ERROR: "bold red",
    RS.CHECKING: "bold cyan",
    RS.PENDING: "dim",
    RS.PAUSED: "dim",
}


def _section(title: str) -> Text:
    return Text(title, style="bold underline")


def _timestamp(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def render_detail(watch: Watch, now: datetime) -> RenderableType:
    """Everything known about ``watch``, as one Rich renderable."""
    endpoint = watch.endpoint
    state = row_state(watch)
    parts: list[RenderableType] = []
    heading = Text.assemble((STATE_TEXT[state], STATE_STYLE[state]), "  ", (endpoint.name, "bold"))
    if watch.state_since is not None:
        heading.append(
            f"  since {_timestamp(watch.state_since)} "
            f"({format_duration((now - watch.state_since).total_seconds())})",
            style="dim",
        )
    parts.append(heading)

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("URL", endpoint.display_url)
    facts.add_row("Interval", f"{watch.interval:g} s")
    facts.add_row("Timeout", f"{watch.timeout:g} s")
    if endpoint.tags:
        facts.add_row("Tags", ", ".join(endpoint.tags))
    if endpoint.headers:
        facts.add_row("Headers", ", ".join(f"{name}: ***" for name in endpoint.headers))
    if endpoint.insecure:
        facts.add_row("TLS", "certificate checks OFF (insecure)")
    facts.add_row("Checks", str(watch.checks))
    parts += [Text(""), facts]

    last = watch.last
    if last is not None:
        result = Table.grid(padding=(0, 2))
        result.add_column(style="bold")
        result.add_column()
        result.add_row(
            "Checked",
            f"{_timestamp(last.checked_at)} "
            f"({format_duration((now - last.checked_at).total_seconds())} ago)",
        )
        result.add_row("Latency", format_latency(last.latency_ms))
        timings = last.timings
        result.add_row(
            "Phases",
            f"connect {format_latency(timings.connect_ms)} · "
            f"handshake {format_latency(timings.handshake_ms)} · "
            f"response {format_latency(timings.response_ms)}",
        )
        if last.error is None:
            result.add_row("Ready", str(last.ready).lower())
            result.add_row("Message", repr(last.message or ""))
        parts += [Text(""), _section("Last check"), result]
        if last.error is not None:
            error = Table.grid(padding=(0, 2))
            error.add_column(style="bold red")
            error.add_column()
            error.add_row("Kind", last.error.kind.value)
            if last.error.phase is not None:
                error.add_row("Phase", last.error.phase.value)
            error.add_row("Detail", last.error.detail)
            if last.error.hint:
                error.add_row("Hint", Text(last.error.hint, style="italic"))
            parts += [Text(""), _section("Error"), error]
        if last.raw is not None:
            parts += [Text(""), _section("Last response"), _pretty_json(last.raw)]
        elif last.meta:
            parts += [Text(""), _section("Meta"), JSON.from_data(dict(last.meta), indent=2)]

    if watch.history:
        history = Table(box=None, padding=(0, 2), header_style="bold", show_edge=False)
        history.add_column("When")
        history.add_column("State")
        history.add_column("Latency", justify="right")
        history.add_column("Message")
        for entry in reversed(watch.history):
            entry_state = RS(entry.state.value)
            history.add_row(
                entry.checked_at.astimezone().strftime("%H:%M:%S"),
                Text(STATE_TEXT[entry_state], style=STATE_STYLE[entry_state]),
                format_latency(entry.latency_ms),
                entry.summary,
            )
        parts += [Text(""), _section(f"History (last {len(watch.history)})"), history]
    return Group(*parts)


def _pretty_json(raw: str) -> RenderableType:
    try:
        return JSON.from_data(json.loads(raw), indent=2)
    except (ValueError, RecursionError):
        return Text(raw)


class DetailScreen(Screen[None]):
    """Shows one endpoint and follows it live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="detail.back"),
        Binding("q", "close", "Back", show=False),
        Binding("r", "recheck", "Recheck", id="detail.recheck", tooltip="Check this endpoint now"),
    ]

    def __init__(self, engine: Engine, name: str, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self.endpoint_name = name
        self.now = now
        self._shown_checks = -1

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
        self.query_one("#detail", Static).update(render_detail(watch, self.now()))

    def action_recheck(self) -> None:
        if self.endpoint_name in self.engine.watches:
            self.engine.recheck(self.endpoint_name)
            self.notify(f"Rechecking {self.endpoint_name}", timeout=2)

    def action_close(self) -> None:
        self.dismiss(None)
