"""Port ranges edited one endpoint at a time, and the blank lines between tables: each case
asserts the whole file text, comments included."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidi_tui.config import Config, ConfigEditor, ConfigError, load_config, save_config
from bidi_tui.endpoints import Endpoint, parse_spec

HEAD = """\
# my farm
[defaults]
interval = 5

[[endpoints]]
name = "ff-1"
url = "ws://127.0.0.1:9222/session"
"""

RACK = """
# rack two
[[endpoints]]
name = "rack2"
url = "127.0.0.1:21223-21232"      # ten Firefoxes
interval = 10
"""

TAIL = """
# the last one
[[endpoints]]
name = "last"
url = "h:1"
"""

FILE = HEAD + RACK + TAIL
RACK_NAMES = [f"rack2-{n}" for n in range(1, 11)]


def names(config: Config) -> list[str]:
    return [e.name for e in config.endpoints]


def by_name(config: Config, name: str) -> Endpoint:
    (endpoint,) = [e for e in config.endpoints if e.name == name]
    return endpoint


def one(spec: str) -> Endpoint:
    (endpoint,) = parse_spec(spec)
    return endpoint


def edited(path: Path, text: str, *removals: str) -> str:
    """The file's text after deleting ``removals`` one by one, saving after each."""
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    for name in removals:
        ConfigEditor(config).remove(name)
        save_config(config)
    return path.read_text(encoding="utf-8")


def assert_reloads_as(path: Path, config_names: list[str]) -> Config:
    reloaded = load_config(path)
    assert names(reloaded) == config_names
    assert reloaded.warnings == []
    return reloaded


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "endpoints.toml"


# --- deleting one endpoint of a range --------------------------------------------------------


def test_deleting_the_last_of_a_range_shortens_it(cfg: Path) -> None:
    text = edited(cfg, FILE, "rack2-10")
    assert text == FILE.replace("21223-21232", "21223-21231")
    assert_reloads_as(cfg, ["ff-1", *RACK_NAMES[:9], "last"])


def test_deleting_the_first_of_a_range_keeps_the_other_names(cfg: Path) -> None:
    text = edited(cfg, FILE, "rack2-1")
    assert text == FILE.replace("21223-21232", "21224-21232").replace(
        "interval = 10\n", "interval = 10\nfirst_number = 2\n"
    )
    assert_reloads_as(cfg, ["ff-1", *RACK_NAMES[1:], "last"])


def test_deleting_one_in_the_middle_gives_two_ranges(cfg: Path) -> None:
    text = edited(cfg, FILE, "rack2-5")
    assert (
        text
        == HEAD
        + (
            "\n"
            "# rack two\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21223-21226"      # ten Firefoxes\n'
            "interval = 10\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21228-21232"\n'
            "interval = 10\n"
            "first_number = 6\n"
        )
        + TAIL
    )
    assert_reloads_as(cfg, ["ff-1", *RACK_NAMES[:4], *RACK_NAMES[5:], "last"])


def test_deleting_the_second_leaves_a_single_endpoint_under_its_own_name(cfg: Path) -> None:
    text = edited(cfg, FILE, "rack2-2")
    assert (
        text
        == HEAD
        + (
            "\n"
            "# rack two\n"
            "[[endpoints]]\n"
            'name = "rack2-1"\n'
            'url = "127.0.0.1:21223"      # ten Firefoxes\n'
            "interval = 10\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21225-21232"\n'
            "interval = 10\n"
            "first_number = 3\n"
        )
        + TAIL
    )
    assert_reloads_as(cfg, ["ff-1", "rack2-1", *RACK_NAMES[2:], "last"])


def test_deleting_more_from_pieces_keeps_every_name(cfg: Path) -> None:
    # Each delete saved and reloaded, as a user would over several sessions.
    text = edited(cfg, FILE, "rack2-5", "rack2-7", "rack2-10", "rack2-6")
    assert (
        text
        == HEAD
        + (
            "\n"
            "# rack two\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21223-21226"      # ten Firefoxes\n'
            "interval = 10\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21230-21231"\n'
            "interval = 10\n"
            "first_number = 8\n"
        )
        + TAIL
    )
    kept = [f"rack2-{n}" for n in (1, 2, 3, 4, 8, 9)]
    assert_reloads_as(cfg, ["ff-1", *kept, "last"])


