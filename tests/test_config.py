"""The endpoints file: strict loading with file:line errors, comment-preserving atomic saves."""

from __future__ import annotations

import errno
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from bidi_tui.config import (
    NEW_FILE_HEADER,
    Config,
    ConfigEditor,
    ConfigError,
    ConfigSaveError,
    Defaults,
    default_config_path,
    load_config,
    render,
    save_config,
)
from bidi_tui.config import files as config_files
from bidi_tui.config import store as config_store
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.settings import Settings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one(spec: str) -> Endpoint:
    (endpoint,) = parse_spec(spec)
    return endpoint


def config_error(path: Path, text: str) -> str:
    """Load ``text`` from ``path`` and return the ConfigError's message."""
    write(path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "endpoints.toml"


# --- loading a valid file -------------------------------------------------------------------

VALID = """\
# my farm
[defaults]
interval = 10
timeout = 2.5

[[endpoints]]
name = "ff-1"
url = "ws://127.0.0.1:9222/session"
tags = ["firefox", "linux"]

[[endpoints]]
name = "farm"
url = "10.0.0.5:9300-9302"
interval = 30
timeout = 1

[[endpoints]]
url = "wss://grid.example:4444/session/abc/se/bidi"
headers = { Authorization = "Bearer t0ken", X-Team = "qa" }
insecure = true
enabled = false
"""


def test_valid_file_gives_defaults_and_every_endpoint(cfg: Path) -> None:
    config = load_config(write(cfg, VALID))

    assert config.exists
    assert config.warnings == []
    assert config.defaults == Defaults(interval=10.0, timeout=2.5)
    assert [e.name for e in config.endpoints] == [
        "ff-1",
        "farm-1",
        "farm-2",
        "farm-3",
        "grid.example:4444",
    ]
    ff, farm1, farm2, farm3, grid = config.endpoints
    assert ff.url == "ws://127.0.0.1:9222/session"
    assert ff.tags == ("firefox", "linux")
    assert ff.enabled and not ff.insecure
    assert ff.interval is None and ff.timeout is None
    settings = Settings(
        default_interval=config.defaults.interval, default_timeout=config.defaults.timeout
    )
    assert (settings.interval(ff), settings.timeout(ff)) == (10.0, 2.5)

    assert [e.port for e in (farm1, farm2, farm3)] == [9300, 9301, 9302]
    assert {e.host for e in (farm1, farm2, farm3)} == {"10.0.0.5"}
    assert all(e.interval == 30.0 and e.timeout == 1.0 for e in (farm1, farm2, farm3))
    assert (settings.interval(farm2), settings.timeout(farm2)) == (30.0, 1.0)
    cli = replace(settings, cli_interval=1.0)  # the command line wins over the endpoint
    assert (cli.interval(farm2), cli.timeout(farm2)) == (1.0, 1.0)

    assert grid.url == "wss://grid.example:4444/session/abc/se/bidi"
    assert dict(grid.headers) == {"Authorization": "Bearer t0ken", "X-Team": "qa"}
    assert grid.insecure is True
    assert grid.enabled is False
    # Which [[endpoints]] table each endpoint came from: the range shares one.
    assert config.origins == {
        "ff-1": 0,
        "farm-1": 1,
        "farm-2": 1,
        "farm-3": 1,
        "grid.example:4444": 2,
    }


def test_empty_file_has_defaults_and_no_endpoints(cfg: Path) -> None:
    config = load_config(write(cfg, "# nothing yet\n"))
    assert config.exists
    assert config.endpoints == []
    assert config.defaults == Defaults()


def test_inline_array_of_endpoints_is_accepted(cfg: Path) -> None:
    config = load_config(write(cfg, 'endpoints = [{ url = "a:1" }, { url = "b:2", name = "b" }]\n'))
    assert [e.name for e in config.endpoints] == ["a:1", "b"]


# --- errors: file, line and what is wrong -------------------------------------------------


def test_invalid_toml_names_the_line_of_the_error(cfg: Path) -> None:
    message = config_error(cfg, '[defaults]\ninterval = 5\n[[endpoints]]\nurl = \nname = "x"\n')
    assert message.startswith(f"{cfg}:4: invalid TOML")


def test_unterminated_string_names_its_line(cfg: Path) -> None:
    message = config_error(cfg, '[[endpoints]]\nurl = "a:1"\nname = "x\n')
    assert message.startswith(f"{cfg}:3: invalid TOML")


ENDPOINT_ERRORS = [
    pytest.param(
        'timeout = "5"',
        "'timeout' must be a number of seconds, got '5'",
        id="timeout-string",
    ),
    pytest.param("timeout = true", "'timeout' must be a number", id="timeout-bool"),
    pytest.param("timeout = 1000", "'timeout' must be between 0.1 and 300", id="timeout-big"),
    pytest.param("timeout = nan", "'timeout' must be between", id="timeout-nan"),
    pytest.param("interval = 0", "'interval' must be at least 0.1", id="interval-zero"),
    pytest.param('tags = "firefox"', "'tags' must be a list of strings", id="tags-not-list"),
    pytest.param("tags = [1, 2]", "'tags' must be a list of strings", id="tags-not-strings"),
    pytest.param('enabled = "yes"', "'enabled' must be true or false", id="enabled-not-bool"),
    pytest.param("insecure = 1", "'insecure' must be true or false", id="insecure-not-bool"),
    pytest.param("name = 3", "'name' must be a string", id="name-not-string"),
    pytest.param('headers = "x"', "'headers' must be a table", id="headers-not-table"),
    pytest.param("headers = { X-A = 1 }", "header 'X-A' must be a string", id="header-value"),
    pytest.param(
        'headers = { Host = "evil" }',
        "header 'Host' is set by the WebSocket handshake",
        id="reserved-host",
    ),
    pytest.param(
        'headers = { "Sec-WebSocket-Key" = "x" }',
        "header 'Sec-WebSocket-Key' is set by the WebSocket handshake",
        id="reserved-sec-websocket",
    ),
    pytest.param(
        'headers = { Connection = "close" }',
        "header 'Connection' is set by the WebSocket handshake",
        id="reserved-connection",
    ),
    pytest.param(
        'headers = { "Bad Name" = "x" }',
        "'Bad Name' is not a valid HTTP header name",
        id="header-name",
    ),
]


@pytest.mark.parametrize(("line", "expected"), ENDPOINT_ERRORS)
def test_wrong_types_name_file_line_and_entry(cfg: Path, line: str, expected: str) -> None:
    text = f'[[endpoints]]\nurl = "a:1"\n\n# second\n[[endpoints]]\nurl = "b:2"\n{line}\n'
    message = config_error(cfg, text)
    # The second entry's [[endpoints]] header is on line 5.
    assert message.startswith(f"{cfg}:5: endpoint #2: ")
    assert expected in message
    assert "\n" not in message


def test_missing_url(cfg: Path) -> None:
    message = config_error(cfg, '\n[[endpoints]]\nname = "ff-1"\n')
    assert message.startswith(f"{cfg}:2: endpoint #1: 'url' is missing")
    assert "ws://127.0.0.1:9222/session" in message  # an example of a good one


def test_url_not_a_string(cfg: Path) -> None:
    message = config_error(cfg, "[[endpoints]]\nurl = 9222\n")
    assert message.startswith(f"{cfg}:1: endpoint #1: 'url' must be a string")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("h:99999", "port 99999 is out of range"),
        ("localhost", "no port given"),
        ("ftp://h:1/x", "scheme 'ftp' is not supported"),
        ("h:9300-9200", "runs backwards"),
    ],
)
def test_bad_url_spec(cfg: Path, url: str, expected: str) -> None:
    message = config_error(cfg, f'[defaults]\ntimeout = 1\n\n[[endpoints]]\nurl = "{url}"\n')
    assert message.startswith(f"{cfg}:4: endpoint #1: bad endpoint ")
    assert expected in message


