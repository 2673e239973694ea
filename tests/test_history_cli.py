"""``bidi-tui history``: JSON of exactly the documented shape and text from a history that
real checks wrote; damaged and locked files, unknown names and durations as one line and
exit status 3; ``watch --on-change`` checks its commands before anything starts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bidi_tui.cli import main
from bidi_tui.endpoints import parse_spec
from bidi_tui.engine import Engine
from bidi_tui.history import HistoryStore
from bidi_tui.history.report import DurationError, parse_duration
from bidi_tui.model import ProbeResult, State
from bidi_tui.settings import Settings
from tests.bidi_servers import status_server
from tests.test_history import LOCKER

PYTHON = sys.executable
PATIENCE = 10.0
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("BIDI_TUI_STATE_DIR", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    assert isinstance(caught.value.code, int)
    return caught.value.code, out, err


async def record_a_real_run(state_dir: Path) -> None:
    """ff answers ready, then stops (refused); gone never answers at all."""
    store = HistoryStore.open(state_dir / "history.sqlite3", 30)
    assert isinstance(store, HistoryStore)
    async with status_server(ready=True, message="ok") as served:
        endpoints = [*parse_spec(f"ff={served.url}"), *parse_spec("gone=127.0.0.1:1")]
        engine = Engine(
            endpoints,
            settings=Settings(cli_interval=0.05, cli_timeout=2.0),
            first_round_spread=0,
            max_backoff=0.05,
        )
        engine.subscribe(store.listener)
        engine.start()
        deadline = time.monotonic() + PATIENCE
        while engine.watch("ff").checks < 5 or engine.watch("gone").checks < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    # The server is gone now: its port refuses.
    checks = engine.watch("ff").checks
    while engine.watch("ff").checks < checks + 3:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await engine.stop(grace=1.0)
    store.close()


def test_json_of_a_real_run_in_another_process(state_dir: Path) -> None:
    asyncio.run(record_a_real_run(state_dir))
    done = subprocess.run(
        [PYTHON, "-m", "bidi_tui", "history", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)
    assert [entry["name"] for entry in data] == ["ff", "gone"]
    for entry in data:
        assert set(entry) == {"name", "url", "uptime", "flapping", "changes"}
        assert set(entry["uptime"]) == {"1h", "24h", "7d"}
        assert entry["flapping"] is False
        for change in entry["changes"]:
            assert set(change) == {"at", "from", "to", "message", "error_kind"}
            assert ISO_UTC.match(change["at"])
    ff, gone = data
    assert ff["url"].startswith("ws://127.0.0.1:") and ff["url"].endswith("/session")
    assert [(c["from"], c["to"], c["error_kind"]) for c in ff["changes"]] == [
        ("ready", "error", "refused"),
        (None, "ready", None),
    ]
    assert ff["changes"][0]["at"] > ff["changes"][1]["at"]
    assert 0 < ff["uptime"]["1h"] < 1
    assert ff["uptime"]["1h"] == ff["uptime"]["24h"] == ff["uptime"]["7d"]
    assert gone["uptime"] == {"1h": 0.0, "24h": 0.0, "7d": 0.0}
    assert [c["to"] for c in gone["changes"]] == ["error"]


async def test_text_names_states_uptimes_and_changes(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await record_a_real_run(state_dir)
    code, out, err = run(capsys, "history", "ff")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert re.match(
        r"^ff  ws://127\.0\.0\.1:\d+/session  ✖ ERROR since \S+ \S+Z \(\d+s\)$", lines[0]
    )
    assert re.match(r"^  uptime  1h \d+\.\d%  ·  24h \d+\.\d%  ·  7d \d+\.\d%$", lines[1])
    assert lines[2] == "  changes in the last 24h, newest first:"
    assert re.match(
        r"^    \S+ \S+Z  ● READY → ✖ ERROR  refused: connection refused on port", lines[3]
    )
    assert re.match(r"^    \S+ \S+Z  first check → ● READY  ok$", lines[4])
    assert len(lines) == 5
    # A spec naming it by URL finds it too.
    url = lines[0].split()[1]
    assert run(capsys, "history", url)[1] == out


def test_since_limits_the_changes(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = HistoryStore.open(state_dir / "history.sqlite3", 30)
    assert isinstance(store, HistoryStore)
    (endpoint,) = parse_spec("ff=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(store.listener)
    now = datetime.now(UTC)
    for hours_ago, state in ((50, State.READY), (30, State.NOT_READY), (1, State.READY)):
        engine.record_result(
            "ff",
            ProbeResult(
                endpoint=endpoint,
                state=state,
                checked_at=now - timedelta(hours=hours_ago),
                elapsed_ms=1,
                ready=state is State.READY,
                latency_ms=1.0,
            ),
        )
    store.close()
    changes = lambda *args: [  # noqa: E731
        c["to"] for c in json.loads(run(capsys, "history", "--json", *args)[1])[0]["changes"]
    ]
    assert changes() == ["ready"]
    assert changes("--since", "2d") == ["ready", "not_ready"]
    assert changes("--since", "1w") == ["ready", "not_ready", "ready"]


def test_no_history_yet(
    state_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "farm.toml"
    config.write_text(
        "[defaults]\nhistory_days = 0\n[[endpoints]]\nname = 'ff'\nurl = '127.0.0.1:9'\n"
    )
    code, out, err = run(capsys, "history", "--json", "--config", str(config))
    assert code == 0
    assert json.loads(out) == [
        {
            "name": "ff",
            "url": "ws://127.0.0.1:9/session",
            "uptime": {"1h": None, "24h": None, "7d": None},
            "flapping": False,
            "changes": [],
        }
    ]
    assert err.splitlines() == [
        f"note: no history yet at {state_dir / 'history.sqlite3'}: the dashboard and serve "
        "record it as they watch",
        f"note: history_days = 0 in {config}: nothing new is recorded",
    ]
    assert not state_dir.exists()  # reading never creates anything


def test_a_damaged_file_is_one_line_and_status_3(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir.mkdir()
    path = state_dir / "history.sqlite3"
    path.write_bytes(b"\x00garbage" * 1000)
    code, out, err = run(capsys, "history")
    assert (code, out) == (3, "")
    assert err == (
        f"bidi-tui: cannot read the history: {path}: damaged or not a history database "
        "(file is not a database); move it away and a new one is started, or set "
        "BIDI_TUI_STATE_DIR to another folder\n"
    )


def test_a_locked_file_is_one_line_and_status_3(state_dir: Path) -> None:
    state_dir.mkdir()
    path = state_dir / "history.sqlite3"
    holder = subprocess.Popen(
        [PYTHON, "-c", LOCKER, str(path), "BEGIN EXCLUSIVE"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        done = subprocess.run(
            [PYTHON, "-m", "bidi_tui", "history"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
            check=False,
        )
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(PATIENCE)
        holder.stdout.close()
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        f"bidi-tui: cannot read the history: {path}: locked by another program for over 2 s; "
        "close it (a sqlite3 shell holding a transaction?), or set BIDI_TUI_STATE_DIR to "
        "another folder\n"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["history", "nosuch"], "bidi-tui: no endpoint 'nosuch' in the config or in the history"),
        (["history", "--since", "5"], "bidi-tui: --since: '5' is not a duration; give a number"),
        (["history", "--since", "3x"], "bidi-tui: --since: '3x' is not a duration"),
        (["history", "--since", "9999d"], "bidi-tui: --since: '9999d' is longer than 3650 days"),
    ],
)
def test_usage_mistakes(
    state_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (3, "")
    assert err.startswith(expected) and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86400),
        ("7d", 604800),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (" 2 D ", 172800),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_a_bad_duration() -> None:
    with pytest.raises(DurationError):
        parse_duration("h")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "no-such-program-anywhere --x",
            "bidi-tui: --on-change: 'no-such-program-anywhere' is "
            "not found on PATH; give a program that exists, or its path\n",
        ),
        (
            "notify 'open",
            'bidi-tui: --on-change: cannot split "notify \'open" into words: '
            "No closing quotation\n",
        ),
        (
            "",
            "bidi-tui: --on-change: a command is empty; give a program, e.g. "
            "'notify-send bidi-tui'\n",
        ),
    ],
)
def test_watch_refuses_a_bad_on_change_before_starting(
    state_dir: Path, capsys: pytest.CaptureFixture[str], command: str, expected: str
) -> None:
    code, out, err = run(capsys, "watch", "--on-change", command, "127.0.0.1:9")
    assert (code, out, err) == (3, "", expected)


def test_history_help_names_the_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "history", "--help")
    assert code == 0
    assert "over 5 state changes in its last 20 checks" in " ".join(out.split())
    assert "--since DURATION" in out


def test_history_and_hooks_import_no_textual() -> None:
    code = (
        "import sys\n"
        "import bidi_tui.history, bidi_tui.history.report, bidi_tui.hooks\n"
        "import bidi_tui.desktop_notify\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
