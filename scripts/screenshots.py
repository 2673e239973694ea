"""Regenerate screenshots/*.svg from the demo farm, with the clock pinned.

Run: python scripts/screenshots.py

It starts the demo farm, checks every endpoint a dozen times for real (so latencies and
answers are real), pins those results to a fixed wall clock, then drives the dashboard
and saves one SVG per view. Nothing here is drawn by hand.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bidi_tui.checks import check_all
from bidi_tui.config import Config
from bidi_tui.demo import DemoFarm
from bidi_tui.engine import Engine
from bidi_tui.model import ProbeResult
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
FROZEN_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
ROUNDS = 12
SIZE = (120, 30)

# (file name, keys to press first, terminal size)
VIEWS: list[tuple[str, list[str], tuple[int, int]]] = [
    ("dashboard", [], SIZE),
    ("dashboard-80x24", [], (80, 24)),
    ("detail", ["down"] * 6 + ["enter"], (100, 44)),
    ("add-dialog", ["a", *"127.0.0.1:9222-9231"], SIZE),
    ("filter", ["slash", *"is:error is:not_ready"], SIZE),
    ("help", ["question_mark"], (100, 40)),
    ("grouped", ["b"], SIZE),
]


async def pinned_rounds(farm: DemoFarm) -> list[list[ProbeResult]]:
    """ROUNDS real checks of every endpoint, dated 5 s apart up to the frozen clock."""
    rounds = []
    for round_index in range(ROUNDS):
        at = FROZEN_NOW - timedelta(seconds=5 * (ROUNDS - 1 - round_index))
        results = await check_all(farm.endpoints, settings=Settings(cli_timeout=0.5))
        rounds.append([replace(result, checked_at=at) for result in results])
    return rounds


async def shoot(
    name: str,
    keys: list[str],
    size: tuple[int, int],
    farm: DemoFarm,
    rounds: list[list[ProbeResult]],
) -> None:
    config = Config(path=Path("~/.config/bidi-tui/endpoints.toml"))
    engine = Engine(settings=Settings(default_interval=5, default_timeout=0.5))
    app = BidiTuiApp(
        config, farm.endpoints, engine=engine, start_engine=False, now=lambda: FROZEN_NOW
    )
    for results in rounds:
        for result in results:
            engine.record_result(result.endpoint.name, result)
    async with app.run_test(size=size) as pilot:
        app.apply_updates()
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.3)
        app.save_screenshot(f"{name}.svg", path=str(OUT))
    print(f"wrote screenshots/{name}.svg")


async def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    OUT.mkdir(exist_ok=True)
    # The farm's busy spells follow its clock: pin it so the same ones are busy each run.
    async with DemoFarm.start(seed=7, clock=lambda: 40.0) as farm:
        farm.set_busy("firefox-4", True)  # as if a test run held a session there
        farm.set_busy("chrome-4", True)
        for name, keys, size in VIEWS:
            await shoot(name, keys, size, farm, await pinned_rounds(farm))


if __name__ == "__main__":
    asyncio.run(main())