def test_deleting_every_endpoint_of_a_range_removes_it_and_its_comment(cfg: Path) -> None:
    config = load_config(_write(cfg, FILE))
    editor = ConfigEditor(config)
    for name in ["rack2-4", "rack2-1", "rack2-10", *RACK_NAMES[4:9], "rack2-2", "rack2-3"]:
        editor.remove(name)
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == HEAD + TAIL


def test_a_range_without_a_name_splits_by_port_alone(cfg: Path) -> None:
    text = '[[endpoints]]\nurl = "10.0.0.2:9222-9226"  # five\ntags = ["ff"]\n'
    assert edited(cfg, text, "10.0.0.2:9224") == (
        '[[endpoints]]\nurl = "10.0.0.2:9222-9223"  # five\ntags = ["ff"]\n'
        '\n[[endpoints]]\nurl = "10.0.0.2:9225-9226"\ntags = ["ff"]\n'
    )
    assert_reloads_as(cfg, ["10.0.0.2:9222", "10.0.0.2:9223", "10.0.0.2:9225", "10.0.0.2:9226"])


def test_a_full_url_range_keeps_its_path_and_query(cfg: Path) -> None:
    text = '[[endpoints]]\nname = "g"\nurl = "wss://grid.example:4441-4443/se/bidi?x=1"\n'
    assert edited(cfg, text, "g-3") == (
        '[[endpoints]]\nname = "g"\nurl = "wss://grid.example:4441-4442/se/bidi?x=1"\n'
    )


def test_a_range_in_an_inline_array_splits_too(cfg: Path) -> None:
    text = 'endpoints = [{ name = "r", url = "h:5-9" }, { url = "a:1" }]\n'
    edited(cfg, text, "r-3")
    reloaded = assert_reloads_as(cfg, ["r-1", "r-2", "r-4", "r-5", "a:1"])
    assert [e.port for e in reloaded.endpoints[:4]] == [5, 6, 8, 9]
    assert reloaded.origins == {"r-1": 0, "r-2": 0, "r-4": 1, "r-5": 1, "a:1": 2}


# --- editing one endpoint of a range ---------------------------------------------------------


def test_editing_one_in_the_middle_splits_around_it(cfg: Path) -> None:
    config = load_config(_write(cfg, FILE))
    rack2_4 = by_name(config, "rack2-4")
    ConfigEditor(config).replace("rack2-4", replace(rack2_4, timeout=2.0, tags=("esr",)))
    save_config(config)
    assert (
        cfg.read_text(encoding="utf-8")
        == HEAD
        + (
            "\n"
            "# rack two\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21223-21225"      # ten Firefoxes\n'
            "interval = 10\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2-4"\n'
            'url = "127.0.0.1:21226"\n'
            "interval = 10\n"
            "timeout = 2\n"
            'tags = ["esr"]\n'
            "\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21227-21232"\n'
            "interval = 10\n"
            "first_number = 5\n"
        )
        + TAIL
    )
    reloaded = assert_reloads_as(cfg, ["ff-1", *RACK_NAMES, "last"])
    assert by_name(reloaded, "rack2-4").timeout == 2.0
    assert by_name(reloaded, "rack2-5").timeout is None
    assert reloaded.origins == config.origins


def test_editing_the_first_keeps_the_entrys_comments_on_it(cfg: Path) -> None:
    config = load_config(_write(cfg, FILE))
    first = by_name(config, "rack2-1")
    ConfigEditor(config).replace("rack2-1", first.with_name("rack2-main"))
    save_config(config)
    assert (
        cfg.read_text(encoding="utf-8")
        == HEAD
        + (
            "\n"
            "# rack two\n"
            "[[endpoints]]\n"
            'name = "rack2-main"\n'
            'url = "127.0.0.1:21223"      # ten Firefoxes\n'
            "interval = 10\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21224-21232"\n'
            "interval = 10\n"
            "first_number = 2\n"
        )
        + TAIL
    )
    assert_reloads_as(cfg, ["ff-1", "rack2-main", *RACK_NAMES[1:], "last"])


def test_a_sync_that_changes_nothing_leaves_a_range_alone(cfg: Path) -> None:
    config = load_config(_write(cfg, FILE))
    ConfigEditor(config).sync(list(config.endpoints))
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == FILE


