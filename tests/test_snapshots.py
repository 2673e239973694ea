"""SVG snapshots of the main views, from pinned results and a frozen clock.

Update after a deliberate UI change with: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from bidi_tui.ui.app import BidiTuiApp
from tests.scenes import make_app, pin_history, scene_verdicts, write_config

SnapCompare = Callable[..., bool]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The detail view shows local times: pin the zone, and restore it after."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc: None) -> BidiTuiApp:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    # A fixed path: the empty-state text and the sub-title show it.
    monkeypatch.setattr(
        "bidi_tui.ui.app.BidiTuiApp._sub_title", lambda self: "~/.config/bidi-tui/endpoints.toml"
    )
    verdicts = scene_verdicts()
    app = make_app(write_config(tmp_path), verdicts, start_engine=False)
    pin_history(app, verdicts)
    return app


async def _settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, BidiTuiApp)
    app.apply_updates()
    await pilot.pause()


def test_main_table(snap_compare: SnapCompare, scene: BidiTuiApp) -> None:
    assert snap_compare(scene, terminal_size=(130, 20), run_before=_settle)


def test_main_table_at_80x24(snap_compare: SnapCompare, scene: BidiTuiApp) -> None:
    assert snap_compare(scene, terminal_size=(80, 24), run_before=_settle)


def test_detail_view(snap_compare: SnapCompare, scene: BidiTuiApp) -> None:
    assert snap_compare(
        scene, press=["down", "down", "enter"], terminal_size=(100, 40), run_before=_settle
    )


def test_add_dialog_with_an_error(snap_compare: SnapCompare, scene: BidiTuiApp) -> None:
    assert snap_compare(
        scene,
        press=["a", *"localhost", "enter"],
        terminal_size=(100, 30),
        run_before=_settle,
    )


def test_filter_in_use(snap_compare: SnapCompare, scene: BidiTuiApp) -> None:
    assert snap_compare(
        scene, press=["slash", *"is:error"], terminal_size=(130, 20), run_before=_settle
    )


def test_help_screen(snap_compare: SnapCompare, scene: BidiTuiApp) -> None:
    assert snap_compare(scene, press=["question_mark"], terminal_size=(100, 40))
