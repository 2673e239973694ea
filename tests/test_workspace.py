"""The workspace's list of watched endpoints, without the UI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bidi_tui.config import Config
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import Engine
from bidi_tui.workspace import SAVE_SWITCH_INTERVAL, SaveResult, Workspace, WorkspaceError


def endpoints(*specs: str) -> list[Endpoint]:
    return [endpoint for spec in specs for endpoint in parse_spec(spec)]


def test_adding_a_url_that_is_watched_already_warns_and_names_the_first_with_it(
    tmp_path: Path,
) -> None:
    workspace = Workspace(Config(path=tmp_path / "endpoints.toml"), Engine())
    workspace.add(endpoints("firefox=127.0.0.1:9222"))

    warnings = workspace.add(
        endpoints(
            "again=127.0.0.1:9222",
            "chrome=127.0.0.1:9515",
            "chrome-too=127.0.0.1:9515",
            "other=127.0.0.1:9516",
        )
    )

    assert warnings == [
        "again has the same URL as firefox: it is checked twice",
        "chrome-too has the same URL as chrome: it is checked twice",
    ]
    assert workspace.names() == ["firefox", "again", "chrome", "chrome-too", "other"]


def test_adding_a_name_twice_in_one_batch_is_refused_and_nothing_is_added(
    tmp_path: Path,
) -> None:
    workspace = Workspace(Config(path=tmp_path / "endpoints.toml"), Engine())
    workspace.add(endpoints("firefox=127.0.0.1:9222"))

    with pytest.raises(WorkspaceError, match="'chrome' is watched already"):
        workspace.add(endpoints("chrome=127.0.0.1:9515", "other=127.0.0.1:9516",
                                "chrome=127.0.0.1:9517"))  # fmt: skip
    with pytest.raises(WorkspaceError, match="'firefox' is watched already"):
        workspace.add(endpoints("chrome=127.0.0.1:9515", "firefox=127.0.0.1:9223"))

    assert workspace.names() == ["firefox"]


async def test_a_save_runs_with_a_short_switch_interval_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = Workspace(Config(path=tmp_path / "endpoints.toml"), Engine())
    workspace.add(endpoints("firefox=127.0.0.1:9222"))
    seen: list[float] = []
    write = workspace._write

    def recording_write(*args: Any) -> SaveResult:
        seen.append(sys.getswitchinterval())  # in the save's thread
        return write(*args)

    monkeypatch.setattr(workspace, "_write", recording_write)
    before = sys.getswitchinterval()
    await workspace.save()
    assert seen == [SAVE_SWITCH_INTERVAL] and before > SAVE_SWITCH_INTERVAL
    assert sys.getswitchinterval() == before
    assert "firefox" in (tmp_path / "endpoints.toml").read_text()
