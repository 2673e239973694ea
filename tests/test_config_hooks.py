"""The config keys for history and hooks: ``history_days``, ``on_change`` in ``[defaults]``
and per endpoint, their errors, and edits that keep ``on_change`` in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bidi_tui.config import ConfigError, load_config
from bidi_tui.config.schema import DEFAULT_HISTORY_DAYS
from bidi_tui.endpoints import parse_spec
from bidi_tui.engine import Engine
from bidi_tui.workspace import Workspace


def error(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "endpoints.toml"


def test_defaults_without_the_keys(cfg: Path) -> None:
    cfg.write_text('[[endpoints]]\nurl = "127.0.0.1:9222"\n')
    config = load_config(cfg)
    assert config.defaults.history_days == DEFAULT_HISTORY_DAYS == 30
    assert config.defaults.on_change == ()
    assert config.endpoints[0].on_change is None
    assert config.warnings == []


def test_history_days_and_hooks_are_read(cfg: Path) -> None:
    cfg.write_text(
        "[defaults]\n"
        "history_days = 0\n"
        "on_change = ['notify-send bidi-tui', \"logger -t 'bidi tui'\"]\n"
        "[[endpoints]]\n"
        "name = 'rack'\n"
        "url = '127.0.0.1:9222-9223'\n"
        "on_change = '/usr/local/bin/page --farm'\n"
        "[[endpoints]]\n"
        "url = '127.0.0.1:9515'\n"
        "on_change = []\n"
    )
    config = load_config(cfg)
    assert config.warnings == []
    assert config.defaults.history_days == 0
    assert config.defaults.on_change == ("notify-send bidi-tui", "logger -t 'bidi tui'")
    rack1, rack2, chrome = config.endpoints
    assert rack1.on_change == rack2.on_change == ("/usr/local/bin/page --farm",)
    assert chrome.on_change == ()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("history_days = -1", "'history_days' must be a whole number of days from 0"),
        ("history_days = 2.5", "from 0 (history off) to 3650, got 2.5"),
        ("history_days = true", "got True"),
        ("history_days = 100000", "to 3650, got 100000"),
        ("on_change = 5", "'on_change' must be a list of commands (strings), e.g. on_change ="),
        ("on_change = ['a', 1]", "'on_change' must be a list of commands"),
        ("on_change = ['']", "'on_change': a command is empty; give a program"),
        ("on_change = ['notify \"unclosed']", "cannot split 'notify \"unclosed' into words"),
    ],
)
def test_bad_defaults_name_the_file_line_and_key(cfg: Path, line: str, expected: str) -> None:
    message = error(cfg, f"# farm\n[defaults]\n{line}\n")
    assert message.startswith(f"{cfg}:2: ")
    assert expected in message


def test_bad_endpoint_hook_names_the_endpoint(cfg: Path) -> None:
    message = error(cfg, "[[endpoints]]\nurl = '127.0.0.1:9222'\non_change = [\"x 'y\"]\n")
    assert message.startswith(f"{cfg}:1: endpoint #1: 'on_change': cannot split")


async def test_an_edit_in_the_dashboard_keeps_the_endpoints_hooks(cfg: Path) -> None:
    cfg.write_text(
        "[[endpoints]]\n"
        "name = 'ff'\n"
        "url = '127.0.0.1:9222'\n"
        "on_change = ['page ff']  # the on-call\n"
        "[[endpoints]]\n"
        "name = 'range'\n"
        "url = '127.0.0.1:9300-9302'\n"
        "on_change = ['page range']\n"
    )
    config = load_config(cfg)
    workspace = Workspace(config, Engine())
    # As the edit dialog builds it: from the spec alone, without hooks.
    (edited,) = parse_spec("ff-renamed=127.0.0.1:9333", interval=10)
    workspace.replace("ff", edited)
    (middle,) = parse_spec("range-2=127.0.0.1:9400")
    workspace.replace("range-2", middle)
    assert workspace.engine.watch("ff-renamed").endpoint.on_change == ("page ff",)
    # Saving the split range keeps its hooks on every piece.
    await workspace.save()
    reloaded = load_config(cfg)
    assert {e.name: e.on_change for e in reloaded.endpoints} == {
        "ff-renamed": ("page ff",),
        "range-1": ("page range",),
        "range-2": ("page range",),
        "range-3": ("page range",),
    }
    assert "# the on-call" in cfg.read_text()


async def test_a_new_endpoint_saved_has_no_on_change_key(cfg: Path) -> None:
    cfg.write_text("[defaults]\non_change = ['x']\n")
    config = load_config(cfg)
    workspace = Workspace(config, Engine())
    workspace.add(parse_spec("new=127.0.0.1:9222"))
    await workspace.save()
    assert "on_change" not in cfg.read_text().split("[[endpoints]]")[1]
    assert load_config(cfg).endpoints[0].on_change is None