def test_bad_url_spec_never_shows_its_password(cfg: Path) -> None:
    message = config_error(cfg, '[[endpoints]]\nurl = "ws://user:hunter2@:1/session"\n')
    assert "hunter2" not in message
    assert "***" in message


def test_duplicate_names(cfg: Path) -> None:
    text = '[[endpoints]]\nname = "a"\nurl = "h:1"\n\n[[endpoints]]\nname = "a"\nurl = "h:2"\n'
    message = config_error(cfg, text)
    assert message.startswith(f"{cfg}:5: endpoint #2: the name 'a' is already used by endpoint #1")


def test_duplicate_derived_names(cfg: Path) -> None:
    message = config_error(cfg, '[[endpoints]]\nurl = "h:1"\n[[endpoints]]\nurl = "h:1"\n')
    assert message.startswith(f"{cfg}:3: endpoint #2: the name 'h:1' is already used")


def test_port_range_colliding_with_a_named_endpoint(cfg: Path) -> None:
    text = (
        '[[endpoints]]\nname = "farm-2"\nurl = "h:1"\n\n'
        '[[endpoints]]\nname = "farm"\nurl = "h:9300-9302"\n'
    )
    message = config_error(cfg, text)
    assert message.startswith(f"{cfg}:5: endpoint #2: the name 'farm-2' is already used")
    assert "names must be unique" in message


