"""The dashboard by keyboard alone, as an operator over SSH uses it: every test presses keys
(Tab, letters, Escape, ctrl+p) and reads what the screens show, never calls an action."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from bidi_tui.config import load_config
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.ui.screens.confirm import ConfirmScreen
from bidi_tui.ui.screens.endpoint_dialog import EndpointDialog
from bidi_tui.view.filtering import SortKey
from tests.scenes import (
    make_app,
    names,
    palette_prompts,
    row_texts,
    scene_verdicts,
    settle,
)

SIZE = (120, 30)


def focused_id(app: BidiTuiApp) -> str | None:
    return None if app.focused is None else app.focused.id


async def test_tab_walks_every_field_and_button_of_the_add_dialog(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        assert isinstance(app.screen, EndpointDialog)
        order = [focused_id(app)]
        for _ in range(7):
            await pilot.press("tab")
            order.append(focused_id(app))
        assert order == [
            "spec", "name", "timeout", "interval", "tags", "insecure", "submit", "cancel"
        ]  # fmt: skip
        await pilot.press("shift+tab", "shift+tab")
        assert focused_id(app) == "insecure"
        # Type into fields reached by Tab alone, then Enter from the Name field submits.
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab", "shift+tab")
        assert focused_id(app) == "spec"
        await pilot.press(*"127.0.0.1:9400", "tab", *"lab-1", "tab", *"2", "enter")
        await settle(pilot, app)
        assert not isinstance(app.screen, EndpointDialog)
        assert names(app)[-1] == "lab-1"
        assert app.engine.watch("lab-1").timeout == 2.0


async def test_the_tls_box_shows_its_state_without_colour(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a", *"wss://127.0.0.1:9443/session")
        for _ in range(5):
            await pilot.press("tab")
        box = app.screen.query_one("#insecure", Checkbox)
        assert focused_id(app) == "insecure"
        assert "✓" not in box.render().plain  # type: ignore[union-attr]
        await pilot.press("space")
        assert box.value and "✓" in box.render().plain  # type: ignore[union-attr]
        await pilot.press("enter")  # Enter toggles the focused box, as in every form
        await pilot.press("space", "tab", "enter")  # on, then Tab to Add and press it
        await settle(pilot, app)
        assert app.workspace.get("127.0.0.1:9443").insecure


async def test_tab_in_the_edit_dialog_goes_from_endpoint_to_name(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        assert focused_id(app) == "spec"
        await pilot.press("tab")
        assert focused_id(app) == "name"
        await pilot.press("escape")
        assert not isinstance(app.screen, EndpointDialog)


async def test_the_delete_question_by_keyboard(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert focused_id(app) == "delete"
        await pilot.press("tab")
        assert focused_id(app) == "cancel"
        await pilot.press("enter")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "ff-1" in names(app)
        await pilot.press("d", "escape")
        assert "ff-1" in names(app)
        await pilot.press("d", "d")  # the underlined letter
        await pilot.pause()
        assert "ff-1" not in names(app)


async def open_quit_question(pilot: Pilot[None], app: BidiTuiApp) -> None:
    await pilot.press("a", *"127.0.0.1:9500", "enter")
    await settle(pilot, app)
    assert app.dirty
    await pilot.press("q")
    assert isinstance(app.screen, ConfirmScreen)


async def test_the_unsaved_question_offers_save_quit_cancel_in_that_order(
    config_path: Path,
) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await open_quit_question(pilot, app)
        order = [focused_id(app)]
        for _ in range(2):
            await pilot.press("tab")
            order.append(focused_id(app))
        assert order == ["save", "discard", "cancel"]
        labels = [str(button.label) for button in app.screen.query("Button")]
        assert labels == ["Save and quit", "Quit without saving", "Cancel"]
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("q", "c")  # c: Cancel
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("ctrl+c")  # ctrl+c asks the same question, once
        await pilot.press("ctrl+c")
        assert isinstance(app.screen, ConfirmScreen)
        assert len(app.screen_stack) == 2
        await pilot.press("s")  # s: Save and quit
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert not app.is_running
    assert "127.0.0.1:9500" in config_path.read_text()


async def test_quit_without_saving_by_its_letter(config_path: Path) -> None:
    before = config_path.read_text()
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await open_quit_question(pilot, app)
        await pilot.press("w")  # w: Quit without saving (the underlined letter)
        await pilot.pause()
    assert not app.is_running
    assert config_path.read_text() == before


async def test_enter_on_the_unsaved_question_saves_and_quits(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await open_quit_question(pilot, app)
        await pilot.press("enter")  # the default, focused choice
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert not app.is_running
    assert "127.0.0.1:9500" in config_path.read_text()


async def test_the_demo_farm_quits_at_once_after_an_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config(tmp_path / "none.toml", missing_ok=True)
    app = BidiTuiApp(config, demo=True, settings=Settings(cli_timeout=1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        await pilot.press("a", *"127.0.0.1:9600", "enter")
        await pilot.pause()
        assert "127.0.0.1:9600" in app.workspace
        await pilot.press("d", "d")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running
    assert not (tmp_path / "none.toml").exists()


async def test_escape_closes_an_empty_filter_and_q_then_quits(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        assert box.has_focus and box.has_class("visible")
        await pilot.press("escape")
        assert not box.has_class("visible") and not box.has_focus
        assert app.table.has_focus
        await pilot.press("slash", *"ff", "escape")  # typed: one Escape closes and clears
        assert not box.has_class("visible") and box.value == ""
        assert len(names(app)) == 5
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_j_and_k_move_the_cursor(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j")
        assert app.selected_name == "cd-1"
        await pilot.press("k")
        assert app.selected_name == "ff-2"
        await pilot.press("G")
        assert app.selected_name == "gone"
        await pilot.press("g")
        assert app.selected_name == "ff-1"


async def test_the_palette_knows_the_apps_commands(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        # Opened with nothing typed, it offers our actions beside Textual's.
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        listed = app.screen.query_one(CommandList)
        shown = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
        assert any("Check the selected endpoint now" in prompt for prompt in shown)
        assert any("Sort by latency" in prompt for prompt in shown)
        assert any("Show only is:error" in prompt for prompt in shown)
        await pilot.press("escape")

        prompts = await palette_prompts(pilot, app, "sort latency rev")
        assert prompts and "Sort by latency, reversed" in prompts[0]
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, CommandPalette)
        assert (app.order.sort_key, app.order.reverse) == (SortKey.LATENCY, True)


async def test_the_palette_goes_to_an_endpoint_by_name_or_tag(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        prompts = await palette_prompts(pilot, app, "go to cd1")
        assert "Go to cd-1" in prompts[0]
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected_name == "cd-1"
        prompts = await palette_prompts(pilot, app, "go firefox")  # ff-1's tag
        assert any(prompt.startswith("Go to ff-1") for prompt in prompts)


async def test_the_palette_applies_a_state_filter(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await palette_prompts(pilot, app, "only is:error")
        await pilot.press("enter")
        await pilot.pause()
        assert set(row_texts(app)) == {"cdp", "gone"}
        await pilot.press("escape")
        assert len(names(app)) == 5


async def test_adding_a_url_that_is_watched_already_warns(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a", *"twin=127.0.0.1:9222", "enter")  # ff-1's URL
        await settle(pilot, app)
        warnings = [n.message for n in app._notifications if n.severity == "warning"]
        assert "twin has the same URL as ff-1: it is checked twice" in warnings
        assert "twin" in names(app)
