"""Session-wide fixtures: each real browser starts once per run, on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browsers import (
    RunningBrowser,
    running_chromedriver,
    running_chromium,
    running_firefox,
)
from tests.scenes import write_config


@pytest.fixture(scope="session")
def firefox() -> Iterator[RunningBrowser]:
    with running_firefox() as browser:
        yield browser


@pytest.fixture(scope="session")
def chromedriver() -> Iterator[RunningBrowser]:
    with running_chromedriver() as browser:
        yield browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[RunningBrowser]:
    with running_chromium() as browser:
        yield browser


@pytest.fixture(autouse=True)
def _history_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test's history file is its own, never the real one in ~/.local/state."""
    monkeypatch.setenv("BIDI_TUI_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scenes' config file (tests/scenes.py), in a config folder of the test's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return write_config(tmp_path)