def test_bad_defaults(cfg: Path) -> None:
    message = config_error(cfg, "# x\n[defaults]\ninterval = 0.01\n")
    assert message.startswith(f"{cfg}:2: ")
    assert "'interval' must be at least 0.1" in message
    message = config_error(cfg, 'defaults = "fast"\n')
    assert message.startswith(f"{cfg}:1: [defaults] must be a table")


def test_endpoints_not_a_list(cfg: Path) -> None:
    message = config_error(cfg, 'endpoints = "h:1"\n')
    assert message.startswith(f"{cfg}:1: 'endpoints' must be a list of [[endpoints]] tables")


def test_endpoints_written_as_a_single_table_names_its_line(cfg: Path) -> None:
    message = config_error(cfg, '# farm\n\n[endpoints]\nurl = "h:1"\n')
    assert message.startswith(f"{cfg}:3: 'endpoints' must be a list")


def test_unknown_keys_give_warnings_naming_the_key(cfg: Path) -> None:
    text = (
        "colour = 1\n"
        "[defaults]\n"
        "interval = 5\n"
        "retries = 3\n"
        "\n"
        "[[endpoints]]\n"
        'url = "h:1"\n'
        'colour = "red"\n'
        "\n"
        "[extra]\n"
        "x = 1\n"
    )
    config = load_config(write(cfg, text))
    assert [e.name for e in config.endpoints] == ["h:1"]
    assert config.warnings == [
        f"{cfg}:1: unknown key 'colour' is ignored",
        f"{cfg}:10: unknown key 'extra' is ignored",
        f"{cfg}:2: unknown key 'retries' in [defaults] is ignored",
        f"{cfg}:6: endpoint #1: unknown key 'colour' is ignored",
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "endpoints.toml"
    config = load_config(path, missing_ok=True)
    assert not config.exists
    assert config.endpoints == []
    assert config.loaded_digest is None
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such file"


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a TOML file"


def test_not_utf8(cfg: Path) -> None:
    cfg.write_bytes(b'[[endpoints]]\nurl = "h:1"\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(cfg)
    assert str(caught.value).startswith(f"{cfg}: not UTF-8")


def test_default_config_path_follows_xdg(config_home: Path) -> None:
    assert default_config_path() == config_home / "bidi-tui" / "endpoints.toml"


# --- editing: comments and formatting survive --------------------------------------------

FARM = """\
# My farm
[defaults]
interval = 10  # slow down

# Firefox boxes
[[endpoints]]
name = "ff-1"   # the first one
url = "ws://127.0.0.1:9222/session"
tags = ["firefox"]

# the chrome range
[[endpoints]]
name = "cd"
url = "127.0.0.1:9515-9517"  # three drivers

# the last one
[[endpoints]]
name = "last"  # keep me
url = "ws://10.0.0.1:9222/session"
"""

FF_BLOCK = """\
# Firefox boxes
[[endpoints]]
name = "ff-1"   # the first one
url = "ws://127.0.0.1:9222/session"
tags = ["firefox"]
"""

CD_BLOCK = """\
# the chrome range
[[endpoints]]
name = "cd"
url = "127.0.0.1:9515-9517"  # three drivers
"""

LAST_BLOCK = """\
[[endpoints]]
name = "last"  # keep me
url = "ws://10.0.0.1:9222/session"
"""


def load_farm(path: Path) -> Config:
    return load_config(write(path, FARM))


def by_name(config: Config, name: str) -> Endpoint:
    (endpoint,) = [e for e in config.endpoints if e.name == name]
    return endpoint


def saved(config: Config) -> str:
    save_config(config)
    return config.path.read_text(encoding="utf-8")


def test_render_of_an_untouched_file_is_byte_identical(cfg: Path) -> None:
    config = load_farm(cfg)
    assert render(config) == FARM
    assert saved(config) == FARM


def test_add_appends_and_leaves_the_rest_untouched(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).add(one("new=127.0.0.1:1"))
    text = saved(config)
    assert text == FARM + '\n[[endpoints]]\nname = "new"\nurl = "ws://127.0.0.1:1/session"\n'
    assert [e.name for e in load_config(cfg).endpoints] == [
        "ff-1",
        "cd-1",
        "cd-2",
        "cd-3",
        "last",
        "new",
    ]


def test_add_a_duplicate_name_is_refused(cfg: Path) -> None:
    config = load_farm(cfg)
    with pytest.raises(ConfigError, match="exists already"):
        ConfigEditor(config).add(one("ff-1=127.0.0.1:1"))
    assert render(config) == FARM


def test_add_to_a_file_without_endpoints_keeps_its_comments(cfg: Path) -> None:
    original = "# just defaults\n[defaults]\ntimeout = 3  # fast farm\n"
    config = load_config(write(cfg, original))
    ConfigEditor(config).add(one("a=127.0.0.1:1"))
    text = saved(config)
    assert text.startswith(original)
    reloaded = load_config(cfg)
    assert reloaded.defaults.timeout == 3.0
    assert [e.name for e in reloaded.endpoints] == ["a"]


def test_replace_keeps_inline_comments_of_the_edited_entry(cfg: Path) -> None:
    config = load_farm(cfg)
    ff = by_name(config, "ff-1")
    ConfigEditor(config).replace("ff-1", replace(ff, port=9333, tags=("firefox", "esr")))
    text = saved(config)
    assert (
        '# Firefox boxes\n[[endpoints]]\nname = "ff-1"   # the first one\n'
        'url = "ws://127.0.0.1:9333/session"\ntags = ["firefox", "esr"]\n'
    ) in text
    # Everything after the edited entry is byte for byte the same.
    assert text.endswith("\n" + CD_BLOCK + "\n# the last one\n" + LAST_BLOCK)
    assert text.startswith("# My farm\n[defaults]\ninterval = 10  # slow down\n")
    assert by_name(load_config(cfg), "ff-1").port == 9333


def test_replace_with_a_rename_keeps_the_entrys_comment(cfg: Path) -> None:
    config = load_farm(cfg)
    last = by_name(config, "last")
    ConfigEditor(config).replace("last", last.with_name("final"))
    text = saved(config)
    assert text == FARM.replace('name = "last"  # keep me', 'name = "final"  # keep me')


def test_replace_to_an_existing_name_is_refused(cfg: Path) -> None:
    config = load_farm(cfg)
    with pytest.raises(ConfigError, match="exists already"):
        ConfigEditor(config).replace("last", by_name(config, "last").with_name("ff-1"))
    assert render(config) == FARM


def test_replace_removes_keys_back_at_their_default(cfg: Path) -> None:
    config = load_farm(cfg)
    ff = by_name(config, "ff-1")
    ConfigEditor(config).replace("ff-1", replace(ff, tags=(), enabled=False, timeout=2.5))
    reloaded = by_name(load_config(write(cfg, saved(config))), "ff-1")
    assert reloaded.tags == ()
    assert reloaded.enabled is False
    assert reloaded.timeout == 2.5
    assert "tags" not in cfg.read_text().split("# the chrome range")[0].split("[[endpoints]]")[1]


def test_replace_adding_a_key_keeps_the_next_entrys_comment_above_it(cfg: Path) -> None:
    config = load_farm(cfg)
    ff = by_name(config, "ff-1")
    ConfigEditor(config).replace("ff-1", replace(ff, timeout=3.0))
    text = saved(config)
    assert FF_BLOCK + "timeout = 3\n\n" + CD_BLOCK in text


def test_remove_leaves_other_entries_untouched(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).remove("last")
    text = saved(config)
    assert text.startswith("# My farm\n[defaults]\ninterval = 10  # slow down\n\n" + FF_BLOCK)
    assert "\n" + CD_BLOCK in text
    assert 'name = "last"' not in text
    assert [e.name for e in load_config(cfg).endpoints] == ["ff-1", "cd-1", "cd-2", "cd-3"]


def test_remove_keeps_the_comment_above_the_next_entry(cfg: Path) -> None:
    text = FARM.replace("# the chrome range\n", "")
    config = load_config(write(cfg, text))
    ConfigEditor(config).remove("cd-1")
    ConfigEditor(config).remove("cd-2")
    ConfigEditor(config).remove("cd-3")
    assert "# the last one\n" + LAST_BLOCK in saved(config)


def test_remove_the_first_entry_keeps_the_comment_above_the_next(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).remove("ff-1")
    text = saved(config)
    assert text.startswith("# My farm\n[defaults]\ninterval = 10  # slow down\n")
    assert CD_BLOCK + "\n# the last one\n" + LAST_BLOCK in text
    assert "ff-1" not in text
    assert [e.name for e in load_config(cfg).endpoints] == ["cd-1", "cd-2", "cd-3", "last"]


def test_removing_every_entry_one_by_one_keeps_the_header(cfg: Path) -> None:
    config = load_farm(cfg)
    editor = ConfigEditor(config)
    for name in ["cd-2", "ff-1", "last", "cd-1", "cd-3"]:
        editor.remove(name)
    text = saved(config)
    assert text.startswith("# My farm\n[defaults]\ninterval = 10  # slow down\n")
    reloaded = load_config(cfg)
    assert reloaded.endpoints == []
    assert reloaded.defaults.interval == 10.0


def test_remove_all_then_add_writes_valid_toml(cfg: Path) -> None:
    config = load_config(write(cfg, '# header\n\n[[endpoints]]\nurl = "a:1"\n'))
    editor = ConfigEditor(config)
    editor.remove("a:1")
    editor.add(one("b=127.0.0.1:2"))
    save_config(config)
    assert [e.name for e in load_config(cfg).endpoints] == ["b"]


def test_add_to_an_inline_endpoints_array_writes_valid_toml(cfg: Path) -> None:
    config = load_config(write(cfg, 'endpoints = [{ url = "a:1" }, { url = "b:2", name = "b" }]\n'))
    ConfigEditor(config).add(one("n=127.0.0.1:3"))
    save_config(config)
    assert [e.name for e in load_config(cfg).endpoints] == ["a:1", "b", "n"]


def test_splitting_a_range_in_an_inline_endpoints_array_writes_valid_toml(cfg: Path) -> None:
    config = load_config(
        write(cfg, 'endpoints = [{ url = "a:1" }, { url = "h:5-7", name = "r" }]\n')
    )
    ConfigEditor(config).replace("r-2", replace(by_name(config, "r-2"), timeout=2.0))
    save_config(config)
    reloaded = load_config(cfg)
    assert [e.name for e in reloaded.endpoints] == ["a:1", "r-1", "r-2", "r-3"]
    assert by_name(reloaded, "r-2").timeout == 2.0


def test_replace_in_an_inline_endpoints_array(cfg: Path) -> None:
    config = load_config(write(cfg, 'endpoints = [{ url = "a:1" }, { url = "b:2", name = "b" }]\n'))
    editor = ConfigEditor(config)
    editor.replace("b", replace(by_name(config, "b"), timeout=2.0))
    editor.remove("a:1")
    save_config(config)
    reloaded = load_config(cfg)
    assert [e.name for e in reloaded.endpoints] == ["b"]
    assert by_name(reloaded, "b").timeout == 2.0


def test_replacing_a_range_member_splits_the_range_around_it(cfg: Path) -> None:
    config = load_farm(cfg)
    cd2 = by_name(config, "cd-2")
    ConfigEditor(config).replace("cd-2", replace(cd2, timeout=1.5, tags=("chrome",)))
    text = saved(config)
    # Untouched entries keep their text and comments; the range's comments stay on its
    # first piece, and each piece is written in the entry's short form.
    assert text == FARM.replace(
        CD_BLOCK,
        "# the chrome range\n"
        '[[endpoints]]\nname = "cd-1"\nurl = "127.0.0.1:9515"  # three drivers\n\n'
        '[[endpoints]]\nname = "cd-2"\nurl = "127.0.0.1:9516"\ntimeout = 1.5\ntags = ["chrome"]\n\n'
        '[[endpoints]]\nname = "cd-3"\nurl = "127.0.0.1:9517"\n',
    )
    reloaded = load_config(cfg)
    assert [e.name for e in reloaded.endpoints] == ["ff-1", "cd-1", "cd-2", "cd-3", "last"]
    assert [e.port for e in reloaded.endpoints[1:4]] == [9515, 9516, 9517]
    assert by_name(reloaded, "cd-2").timeout == 1.5
    assert by_name(reloaded, "cd-1").timeout is None
    assert reloaded.origins == {"ff-1": 0, "cd-1": 1, "cd-2": 2, "cd-3": 3, "last": 4}
    assert config.origins == reloaded.origins


def test_removing_a_range_member_keeps_the_others(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).remove("cd-2")
    assert [e.name for e in config.endpoints] == ["ff-1", "cd-1", "cd-3", "last"]
    text = saved(config)
    assert text.startswith("# My farm\n[defaults]\ninterval = 10  # slow down\n\n" + FF_BLOCK)
    assert text.endswith(LAST_BLOCK)
    reloaded = load_config(cfg)
    assert [(e.name, e.port) for e in reloaded.endpoints] == [
        ("ff-1", 9222),
        ("cd-1", 9515),
        ("cd-3", 9517),
        ("last", 9222),
    ]
    # Later edits still find the right tables.
    ConfigEditor(reloaded).remove("cd-3")
    save_config(reloaded)
    assert [e.name for e in load_config(cfg).endpoints] == ["ff-1", "cd-1", "last"]


def test_splitting_a_range_keeps_the_comment_above_the_next_entry(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).remove("cd-2")
    assert "# the last one\n" + LAST_BLOCK in saved(config)


def test_sync_with_renames_additions_and_removals(cfg: Path) -> None:
    config = load_farm(cfg)
    ff = by_name(config, "ff-1")
    wanted = [
        ff.with_name("ff-one"),
        *(e for e in config.endpoints if e.name.startswith("cd-")),
        by_name(config, "last"),
        one("extra=127.0.0.1:7000"),
    ]
    ConfigEditor(config).sync(wanted, renames={"ff-one": "ff-1"})
    text = saved(config)
    # The renamed entry keeps its comments; the range, untouched, keeps its one table.
    assert FF_BLOCK.replace('"ff-1"', '"ff-one"') in text
    assert CD_BLOCK in text
    assert LAST_BLOCK in text
    assert text.rstrip().endswith('name = "extra"\nurl = "ws://127.0.0.1:7000/session"')
    assert [e.name for e in load_config(cfg).endpoints] == [
        "ff-one",
        "cd-1",
        "cd-2",
        "cd-3",
        "last",
        "extra",
    ]


def test_sync_removes_what_is_not_wanted(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).sync([by_name(config, "ff-1"), by_name(config, "last")])
    text = saved(config)
    assert text.startswith("# My farm\n[defaults]\ninterval = 10  # slow down\n\n" + FF_BLOCK)
    assert LAST_BLOCK in text
    assert "cd" not in text.replace("# the chrome range", "")
    assert [e.name for e in load_config(cfg).endpoints] == ["ff-1", "last"]


def test_sync_with_nothing_changed_writes_the_same_bytes(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).sync(list(config.endpoints))
    assert saved(config) == FARM


def test_credentials_and_headers_round_trip(cfg: Path) -> None:
    config = load_config(cfg, missing_ok=True)
    endpoint = replace(
        one("sec=ws://user:p%40ss@127.0.0.1:9222/session"),
        headers={"X-Api-Key": "x"},
        insecure=True,
        interval=7.5,
    )
    ConfigEditor(config).add(endpoint)
    save_config(config)
    assert load_config(cfg).endpoints == [endpoint]


# --- saving: new files, atomicity, conflicts ------------------------------------------------


def test_saving_a_new_config_creates_folder_and_private_file(config_home: Path) -> None:
    path = default_config_path()
    assert not path.parent.exists()
    config = load_config(path, missing_ok=True)
    ConfigEditor(config).add(one("ff-1=ws://u:secret@127.0.0.1:9222/session"))
    save_config(config)

    assert path.parent.is_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert text.startswith(NEW_FILE_HEADER)
    assert config.exists
    assert [e.name for e in load_config(path).endpoints] == ["ff-1"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["endpoints.toml"]


def test_saving_keeps_an_existing_files_mode(cfg: Path) -> None:
    config = load_farm(cfg)
    cfg.chmod(0o640)
    ConfigEditor(config).remove("last")
    save_config(config)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640


def test_saving_twice_in_a_row_works(cfg: Path) -> None:
    config = load_farm(cfg)
    editor = ConfigEditor(config)
    editor.remove("last")
    save_config(config)
    editor.add(one("again=127.0.0.1:5"))
    save_config(config)
    assert [e.name for e in load_config(cfg).endpoints][-1] == "again"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_failing_rename_leaves_the_original_and_no_temp_file(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_farm(cfg)
    before = cfg.read_bytes()
    ConfigEditor(config).remove("last")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(config_store.os, "replace", broken_replace)
    with pytest.raises(ConfigSaveError) as caught:
        save_config(config)
    assert str(caught.value) == (
        f"{cfg}: not saved (Input/output error); the file on disk is unchanged"
    )
    assert cfg.read_bytes() == before
    assert leftovers(cfg.parent) == ["endpoints.toml"]

    # Once the disk is back, the same edit saves.
    monkeypatch.undo()
    save_config(config)
    assert 'name = "last"' not in cfg.read_text()


def test_failing_write_midway_leaves_the_original_and_no_temp_file(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_farm(cfg)
    before = cfg.read_bytes()
    ConfigEditor(config).add(one("new=127.0.0.1:1"))

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(config_store.os, "fsync", broken_fsync)
    with pytest.raises(ConfigSaveError, match="No space left on device"):
        save_config(config)
    assert cfg.read_bytes() == before
    assert leftovers(cfg.parent) == ["endpoints.toml"]


def test_unwritable_folder_gives_a_clear_error(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # We run as root, where chmod cannot make a folder read-only: fail the temp file instead.
    config = load_farm(cfg)
    before = cfg.read_bytes()
    ConfigEditor(config).remove("last")

    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(config_files.tempfile, "mkstemp", denied)
    with pytest.raises(ConfigSaveError) as caught:
        save_config(config)
    assert str(caught.value) == (
        f"{cfg}: not saved (Permission denied); the file on disk is unchanged"
    )
    assert cfg.read_bytes() == before


def test_uncreatable_folder_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new" / "endpoints.toml"
    config = load_config(path, missing_ok=True)
    ConfigEditor(config).add(one("a=127.0.0.1:1"))

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(ConfigSaveError) as caught:
        save_config(config)
    assert str(caught.value) == f"{path.parent}: cannot create folder: Permission denied"
    monkeypatch.undo()
    assert not path.parent.exists()


def test_save_refuses_a_file_changed_on_disk_and_force_overrides(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).remove("last")
    edited_elsewhere = FARM + "\n# added in an editor\n"
    cfg.write_text(edited_elsewhere, encoding="utf-8")

    with pytest.raises(ConfigSaveError) as caught:
        save_config(config)
    assert str(caught.value).startswith(f"{cfg}: changed on disk since it was loaded")
    assert cfg.read_text(encoding="utf-8") == edited_elsewhere

    save_config(config, force=True)
    text = cfg.read_text(encoding="utf-8")
    assert 'name = "last"' not in text
    assert "added in an editor" not in text


def test_save_refuses_a_file_deleted_on_disk_and_force_overrides(cfg: Path) -> None:
    config = load_farm(cfg)
    ConfigEditor(config).remove("last")
    cfg.unlink()
    with pytest.raises(ConfigSaveError) as caught:
        save_config(config)
    assert str(caught.value).startswith(f"{cfg}: was deleted since it was loaded")
    assert not cfg.exists()
    save_config(config, force=True)
    assert [e.name for e in load_config(cfg).endpoints] == ["ff-1", "cd-1", "cd-2", "cd-3"]


def test_save_refuses_a_file_created_since_it_was_found_missing(cfg: Path) -> None:
    config = load_config(cfg, missing_ok=True)
    ConfigEditor(config).add(one("a=127.0.0.1:1"))
    write(cfg, "# someone else's\n")
    with pytest.raises(ConfigSaveError, match="changed on disk"):
        save_config(config)
    assert cfg.read_text(encoding="utf-8") == "# someone else's\n"


def test_a_save_error_is_a_config_error() -> None:
    assert issubclass(ConfigSaveError, ConfigError)


def test_an_endpoint_added_without_a_name_saves_a_file_that_loads(cfg: Path) -> None:
    # Its name is derived (host:port), which is no valid name to write: none is written.
    config = load_farm(cfg)
    editor = ConfigEditor(config)
    editor.add(one("127.0.0.1:7001"))
    editor.add(one("wss://grid.example/session"))
    text = saved(config)
    assert text.endswith(
        '\n[[endpoints]]\nurl = "ws://127.0.0.1:7001/session"\n'
        '\n[[endpoints]]\nurl = "wss://grid.example/session"\n'
    )
    assert [e.name for e in load_config(cfg).endpoints][-2:] == [
        "127.0.0.1:7001",
        "grid.example:443",
    ]


def test_clearing_a_name_removes_it_from_the_file(cfg: Path) -> None:
    config = load_farm(cfg)
    last = by_name(config, "last")
    ConfigEditor(config).replace("last", last.with_name(last.derived_name))
    assert saved(config) == FARM.replace('name = "last"  # keep me\n', "")
    assert [e.name for e in load_config(cfg).endpoints][-1] == "10.0.0.1:9222"
