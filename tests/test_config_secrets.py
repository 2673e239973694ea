"""Secrets kept out of the file: `password_env` and `{ env = "VAR" }` header values."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest

from bidi_tui.config import ConfigEditor, ConfigError, load_config, save_config
from bidi_tui.endpoints import MASK, parse_spec
from bidi_tui.model import State
from bidi_tui.probe import probe
from bidi_tui.ui.screens.endpoint_dialog import build_endpoints
from tests.bidi_servers import status_server

PASSWORD = "pw-from-env-1"
TOKEN = "token-from-env-2"

GRID = """\
# the grid: secrets live in the environment
[[endpoints]]
name = "grid"
url = "ws://qa@127.0.0.1:4444/session"
password_env = "GRID_PW"   # exported by the CI job

[[endpoints]]
name = "tok"
url = "127.0.0.1:9515"
headers = { Authorization = { env = "GRID_TOKEN" }, X-Team = "qa" }
"""


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRID_PW", PASSWORD)
    monkeypatch.setenv("GRID_TOKEN", f"Bearer {TOKEN}")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, text: str) -> str:
    write(path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "endpoints.toml"


@pytest.mark.usefixtures("environment")
def test_secrets_are_read_from_the_environment(cfg: Path) -> None:
    grid, tok = load_config(write(cfg, GRID)).endpoints
    assert grid.username == "qa" and grid.password == PASSWORD
    assert grid.url == f"ws://qa:{PASSWORD}@127.0.0.1:4444/session"
    assert grid.display_url == f"ws://qa:{MASK}@127.0.0.1:4444/session"
    assert grid.password_env == "GRID_PW"
    assert dict(tok.headers) == {"Authorization": f"Bearer {TOKEN}", "X-Team": "qa"}
    assert dict(tok.header_env) == {"Authorization": "GRID_TOKEN"}


@pytest.mark.usefixtures("environment")
async def test_the_secrets_from_the_environment_reach_the_endpoint(cfg: Path) -> None:
    async with status_server() as with_password, status_server() as with_token:
        text = GRID.replace("4444", str(with_password.port)).replace("9515", str(with_token.port))
        grid, tok = load_config(write(cfg, text)).endpoints
        results = [await probe(grid, timeout=5), await probe(tok, timeout=5)]
    assert [r.state for r in results] == [State.READY, State.READY]
    basic = base64.b64encode(f"qa:{PASSWORD}".encode()).decode()
    assert with_password.seen.headers[0]["Authorization"] == f"Basic {basic}"
    assert with_token.seen.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert with_token.seen.headers[0]["X-Team"] == "qa"


@pytest.mark.usefixtures("environment")
def test_saving_keeps_the_references_and_never_writes_the_values(cfg: Path) -> None:
    config = load_config(write(cfg, GRID))
    editor = ConfigEditor(config)
    grid, tok = config.endpoints
    editor.replace("grid", replace(grid, timeout=3.0))
    editor.replace("tok", replace(tok, tags=("chrome",)))
    editor.add(replace(grid, name="grid-2", port=4445))
    save_config(config)
    text = cfg.read_text(encoding="utf-8")
    assert PASSWORD not in text and TOKEN not in text
    assert text == (
        "# the grid: secrets live in the environment\n"
        "[[endpoints]]\n"
        'name = "grid"\n'
        'url = "ws://qa@127.0.0.1:4444/session"\n'
        'password_env = "GRID_PW"   # exported by the CI job\n'
        "timeout = 3\n"
        "\n"
        "[[endpoints]]\n"
        'name = "tok"\n'
        'url = "127.0.0.1:9515"\n'
        'headers = { Authorization = { env = "GRID_TOKEN" }, X-Team = "qa" }\n'
        'tags = ["chrome"]\n'
        "\n"
        "[[endpoints]]\n"
        'name = "grid-2"\n'
        'url = "ws://qa@127.0.0.1:4445/session"\n'
        'password_env = "GRID_PW"\n'
    )
    assert [e.password for e in load_config(cfg).endpoints] == [PASSWORD, None, PASSWORD]


@pytest.mark.usefixtures("environment")
def test_an_edit_in_the_dialog_keeps_the_references(cfg: Path) -> None:
    # The dialog rebuilds the endpoint from its fields: the password shows as *** and the
    # headers are carried over as values. The saved file must still name the variables.
    config = load_config(write(cfg, GRID))
    grid, tok = config.endpoints
    fields = {"name": "", "interval": "", "tags": "", "insecure": False, "taken_names": {"tok"}}
    (edited_grid,) = build_endpoints(
        spec=grid.display_url.replace("4444", "4446"), timeout="2", original=grid, **fields
    )
    (edited_tok,) = build_endpoints(
        spec=tok.display_url, timeout="4", original=tok, **{**fields, "taken_names": {"grid"}}
    )
    assert edited_grid.password_env is None  # the dialog does not know about them ...
    renames = {edited_grid.name: "grid", edited_tok.name: "tok"}
    ConfigEditor(config).sync([edited_grid, edited_tok], renames)
    save_config(config)
    text = cfg.read_text(encoding="utf-8")
    assert PASSWORD not in text and TOKEN not in text  # ... the editor does
    assert 'url = "ws://qa@127.0.0.1:4446/session"\npassword_env = "GRID_PW"' in text
    assert 'headers = { Authorization = { env = "GRID_TOKEN" }, X-Team = "qa" }' in text
    reloaded = load_config(cfg)
    assert [(e.port, e.timeout) for e in reloaded.endpoints] == [(4446, 2.0), (9515, 4.0)]


@pytest.mark.usefixtures("environment")
def test_a_new_password_typed_in_the_dialog_replaces_the_reference(cfg: Path) -> None:
    # The user chose to give this endpoint a password of its own: it is written like any
    # typed password, and the variable no longer applies.
    config = load_config(write(cfg, GRID))
    grid = config.endpoints[0]
    (edited,) = build_endpoints(
        spec="ws://qa:typed-here@127.0.0.1:4444/session",
        name="",
        timeout="",
        interval="",
        tags="",
        insecure=False,
        taken_names={"tok"},
        original=grid,
    )
    ConfigEditor(config).replace("grid", edited)
    save_config(config)
    text = cfg.read_text(encoding="utf-8")
    assert 'url = "ws://qa:typed-here@127.0.0.1:4444/session"\n' in text
    assert "password_env" not in text


def test_a_missing_variable_names_the_endpoint_the_key_and_the_variable(cfg: Path) -> None:
    message = config_error(cfg, GRID)
    assert message == (
        f"{cfg}:2: endpoint #1: 'password_env' of endpoint 'grid' names the environment "
        "variable GRID_PW, which is not set; set it (export GRID_PW=...) before starting "
        "bidi-tui"
    )


def test_a_missing_header_variable_names_the_header(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRID_PW", PASSWORD)
    assert config_error(cfg, GRID) == (
        f"{cfg}:7: endpoint #2: header 'Authorization' of endpoint 'tok' names the "
        "environment variable GRID_TOKEN, which is not set; set it (export GRID_TOKEN=...) "
        "before starting bidi-tui"
    )


def test_an_empty_variable_is_an_error_too(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRID_PW", "")
    assert "names the environment variable GRID_PW, which is empty" in config_error(cfg, GRID)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            'url = "ws://qa:inline@h:1/session"\npassword_env = "GRID_PW"',
            "the password is given twice: in the URL and separately",
            id="password-twice",
        ),
        pytest.param(
            'url = "ws://h:1/session"\npassword_env = "GRID_PW"',
            "a password needs a user name in the URL: user@host",
            id="no-user",
        ),
        pytest.param(
            'url = "h:1"\npassword_env = 5',
            "'password_env' of endpoint 'h:1' must name an environment variable, "
            'e.g. "GRID_PW", got 5',
            id="not-a-string",
        ),
        pytest.param(
            'url = "h:1"\nheaders = { Authorization = { env = "GRID TOKEN" } }',
            "header 'Authorization' of endpoint 'h:1' must name an environment variable, "
            "e.g. { env = \"GRID_TOKEN\" }, got a text that is not one (letters, digits and '_')",
            id="header-variable-with-a-space",
        ),
        pytest.param(
            'url = "h:1"\nheaders = { Authorization = { env = "A", value = "b" } }',
            "header 'Authorization' must be a string or { env = \"VARIABLE\" }",
            id="header-table-with-other-keys",
        ),
        pytest.param(
            'url = "ws://qa@h:1/session"',
            "a user name needs a password too: user:password@host "
            "(or user@host with password_env in the config file)",
            id="user-without-password",
        ),
    ],
)
def test_wrong_references_are_clear_errors(
    cfg: Path, environment: None, lines: str, expected: str
) -> None:
    message = config_error(cfg, f"[[endpoints]]\n{lines}\n")
    assert message.startswith(f"{cfg}:1: endpoint #1: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("pasted", ["p@ss w0rd!", "hunter2", "s3cretPW"])
def test_a_password_pasted_into_password_env_is_not_echoed(cfg: Path, pasted: str) -> None:
    message = config_error(
        cfg, f'[[endpoints]]\nurl = "ws://qa@h:1/session"\npassword_env = "{pasted}"\n'
    )
    assert pasted not in message
    assert message.startswith(
        f"{cfg}:1: endpoint #1: 'password_env' of endpoint 'ws://qa@h:1/session'"
    )


@pytest.mark.usefixtures("environment")
def test_a_header_value_from_the_environment_is_checked_like_any(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRID_TOKEN", "Bearer x\r\nX-Injected: 1")
    message = config_error(cfg, GRID)
    assert message == f"{cfg}:7: endpoint #2: header 'Authorization' holds a line break"


@pytest.mark.usefixtures("environment")
def test_a_range_reads_the_variable_for_every_port(cfg: Path) -> None:
    config = load_config(
        write(cfg, '[[endpoints]]\nname = "g"\nurl = "ws://qa@h:1-3/s"\npassword_env = "GRID_PW"\n')
    )
    assert [(e.name, e.password, e.password_env) for e in config.endpoints] == [
        ("g-1", PASSWORD, "GRID_PW"),
        ("g-2", PASSWORD, "GRID_PW"),
        ("g-3", PASSWORD, "GRID_PW"),
    ]


def test_a_command_line_spec_still_needs_its_password() -> None:
    # The command line has no password_env: a user without a password stays an error there,
    # and its message points to the config file.
    with pytest.raises(ValueError, match="or user@host with password_env in the config file"):
        parse_spec("ws://qa@127.0.0.1:4444/session")