def test_a_sync_deleting_and_editing_in_one_range(cfg: Path) -> None:
    config = load_config(_write(cfg, FILE))
    wanted = [e for e in config.endpoints if e.name not in ("rack2-3", "rack2-8")]
    wanted = [replace(e, enabled=False) if e.name == "rack2-9" else e for e in wanted]
    ConfigEditor(config).sync(wanted)
    save_config(config)
    text = cfg.read_text(encoding="utf-8")
    assert (
        text
        == HEAD
        + (
            "\n"
            "# rack two\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21223-21224"      # ten Firefoxes\n'
            "interval = 10\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2"\n'
            'url = "127.0.0.1:21226-21229"\n'
            "interval = 10\n"
            "first_number = 4\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2-9"\n'
            'url = "127.0.0.1:21231"\n'
            "interval = 10\n"
            "enabled = false\n"
            "\n"
            "[[endpoints]]\n"
            'name = "rack2-10"\n'
            'url = "127.0.0.1:21232"\n'
            "interval = 10\n"
        )
        + TAIL
    )
    assert names(load_config(cfg)) == names(config)


def test_first_number_is_checked(cfg: Path) -> None:
    for value in ("0", "true", '"6"', "1.5"):
        _write(cfg, f'[[endpoints]]\nname = "r"\nurl = "h:1-3"\nfirst_number = {value}\n')
        with pytest.raises(ConfigError, match="'first_number' must be a whole number from 1"):
            load_config(cfg)
    _write(cfg, '[[endpoints]]\nurl = "h:1-3"\nfirst_number = 4\n')
    assert load_config(cfg).warnings == [
        f"{cfg}:1: endpoint #1: 'first_number' is ignored: it numbers a named port range"
    ]


# --- blank lines between tables --------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_adding_after_a_table_without_a_blank_line_adds_exactly_one(cfg: Path) -> None:
    config = load_config(_write(cfg, HEAD))
    ConfigEditor(config).add(one("new=127.0.0.1:1"))
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == (
        HEAD + '\n[[endpoints]]\nname = "new"\nurl = "ws://127.0.0.1:1/session"\n'
    )


def test_adding_after_trailing_blank_lines_does_not_double_them(cfg: Path) -> None:
    config = load_config(_write(cfg, HEAD + "\n\n\n"))
    editor = ConfigEditor(config)
    editor.add(one("a=127.0.0.1:1"))
    editor.add(one("b=127.0.0.1:2"))
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == (
        HEAD + '\n[[endpoints]]\nname = "a"\nurl = "ws://127.0.0.1:1/session"\n'
        '\n[[endpoints]]\nname = "b"\nurl = "ws://127.0.0.1:2/session"\n'
    )


def test_a_comment_at_the_end_of_the_file_stays_at_the_end(cfg: Path) -> None:
    config = load_config(_write(cfg, HEAD + "\n# end of farm\n"))
    ConfigEditor(config).add(one("a=127.0.0.1:1"))
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == (
        HEAD + '\n[[endpoints]]\nname = "a"\nurl = "ws://127.0.0.1:1/session"\n\n# end of farm\n'
    )


def test_a_file_without_a_final_newline_gets_no_header_glued_on(cfg: Path) -> None:
    config = load_config(_write(cfg, HEAD.rstrip("\n")))
    ConfigEditor(config).add(one("a=127.0.0.1:1"))
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == (
        HEAD + '\n[[endpoints]]\nname = "a"\nurl = "ws://127.0.0.1:1/session"\n'
    )


def test_adding_to_a_file_with_only_defaults_leaves_a_blank_line(cfg: Path) -> None:
    config = load_config(_write(cfg, "[defaults]\ntimeout = 3  # fast farm\n"))
    ConfigEditor(config).add(one("a=127.0.0.1:1"))
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == (
        '[defaults]\ntimeout = 3  # fast farm\n\n[[endpoints]]\nname = "a"\n'
        'url = "ws://127.0.0.1:1/session"\n'
    )


def test_deleting_between_two_tables_leaves_one_blank_line(cfg: Path) -> None:
    assert edited(cfg, FILE, "rack2-1", *RACK_NAMES[1:]) == HEAD + TAIL
    assert edited(cfg, HEAD + "\n\n" + RACK.lstrip("\n") + "\n\n" + TAIL, *RACK_NAMES) == (
        HEAD + TAIL
    )


