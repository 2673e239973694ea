"""History and hooks in the dashboard, against real processes: a SQLite file reopened by a
second run of the app, a hook script that writes what it got, a flapping local server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from websockets.asyncio.server import ServerConnection

from bidi_tui.config import load_config
from bidi_tui.history import HistoryReader, default_history_path
from bidi_tui.recorders import Recorders
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp
from bidi_tui.ui.screens.detail import DetailScreen
from tests.bidi_servers import Served, bidi_server, success_frame
from tests.scenes import table_lines
from tests.test_untrusted import plain


class Switchable:
    """A BiDi endpoint whose readiness the test sets (or that flips on every check)."""

    def __init__(self) -> None:
        self.ready = True
        self.flapping = False

    async def script(self, connection: ServerConnection, request_id: int) -> None:
        if self.flapping:
            self.ready = not self.ready
        message = "" if self.ready else "Session already started"
        await connection.send(success_frame(self.ready, message)(request_id))


@asynccontextmanager
async def switchable() -> AsyncIterator[tuple[Served, Switchable]]:
    endpoint = Switchable()
    async with bidi_server(endpoint.script) as served:
        yield served, endpoint


def app_for(tmp_path: Path, url: str, *, on_change: tuple[str, ...] = ()) -> BidiTuiApp:
    config_path = tmp_path / "endpoints.toml"
    config_path.write_text(f'[[endpoints]]\nname = "ff"\nurl = "{url}"\n')
    config = load_config(config_path)
    app = BidiTuiApp(config, settings=Settings(cli_interval=3600, cli_timeout=3))
    app.recorders = Recorders.open(config, on_change, report=app.report_problem)
    return app


async def checked(pilot: Pilot[None], app: BidiTuiApp, count: int = 1) -> None:
    for _ in range(200):
        await pilot.pause(0.02)
        watch = app.engine.watches["ff"]
        if watch.checks >= count and watch.activity.value == "waiting":
            break
    app.apply_updates()
    await pilot.pause()


async def test_in_state_since_and_uptime_survive_a_restart(tmp_path: Path) -> None:
    async with switchable() as (served, _):
        first = app_for(tmp_path, served.url)
        async with first.run_test(size=(160, 20)) as pilot:
            await checked(pilot, first)
            since = first.engine.watches["ff"].state_since
            assert since is not None
            await pilot.press("q")
        assert default_history_path().exists()

        second = app_for(tmp_path, served.url)
        async with second.run_test(size=(160, 20)) as pilot:
            await checked(pilot, second)
            assert second.engine.watches["ff"].state_since == since  # not "since now"
            second._refresh_uptimes()
            await pilot.pause(0.3)
            header = table_lines(second)[0]
            assert "UP 24H" in header  # the history's column, shown when wide enough
            (row,) = [line for line in table_lines(second) if " ff " in line]
            assert row.rstrip().endswith("100%")
            await pilot.press("enter")
            assert isinstance(second.screen, DetailScreen)
            shown = plain(second.screen.query_one("#detail", Static).content)
            assert "Uptime (not in error)" in shown and "24 h 100%" in shown
            assert "State changes (last 1)" in shown
    reader = HistoryReader.open(default_history_path())
    assert isinstance(reader, HistoryReader)
    try:  # both runs in one file, one change: the second run found ff as the first left it
        assert [c.to_state.value for c in reader.changes("ff")] == ["ready"]
    finally:
        reader.close()


async def test_a_hook_script_gets_the_change_in_its_environment_and_stdin(
    tmp_path: Path,
) -> None:
    out = tmp_path / "hook.out"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\nenv | grep ^BIDI_ | sort > {out}.env\ncat > {out}.json\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    async with switchable() as (served, endpoint):
        app = app_for(tmp_path, served.url, on_change=(str(script),))
        async with app.run_test(size=(120, 20), notifications=True) as pilot:
            await checked(pilot, app)
            endpoint.ready = False
            await pilot.press("r")  # a recheck, as the operator asks for one
            await checked(pilot, app, count=2)
            await app.recorders.hooks.wait_idle()  # type: ignore[union-attr]
    environment = dict(line.split("=", 1) for line in Path(f"{out}.env").read_text().splitlines())
    assert environment["BIDI_NAME"] == "ff"
    assert environment["BIDI_STATE"] == "not_ready"
    assert environment["BIDI_PREVIOUS_STATE"] == "ready"
    assert environment["BIDI_MESSAGE"] == "Session already started"
    received = json.loads(Path(f"{out}.json").read_text())
    assert received["state"] == "not_ready" and received["previous_state"] == "ready"
    assert os.access(script, os.X_OK)


async def test_a_flapping_endpoint_is_marked_in_its_row(tmp_path: Path) -> None:
    async with switchable() as (served, endpoint):
        endpoint.flapping = True
        app = app_for(tmp_path, served.url)
        async with app.run_test(size=(120, 20)) as pilot:
            await checked(pilot, app)
            for count in range(2, 9):
                await pilot.press("r")
                await checked(pilot, app, count=count)
            (row,) = [line for line in table_lines(app) if " ff " in line]
            assert "↯ flapping" in row


@pytest.mark.parametrize("days", [0])
async def test_history_days_zero_keeps_no_file(tmp_path: Path, days: int) -> None:
    config_path = tmp_path / "endpoints.toml"
    config_path.write_text(f"[defaults]\nhistory_days = {days}\n")
    recorders = Recorders.open(load_config(config_path), report=print)
    assert recorders.history is None and recorders.problems == []
    assert not default_history_path().exists()


async def test_serve_runs_hooks_and_keeps_history_as_the_dashboard_does(tmp_path: Path) -> None:
    out = tmp_path / "hook.env"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\nenv | grep ^BIDI_ | sort > {out}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    async with switchable() as (served, endpoint):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bidi_tui", "serve", "--listen", "none", "--jsonl",
            "--interval", "0.3", "--timeout", "2", "--on-change", str(script),
            f"ff={served.url}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            first = json.loads(await asyncio.wait_for(process.stdout.readline(), 10))
            assert first["state"] == "ready"
            endpoint.ready = False
            for _ in range(100):
                line = json.loads(await asyncio.wait_for(process.stdout.readline(), 10))
                if line["state"] == "not_ready" and out.exists():
                    break
            await asyncio.sleep(0.3)  # the hook's file is written
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 10)
    assert process.returncode == 0
    assert "BIDI_STATE=not_ready" in out.read_text().splitlines()
    reader = HistoryReader.open(default_history_path())
    assert isinstance(reader, HistoryReader)
    try:
        assert [c.to_state.value for c in reader.changes("ff")] == ["not_ready", "ready"]
    finally:
        reader.close()
