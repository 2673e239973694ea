"""Deterministic dashboard scenes: endpoints with pinned results and a frozen clock.

Pilot and snapshot tests build the app from these so that what they assert (and what
the snapshots show) never depends on timing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Static

from bidi_tui.config import load_config
from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import Engine
from bidi_tui.model import ErrorKind, Phase, PhaseTimings, ProbeError, ProbeResult, State
from bidi_tui.probe import HeldConnection
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp

FROZEN_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)

CONFIG_TEXT = """\
# Rack 1 browsers (this comment must survive saves)
[defaults]
interval = 5
timeout = 5

[[endpoints]]
name = "ff-1"  # the main Firefox
url = "ws://127.0.0.1:9222/session"
tags = ["firefox"]

[[endpoints]]
name = "ff-2"
url = "ws://127.0.0.1:9223/session"
tags = ["firefox"]

# ChromeDriver on the same box
[[endpoints]]
name = "cd-1"
url = "ws://127.0.0.1:9515/session"
tags = ["chrome"]

[[endpoints]]
name = "cdp"
url = "ws://127.0.0.1:9333/devtools/browser/abc"

[[endpoints]]
name = "gone"
url = "ws://127.0.0.1:1/session"
"""

CHROME_META: dict[str, Any] = {
    "build": {"version": "156.0.8078.108"},
    "os": {"arch": "x86_64", "name": "Linux", "version": "6.18"},
}


def ready(endpoint: Endpoint, at: datetime, latency: float, message: str = "") -> ProbeResult:
    meta = CHROME_META if "ChromeDriver" in message else {}
    answer = {"type": "success", "id": 1, "result": {"ready": True, "message": message, **meta}}
    return ProbeResult(
        endpoint=endpoint,
        state=State.READY,
        checked_at=at,
        elapsed_ms=latency,
        ready=True,
        message=message,
        meta=meta,
        latency_ms=latency,
        timings=PhaseTimings(latency * 0.3, latency * 0.5, latency * 0.2),
        raw=json.dumps(answer),
    )


def not_ready(endpoint: Endpoint, at: datetime, latency: float, message: str) -> ProbeResult:
    return ProbeResult(
        endpoint=endpoint,
        state=State.NOT_READY,
        checked_at=at,
        elapsed_ms=latency,
        ready=False,
        message=message,
        latency_ms=latency,
        timings=PhaseTimings(latency * 0.3, latency * 0.5, latency * 0.2),
    )


def failed(
    endpoint: Endpoint, at: datetime, kind: ErrorKind, detail: str, hint: str | None = None
) -> ProbeResult:
    return ProbeResult(
        endpoint=endpoint,
        state=State.ERROR,
        checked_at=at,
        elapsed_ms=1.0,
        error=ProbeError(kind, detail, hint, Phase.CONNECT),
    )


@dataclass
class Verdicts:
    """What the fake probe answers for each endpoint name; tests change it mid-run."""

    by_name: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def result(self, endpoint: Endpoint, at: datetime) -> ProbeResult:
        verdict = self.by_name.get(endpoint.name, "ready")
        if verdict == "ready":
            message = "ChromeDriver ready for new sessions." if "cd" in endpoint.name else ""
            return ready(endpoint, at, 3.0, message)
        if verdict == "busy":
            return not_ready(endpoint, at, 4.0, "Session already started")
        if verdict == "cdp":
            return failed(
                endpoint,
                at,
                ErrorKind.NOT_BIDI,
                "answered in CDP, not BiDi: 'session.status' wasn't found",
                "use ChromeDriver",
            )
        return failed(
            endpoint, at, ErrorKind.REFUSED, "connection refused on port 1", "nothing listens"
        )


def write_config(tmp_path: Path, text: str = CONFIG_TEXT) -> Path:
    path = tmp_path / "bidi-tui" / "endpoints.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def scene_verdicts() -> Verdicts:
    return Verdicts({"ff-1": "ready", "ff-2": "busy", "cd-1": "ready", "cdp": "cdp", "gone": "x"})


def make_app(
    config_path: Path,
    verdicts: Verdicts,
    *,
    extra: list[Endpoint] | None = None,
    start_engine: bool = True,
) -> BidiTuiApp:
    """An app whose checks answer from ``verdicts`` at once, with the wall clock frozen."""
    config = load_config(config_path, missing_ok=True)

    async def fake_probe(
        endpoint: Endpoint, timeout: float, held: HeldConnection | None
    ) -> ProbeResult:
        verdicts.calls.append(endpoint.name)
        return verdicts.result(endpoint, FROZEN_NOW)

    engine = Engine(
        probe_function=fake_probe,
        jitter=0.0,
        first_round_spread=0.0,
        settings=Settings(default_interval=3600, default_timeout=5),
    )
    return BidiTuiApp(
        config,
        extra or [],
        start_engine=start_engine,
        now=lambda: FROZEN_NOW,
        engine=engine,
    )


def pin_history(app: BidiTuiApp, verdicts: Verdicts, rounds: int = 12) -> None:
    """Record ``rounds`` past checks per endpoint, 5 s apart, ending at the frozen now."""
    for index in range(rounds):
        at = FROZEN_NOW - timedelta(seconds=5 * (rounds - 1 - index))
        for name, watch in app.engine.watches.items():
            result = verdicts.result(watch.endpoint, at)
            if result.latency_ms is not None:
                latency = 2.0 + (index * 7 + len(name) * 3) % 20
                result = (
                    ready(watch.endpoint, at, latency, result.message or "")
                    if (result.state is State.READY)
                    else result
                )
            app.engine.record_result(name, result)


def cells(app: BidiTuiApp) -> Iterator[tuple[str, dict[str, str]]]:
    """(endpoint name, {column key: its text}) for every row in display order, for the
    columns the table shows now."""
    table = app.table
    for name in table.names:
        view = table.row_view(name)
        yield name, {column.key: column.text(view) for column, _ in table.layout_spec.columns}


def row_texts(app: BidiTuiApp) -> dict[str, dict[str, str]]:
    return dict(cells(app))


def plain(widget: Static) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def names(app: BidiTuiApp) -> list[str]:
    return [name for name, _ in cells(app)]


def table_lines(app: BidiTuiApp) -> list[str]:
    """The endpoint table's lines as they are on screen now (header first)."""
    table = app.table
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def settle(pilot: Pilot[None], app: BidiTuiApp) -> None:
    """Let the engine's round finish and the table catch up."""
    for _ in range(50):
        await pilot.pause(0.02)
        if all(w.last is not None for w in app.engine.watches.values() if not w.paused):
            break
    app.apply_updates()
    await pilot.pause()


async def palette_prompts(pilot: Pilot[None], app: BidiTuiApp, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    assert isinstance(app.screen, CommandPalette)
    await pilot.press(*query)
    for _ in range(40):
        await pilot.pause(0.05)
        results = app.screen.query_one(CommandList)
        if results.option_count:
            break
    return [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]