def test_deleting_the_last_table_leaves_no_blank_line_at_the_end(cfg: Path) -> None:
    assert edited(cfg, FILE + "\n\n", "last") == HEAD + RACK


def test_double_blank_lines_the_user_wrote_elsewhere_stay(cfg: Path) -> None:
    text = HEAD + "\n\n" + RACK.lstrip("\n") + TAIL
    assert edited(cfg, text, "last") == HEAD + "\n\n" + RACK.lstrip("\n")


def test_deleting_the_first_table_keeps_the_files_top_comment(cfg: Path) -> None:
    text = (
        '# top of the file\n[[endpoints]]\nurl = "a:1"\n\n# about b\n[[endpoints]]\nurl = "b:2"\n'
    )
    assert (
        edited(cfg, text, "a:1") == '# top of the file\n\n# about b\n[[endpoints]]\nurl = "b:2"\n'
    )


def test_deleting_the_first_table_after_defaults_takes_its_comment(cfg: Path) -> None:
    text = (
        '[defaults]\ntimeout = 3\n\n# about a\n[[endpoints]]\nurl = "a:1"\n'
        '\n# about b\n[[endpoints]]\nurl = "b:2"\n'
    )
    assert edited(cfg, text, "a:1") == (
        '[defaults]\ntimeout = 3\n\n# about b\n[[endpoints]]\nurl = "b:2"\n'
    )


def test_deleting_everything_then_adding(cfg: Path) -> None:
    config = load_config(_write(cfg, FILE))
    editor = ConfigEditor(config)
    editor.sync([one("z=127.0.0.1:9")])
    save_config(config)
    assert cfg.read_text(encoding="utf-8") == (
        '# my farm\n[defaults]\ninterval = 5\n\n[[endpoints]]\nname = "z"\n'
        'url = "ws://127.0.0.1:9/session"\n'
    )
    assert_reloads_as(cfg, ["z"])


# --- any sequence of edits ---------------------------------------------------------------------

LAYOUTS = [
    FILE,
    HEAD + "\n\n" + RACK.lstrip("\n") + TAIL.rstrip("\n"),  # no final newline
    '# farm\nendpoints = [{ name = "r", url = "h:5-9" }, { url = "a:1" }]\n',
    RACK.lstrip("\n") + TAIL + "\n[defaults]\ninterval = 5\n",  # defaults after the tables
    '[[endpoints]]\nname = "solo"\nurl = "h:1"\n[endpoints.headers]\nX-A = "1"\n\n# end\n',
    "# only comments so far\n",
]
EDITS = st.lists(
    st.tuples(st.sampled_from(["remove", "edit", "rename", "add"]), st.integers(0, 50)),
    max_size=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=st.sampled_from(LAYOUTS), edits=EDITS, save_each=st.booleans())
def test_any_sequence_of_edits_saves_a_file_that_loads_as_edited(
    tmp_path: Path, layout: str, edits: list[tuple[str, int]], save_each: bool
) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(layout, encoding="utf-8")
    config = load_config(path)
    editor = ConfigEditor(config)
    for step, (action, pick) in enumerate(edits):
        if action == "add" or not config.endpoints:
            editor.add(one(f"new{step}=127.0.0.1:{1000 + step}"))
        else:
            chosen = config.endpoints[pick % len(config.endpoints)]
            if action == "remove":
                editor.remove(chosen.name)
            elif action == "edit":
                editor.replace(chosen.name, replace(chosen, timeout=float(step + 1)))
            else:
                editor.replace(chosen.name, chosen.with_name(f"renamed{step}"))
        if save_each:
            save_config(config)
            config = load_config(path)
            editor = ConfigEditor(config)
    save_config(config)
    text = path.read_text(encoding="utf-8")
    reloaded = load_config(path)
    assert reloaded.endpoints == config.endpoints
    assert reloaded.origins == config.origins
    assert reloaded.warnings == []
    if "\n\n\n" not in layout:
        assert "\n\n\n" not in text, text
    assert not text.endswith("\n\n"), text
    lines = text.splitlines()
    for number, line in enumerate(lines[1:], start=1):  # no header glued under a key
        if line.startswith("[[endpoints]]"):
            above = lines[number - 1].strip()
            assert not above or above.startswith("#"), text
