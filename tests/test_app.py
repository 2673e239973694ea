"""Pilot tests: every key and dialog of the dashboard, asserting on cells and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Label, Static

from bidi_tui.endpoints import parse_spec
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.ui.screens.confirm import ConfirmScreen
from bidi_tui.ui.screens.detail import DetailScreen
from bidi_tui.ui.screens.endpoint_dialog import EndpointDialog
from bidi_tui.ui.screens.help import HelpScreen
from bidi_tui.view.filtering import SortKey
from bidi_tui.view.rows import RowView
from tests.scenes import (
    make_app,
    names,
    plain,
    row_texts,
    scene_verdicts,
    settle,
    table_lines,
    write_config,
)

SIZE = (120, 30)


async def test_table_shows_each_state(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        rows = row_texts(app)
        assert names(app) == ["ff-1", "ff-2", "cd-1", "cdp", "gone"]
        assert rows["ff-1"]["state"] == "● READY"
        assert rows["ff-2"]["state"] == "◐ NOT READY"
        assert rows["ff-2"]["message"] == "Session already started"
        assert rows["cd-1"]["message"] == "ChromeDriver ready for new sessions."
        assert rows["cdp"]["state"] == "✖ ERROR"
        assert rows["cdp"]["message"].startswith("not_bidi:")
        assert rows["gone"]["message"].startswith("refused:")
        assert rows["ff-1"]["latency"] == "3.0 ms"
        summary = plain(app.query_one("#summary", Static))
        assert "2 ready" in summary and "1 not ready" in summary and "2 error" in summary


async def test_recheck_selected_and_all(config_path: Path) -> None:
    verdicts = scene_verdicts()
    app = make_app(config_path, verdicts)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        verdicts.calls.clear()
        verdicts.by_name["ff-1"] = "busy"
        await pilot.press("r")
        await settle(pilot, app)
        assert verdicts.calls == ["ff-1"]
        assert row_texts(app)["ff-1"]["state"] == "◐ NOT READY"
        verdicts.calls.clear()
        await pilot.press("R")
        await settle(pilot, app)
        await pilot.pause(0.1)
        assert sorted(verdicts.calls) == sorted(["ff-1", "ff-2", "cd-1", "cdp", "gone"])


async def test_state_change_notifies(config_path: Path) -> None:
    verdicts = scene_verdicts()
    app = make_app(config_path, verdicts)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        verdicts.by_name["ff-1"] = "refused"
        await pilot.press("r")
        await settle(pilot, app)
        messages = [n.message for n in app._notifications]
        assert "ff-1: READY → ERROR (refused)" in messages


async def test_toasts_are_one_line_at_the_top_and_cover_no_row(config_path: Path) -> None:
    verdicts = scene_verdicts()
    app = make_app(config_path, verdicts)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        for name in ("ff-1", "cd-1", "ff-2"):  # three changes, three toasts
            verdicts.by_name[name] = "refused"
            app.engine.recheck(name)
        await settle(pilot, app)
        await pilot.pause(0.3)
        toasts = list(app.screen.query("Toast"))
        assert len(toasts) == 3
        first_row = app.table.region.y + 1  # below the table's header line
        for toast in toasts:
            assert toast.region.height == 1, toast.region
            assert toast.region.bottom <= first_row, (toast.region, first_row)
            assert toast.region.x >= 80 // 2 - 1  # the right half: the title and counts show


async def test_add_endpoint_validates_inline_then_adds(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        assert isinstance(app.screen, EndpointDialog)
        await pilot.press(*"localhost", "enter")
        error = app.screen.query_one("#dialog-error", Label)
        assert "no port given" in str(error.content)
        assert isinstance(app.screen, EndpointDialog)
        await pilot.press(*":9300", "enter")
        await settle(pilot, app)
        assert not isinstance(app.screen, EndpointDialog)
        assert names(app)[-1] == "localhost:9300"
        assert app.selected_name == "localhost:9300"
        assert app.dirty
        assert "localhost:9300" not in config_path.read_text()


async def test_add_rejects_a_taken_name(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await pilot.press(*"ff-1=127.0.0.1:9400", "enter")
        assert isinstance(app.screen, EndpointDialog)
        assert "taken" in str(app.screen.query_one("#dialog-error", Label).content)
        await pilot.press("escape")
        assert not isinstance(app.screen, EndpointDialog)
        assert len(names(app)) == 5


async def test_edit_rename_and_save_keeps_comments(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, EndpointDialog)
        name_input = dialog.query_one("#name", Input)
        name_input.value = "firefox-main"
        dialog.query_one("#timeout", Input).value = "2.5"
        await pilot.click("#submit")
        await settle(pilot, app)
        assert names(app)[0] == "firefox-main"
        assert app.engine.watch("firefox-main").timeout == 2.5
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = config_path.read_text()
        assert 'name = "firefox-main"  # the main Firefox' in text
        assert "timeout = 2.5" in text
        assert "# Rack 1 browsers (this comment must survive saves)" in text
        assert "# ChromeDriver on the same box" in text
        assert not app.dirty


async def test_edit_keeps_a_masked_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = write_config(
        tmp_path,
        '[[endpoints]]\nname = "grid"\nurl = "ws://me:s3cret@127.0.0.1:4444/session"\n',
    )
    app = make_app(path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "s3cret" not in str(row_texts(app))
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, EndpointDialog)
        assert dialog.query_one("#spec", Input).value == "ws://me:***@127.0.0.1:4444/session"
        dialog.query_one("#tags", Input).value = "grid"
        await pilot.click("#submit")
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "ws://me:s3cret@127.0.0.1:4444/session" in path.read_text()
        assert app.engine.watch("grid").endpoint.password == "s3cret"


async def test_delete_asks_then_saves(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("down", "d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert "ff-2" in names(app)
        await pilot.press("d")
        await pilot.click("#delete")
        await pilot.pause()
        assert "ff-2" not in names(app)
        assert "ff-2" not in app.engine.watches
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = config_path.read_text()
        assert 'name = "ff-2"' not in text
        assert 'name = "ff-1"  # the main Firefox' in text
        assert "# ChromeDriver on the same box" in text


async def test_pause_and_resume(config_path: Path) -> None:
    verdicts = scene_verdicts()
    app = make_app(config_path, verdicts)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("space")
        await settle(pilot, app)
        assert row_texts(app)["ff-1"]["state"] == "⏸ PAUSED"
        verdicts.calls.clear()
        app.engine.recheck("ff-1")
        await pilot.pause(0.1)
        assert "ff-1" not in verdicts.calls
        await pilot.press("space")
        await settle(pilot, app)
        await pilot.pause(0.1)
        assert "ff-1" in verdicts.calls
        assert row_texts(app)["ff-1"]["state"] == "● READY"
        await pilot.press("P")
        await settle(pilot, app)
        assert {row["state"] for row in row_texts(app).values()} == {"⏸ PAUSED"}
        await pilot.press("P")
        await settle(pilot, app)
        assert "⏸ PAUSED" not in {row["state"] for row in row_texts(app).values()}


async def test_filter_by_text_and_state(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", *"is:error")
        await pilot.pause()
        assert names(app) == ["cdp", "gone"]
        await pilot.press("enter")
        assert app.focused is app.table
        await pilot.press("slash", "ctrl+u", *"firefox")
        await pilot.pause()
        assert names(app) == ["ff-1", "ff-2"]
        await pilot.press("space", *"is:not_ready")
        await pilot.pause()
        assert names(app) == ["ff-2"]
        await pilot.press("escape")
        await pilot.pause()
        assert names(app) == ["ff-1", "ff-2", "cd-1", "cdp", "gone"]
        assert app.query_one("#filter", Input).value == ""


async def test_sort_cycle_and_reverse(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("s")  # state: trouble first
        assert names(app) == ["cdp", "gone", "ff-2", "ff-1", "cd-1"]
        await pilot.press("s")  # name
        assert names(app) == ["cd-1", "cdp", "ff-1", "ff-2", "gone"]
        await pilot.press("S")
        assert names(app) == ["gone", "ff-2", "ff-1", "cdp", "cd-1"]
        assert "sort: name ▼" in plain(app.query_one("#summary", Static))


async def test_sort_keeps_the_selected_endpoint(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("down", "down")
        assert app.selected_name == "cd-1"
        await pilot.press("s", "s")
        assert app.selected_name == "cd-1"


async def test_detail_view_shows_meta_error_and_history(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("down", "down", "enter")
        assert isinstance(app.screen, DetailScreen)
        text = plain(app.screen.query_one("#detail", Static))
        assert "cd-1" in text and "ws://127.0.0.1:9515/session" in text
        assert "ChromeDriver ready for new sessions." in text
        assert "History (last 1)" in text
        await pilot.press("escape")
        await pilot.press("down", "enter")
        text = plain(app.screen.query_one("#detail", Static))
        assert "not_bidi" in text and "use ChromeDriver" in text


async def test_help_lists_every_key(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(plain(w) for w in app.screen.query(Static))
        for description in ("Check every endpoint now", "Pause or resume all", "Reverse the sort"):
            assert description in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_quit_with_unsaved_changes_asks(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    before = config_path.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("d")
        await pilot.click("#delete")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert app.is_running
        await pilot.press("q")
        await pilot.click("#discard")
        await pilot.pause()
    assert not app.is_running
    assert config_path.read_text() == before


async def test_quit_save_and_quit_writes(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("d")
        await pilot.click("#delete")
        await pilot.press("q")
        await pilot.click("#save")
        await pilot.pause()
    assert 'name = "ff-1"' not in config_path.read_text()


async def test_cli_endpoints_are_watched_not_saved_unless_written(config_path: Path) -> None:
    extra = parse_spec("extra=127.0.0.1:9999")
    app = make_app(config_path, scene_verdicts(), extra=extra)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert names(app)[-1] == "extra"
        assert not app.dirty
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert 'name = "extra"' in config_path.read_text()


async def test_save_error_is_shown_and_file_untouched(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("d")
        await pilot.click("#delete")
        config_path.write_text(config_path.read_text() + "\n# edited elsewhere\n")
        edited = config_path.read_text()
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("changed on disk" in n.message for n in app._notifications)
        assert config_path.read_text() == edited
        assert app.dirty


async def test_empty_config_explains_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    app = make_app(tmp_path / "none.toml", scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        empty = app.query_one("#empty", Static)
        assert empty.display
        assert not app.table.display
        assert "--demo" in plain(empty)
        await pilot.press("a", *"127.0.0.1:9222", "enter")
        await settle(pilot, app)
        assert app.table.display and not empty.display
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert 'url = "ws://127.0.0.1:9222/session"' in (tmp_path / "none.toml").read_text()


async def test_narrow_terminal_drops_optional_columns(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        header = table_lines(app)[0]
        assert header.split() == ["STATE", "NAME", "MESSAGE", "LATENCY", "CHECKED"]
        await pilot.resize_terminal(160, 30)  # type: ignore[attr-defined]
        await pilot.pause()
        header = table_lines(app)[0]
        assert "URL" in header and "TREND" in header and "IN STATE" in header
        assert row_texts(app)["ff-1"]["state"] == "● READY"


async def test_demo_mode_watches_the_demo_farm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    from bidi_tui.config import load_config

    app = BidiTuiApp(
        load_config(tmp_path / "none.toml", missing_ok=True),
        demo=True,
        settings=Settings(cli_timeout=1),
    )
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if sum(w.last is not None for w in app.engine.watches.values()) >= 12:
                break
        app.apply_updates()
        rows = row_texts(app)
        assert len(rows) == 13
        assert rows["firefox-1"]["state"] == "● READY"
        assert rows["chrome-5"]["message"].startswith("refused")
        assert rows["chromium-1"]["message"].startswith("not_bidi")
        await pilot.press("w")
        await app.workers.wait_for_complete()
        assert not (tmp_path / "none.toml").exists()


async def test_off_screen_rows_are_drawn_when_scrolled_into_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    many = "".join(
        f'[[endpoints]]\nname = "b-{i:02d}"\nurl = "127.0.0.1:{9000 + i}"\n\n' for i in range(60)
    )
    verdicts = scene_verdicts()
    app = make_app(write_config(tmp_path, many), verdicts)
    async with app.run_test(size=(120, 20)) as pilot:
        await settle(pilot, app)
        assert not any("b-59" in line for line in table_lines(app))  # below the screen
        await pilot.press("G")
        await pilot.pause(0.1)
        assert app.selected_name == "b-59"
        (line,) = [line for line in table_lines(app) if "b-59" in line]
        assert line.split()[:3] == ["▌●", "READY", "b-59"]  # ▌ marks the selected row
        await pilot.press("g")
        await pilot.pause(0.1)
        verdicts.by_name["b-59"] = "busy"
        app.engine.recheck("b-59")
        await settle(pilot, app)
        await pilot.pause(0.1)
        app.apply_updates()
        assert app.engine.watch("b-59").last.state.value == "not_ready"  # type: ignore[union-attr]
        await pilot.press("ctrl+end")
        await pilot.pause(0.1)
        (line,) = [line for line in table_lines(app) if "b-59" in line]
        assert line.split()[:4] == ["▌◐", "NOT", "READY", "b-59"]


async def test_updates_compute_only_the_rows_on_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,000 rows, every one changed: only the ~15 on screen get a new view (the Line API
    table builds nothing for rows that are not drawn)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    many = "".join(
        f'[[endpoints]]\nname = "b-{i:04d}"\nurl = "127.0.0.1:{9000 + i}"\n\n' for i in range(2000)
    )
    app = make_app(write_config(tmp_path, many), scene_verdicts())
    async with app.run_test(size=(120, 20)) as pilot:
        await settle(pilot, app)
        computed: list[str] = []
        original = app.table._view_of

        def counting(name: str) -> RowView:
            computed.append(name)
            return original(name)

        app.table._view_of = counting
        app.engine.recheck_all()
        await settle(pilot, app)
        await pilot.pause(0.3)
        app.apply_updates()
        await pilot.pause()
        shown = app.table.visible_names()
        assert len(shown) == app.table.size.height - 1
        assert computed and set(computed) <= set(shown)


async def test_mouse_click_selects_then_opens_and_a_header_click_sorts(config_path: Path) -> None:
    app = make_app(config_path, scene_verdicts())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.table
        await pilot.click(table, offset=(20, 3))  # the third row: cd-1
        assert app.selected_name == "cd-1"
        assert not isinstance(app.screen, DetailScreen)
        await pilot.click(table, offset=(20, 3))  # again on the selected row: its details
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")
        header = table_lines(app)[0]
        assert "▲" not in header and "▼" not in header  # config order: no arrow
        name_x = header.index("NAME")
        await pilot.click(table, offset=(name_x, 0))
        assert app.order.sort_key is SortKey.NAME and not app.order.reverse
        assert "NAME ▲" in table_lines(app)[0]
        assert names(app) == ["cd-1", "cdp", "ff-1", "ff-2", "gone"]
        await pilot.click(table, offset=(name_x, 0))  # the same header again: reversed
        assert "NAME ▼" in table_lines(app)[0]
        assert names(app)[0] == "gone"
