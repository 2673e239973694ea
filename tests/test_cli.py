"""`bidi-tui check`: exit statuses, table and JSON output, config handling, no Textual.

The demo farm runs in a background thread with its own event loop, since ``main()`` calls
``asyncio.run`` itself; a few cases run the real command in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bidi_tui.cli import main
from bidi_tui.demo import DemoFarm, Kind

PYTHON = sys.executable
SUBPROCESS_TIMEOUT = 30
JSON_KEYS = {
    "name",
    "url",
    "state",
    "ready",
    "message",
    "meta",
    "latency_ms",
    "checked_at",
    "error",
}
ERROR_KEYS = {"kind", "detail", "hint"}


class ThreadedFarm:
    """A :class:`DemoFarm` served from a daemon thread; ``url(name)`` gives its URLs."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.urls: dict[str, str] = {}
        self.kinds: dict[str, Kind] = {}
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="demo-farm", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the fixture
            self.failure = exc
            self.started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with DemoFarm.start(seed=5) as farm:
            self.kinds = farm.kinds
            # Time-driven endpoints get a fixed state so every test sees the same answers.
            for name, kind in self.kinds.items():
                if kind is Kind.FLAPPING:
                    farm.set_busy(name, False)
                elif kind in (Kind.FIREFOX_BUSY, Kind.CHROME_BUSY):
                    farm.set_busy(name, True)
            self.urls = {e.name: e.url for e in farm.endpoints}
            self.started.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedFarm:
        self._thread.start()
        assert self.started.wait(10), "demo farm did not start"
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def first(self, kind: Kind) -> str:
        return next(name for name, k in self.kinds.items() if k is kind)

    def spec(self, name: str, alias: str | None = None) -> str:
        return f"{alias or name}={self.urls[name]}"

    def kind_spec(self, kind: Kind, alias: str | None = None) -> str:
        return self.spec(self.first(kind), alias)

    def port(self, name: str) -> int:
        return int(self.urls[name].split(":")[2].split("/")[0])


@pytest.fixture(scope="module")
def farm() -> Iterator[ThreadedFarm]:
    with ThreadedFarm() as served:
        yield served


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes a real user config."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home / "bidi-tui" / "endpoints.toml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``bidi-tui ARGS`` in-process: exit status, stdout, stderr."""
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    code = caught.value.code
    assert isinstance(code, int)
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code, out, err = run(capsys, "check", "--json", *args)
    assert "Traceback" not in err
    data = json.loads(out)
    assert isinstance(data, list)
    return code, data


def assert_usage_error(code: int, out: str, err: str) -> str:
    assert code == 3
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) >= 1
    return err


# --- exit statuses and the table -----------------------------------------------------------


def test_all_ready_exits_0_with_a_table(
    farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [
        farm.kind_spec(Kind.FIREFOX, "ff"),
        farm.kind_spec(Kind.CHROME, "cd"),
        farm.kind_spec(Kind.FLAPPING, "flap"),
    ]
    code, out, err = run(capsys, "check", *specs)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["STATE", "NAME", "URL", "LATENCY", "MESSAGE"]
    assert lines[1].startswith("● READY") and " ff " in lines[1]
    assert farm.urls[farm.first(Kind.FIREFOX)] in lines[1]
    assert " ms" in lines[1]
    assert "cd" in lines[2] and "ChromeDriver ready for new sessions." in lines[2]
    assert "flap" in lines[3]
    assert lines[-1].startswith("3 endpoints: 3 ready, 0 not ready, 0 error, in ")
    assert "\x1b[" not in out  # no colour when not on a terminal


def test_not_ready_exits_1(farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]) -> None:
    specs = [farm.kind_spec(Kind.FIREFOX, "ff"), farm.kind_spec(Kind.FIREFOX_BUSY, "busy")]
    code, out, _ = run(capsys, "check", *specs)
    assert code == 1, out
    busy_line = next(line for line in out.splitlines() if " busy " in line)
    assert busy_line.startswith("◐ NOT READY")
    assert busy_line.endswith("Session already started")
    assert "2 endpoints: 1 ready, 1 not ready, 0 error" in out


def test_refused_port_exits_2_with_kind_and_hint(
    farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [
        farm.kind_spec(Kind.FIREFOX, "ff"),
        farm.kind_spec(Kind.CHROME_BUSY, "busy"),
        farm.kind_spec(Kind.REFUSED, "gone"),
    ]
    code, out, _ = run(capsys, "check", *specs)
    assert code == 2, out
    lines = out.splitlines()
    gone = next(i for i, line in enumerate(lines) if " gone " in line)
    assert lines[gone].startswith("✖ ERROR")
    assert "refused: " in lines[gone]
    assert lines[gone + 1].strip().startswith("hint: ")
    assert "1 ready, 1 not ready, 1 error" in lines[-1]


def test_every_error_kind_of_the_demo_farm(
    farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = {
        Kind.REFUSED: "refused",
        Kind.CDP: "not_bidi",
        Kind.WRONG_PATH: "http_status",
        Kind.HANG: "timeout",
    }
    code, data = run_json(capsys, "--timeout", "0.5", *(farm.kind_spec(k, k.value) for k in kinds))
    assert code == 2
    assert [item["name"] for item in data] == [k.value for k in kinds]
    for item, expected in zip(data, kinds.values(), strict=True):
        assert item["state"] == "error"
        error = item["error"]
        assert isinstance(error, dict)
        assert error["kind"] == expected
    cdp = data[1]["error"]
    assert isinstance(cdp, dict) and "ChromeDriver" in str(cdp["hint"])


# --- usage errors: exit 3, one clear line ----------------------------------------------------


def test_bad_spec_exits_3_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "127.0.0.1:99999")
    assert_usage_error(code, out, err)
    assert err.count("\n") == 1
    assert err.startswith("bidi-tui: bad endpoint '127.0.0.1:99999': port 99999 is out of range")
    assert "good ones look like" in err


def test_bad_spec_never_prints_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "ws://admin:s3cr3t-pw@:9222/session")
    assert_usage_error(code, out, err)
    assert "s3cr3t-pw" not in err
    assert "***" in err


@pytest.mark.parametrize("value", ["0", "-1", "301", "abc", "nan"])
def test_bad_timeout_exits_3(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--timeout", value, "127.0.0.1:9")
    assert_usage_error(code, out, err)
    assert "timeout" in err.lower()


def test_unknown_option_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--bogus", "127.0.0.1:9")
    assert_usage_error(code, out, err)
    assert "--bogus" in err


def test_duplicate_names_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "a=127.0.0.1:9", "a=127.0.0.1:10")
    assert_usage_error(code, out, err)
    assert "two endpoints are named 'a'" in err


def test_malformed_config_exits_3_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "farm.toml"
    path.write_text('[[endpoints]]\nurl = "127.0.0.1:9222\n', encoding="utf-8")
    code, out, err = run(capsys, "check", "--config", str(path))
    assert_usage_error(code, out, err)
    assert err.startswith(f"bidi-tui: config error: {path}:2: invalid TOML")
    assert err.count("\n") == 1


def test_invalid_config_value_exits_3_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "farm.toml"
    path.write_text(
        '[[endpoints]]\nurl = "127.0.0.1:9222"\n\n[[endpoints]]\nurl = "h:1"\ntimeout = "5"\n',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "check", "--config", str(path))
    assert_usage_error(code, out, err)
    assert f"{path}:4: endpoint #2: 'timeout' must be a number" in err


def test_missing_config_file_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.toml"
    code, out, err = run(capsys, "check", "--config", str(path))
    assert_usage_error(code, out, err)
    assert f"{path}: no such file" in err


def test_no_endpoints_and_no_config_exits_3(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check")
    assert_usage_error(code, out, err)
    assert err.startswith("bidi-tui: no endpoints to check")
    assert str(isolated_config) in err
    assert "--config" in err


def test_help_mentions_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--help")
    assert code == 0
    assert "Exit status" in out
    for line in (
        "0  every endpoint is ready",
        "1  at least one is not ready",
        "2  at least one is in error",
        "3  bad usage or bad config",
    ):
        assert line in out
    assert "--json" in out and "--timeout" in out and "--config" in out


# --- config files -------------------------------------------------------------------------


def test_config_endpoints_in_order_and_disabled_ones_skipped(
    farm: ThreadedFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "farm.toml"
    path.write_text(
        "[[endpoints]]\n"
        'name = "ff"\n'
        f'url = "{farm.urls[farm.first(Kind.FIREFOX)]}"\n'
        "\n"
        "[[endpoints]]\n"
        'name = "off"\n'
        f'url = "{farm.urls[farm.first(Kind.REFUSED)]}"\n'
        "enabled = false\n"
        "\n"
        "[[endpoints]]\n"
        'name = "cd"\n'
        f'url = "{farm.urls[farm.first(Kind.CHROME)]}"\n'
        'colour = "blue"\n',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "check", "--config", str(path), "--json")
    assert code == 0, out + err
    assert [item["name"] for item in json.loads(out)] == ["ff", "cd"]
    assert f"warning: {path}:10: endpoint #3: unknown key 'colour' is ignored" in err

    # ENDPOINTs given next to --config come after the config's.
    extra = farm.kind_spec(Kind.FIREFOX_BUSY, "busy")
    code, data = run_json(capsys, "--config", str(path), extra)
    assert code == 1
    assert [item["name"] for item in data] == ["ff", "cd", "busy"]


def test_default_config_is_used_without_arguments(
    farm: ThreadedFarm, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    isolated_config.parent.mkdir(parents=True)
    isolated_config.write_text(
        f'[[endpoints]]\nname = "ff"\nurl = "{farm.urls[farm.first(Kind.FIREFOX)]}"\n',
        encoding="utf-8",
    )
    code, data = run_json(capsys)
    assert code == 0
    assert [item["name"] for item in data] == ["ff"]
    # Given ENDPOINTs, the default config is not read.
    code, data = run_json(capsys, farm.kind_spec(Kind.CHROME, "cd"))
    assert [item["name"] for item in data] == ["cd"]


def test_config_with_every_endpoint_disabled_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "farm.toml"
    path.write_text('[[endpoints]]\nurl = "127.0.0.1:9"\nenabled = false\n', encoding="utf-8")
    code, out, err = run(capsys, "check", "--config", str(path))
    assert_usage_error(code, out, err)
    assert f"{path} has none enabled" in err


def test_config_timeouts_apply_and_the_option_overrides_them(
    farm: ThreadedFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hang = farm.urls[farm.first(Kind.HANG)]
    path = tmp_path / "farm.toml"
    path.write_text(
        "[defaults]\ntimeout = 0.3\n\n"
        f'[[endpoints]]\nname = "a"\nurl = "{hang}"\n\n'
        f'[[endpoints]]\nname = "b"\nurl = "{hang}"\ntimeout = 0.6\n',
        encoding="utf-8",
    )
    code, data = run_json(capsys, "--config", str(path))
    assert code == 2
    details = [str(item["error"]["detail"]) for item in data]  # type: ignore[index]
    assert "within 0.3 s" in details[0]
    assert "within 0.6 s" in details[1]
    code, data = run_json(capsys, "--config", str(path), "--timeout", "0.2")
    details = [str(item["error"]["detail"]) for item in data]  # type: ignore[index]
    assert all("within 0.2 s" in detail for detail in details)


# --- JSON -----------------------------------------------------------------------------------


def test_json_shape_and_input_order(farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]) -> None:
    specs = [
        farm.kind_spec(Kind.REFUSED, "z-gone"),
        farm.kind_spec(Kind.CHROME, "a-cd"),
        farm.kind_spec(Kind.FIREFOX_BUSY, "m-busy"),
        farm.kind_spec(Kind.FIREFOX, "b-ff"),
    ]
    code, data = run_json(capsys, *specs)
    assert code == 2
    assert [item["name"] for item in data] == ["z-gone", "a-cd", "m-busy", "b-ff"]
    for item in data:
        assert set(item) == JSON_KEYS
        assert isinstance(item["url"], str) and item["url"].startswith("ws://127.0.0.1:")
        checked_at = str(item["checked_at"])
        assert checked_at.endswith("Z")
        parsed = datetime.fromisoformat(checked_at.replace("Z", "+00:00"))
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert isinstance(item["meta"], dict)

    gone, cd, busy, ff = data
    assert gone["state"] == "error"
    assert gone["ready"] is None and gone["message"] is None and gone["latency_ms"] is None
    assert isinstance(gone["error"], dict)
    assert set(gone["error"]) == ERROR_KEYS
    assert gone["error"]["kind"] == "refused"
    assert isinstance(gone["error"]["detail"], str) and gone["error"]["detail"]

    assert cd["state"] == "ready" and cd["ready"] is True and cd["error"] is None
    assert cd["message"] == "ChromeDriver ready for new sessions."
    assert isinstance(cd["meta"], dict) and {"build", "os"} <= set(cd["meta"])
    assert isinstance(cd["latency_ms"], int | float) and cd["latency_ms"] > 0

    assert busy["state"] == "not_ready" and busy["ready"] is False
    assert busy["message"] == "Session already started"
    assert ff["state"] == "ready" and ff["message"] == "" and ff["meta"] == {}


def test_password_is_printed_nowhere(
    farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-Pa55"
    ready_port = farm.port(farm.first(Kind.FIREFOX))
    refused_port = farm.port(farm.first(Kind.REFUSED))
    specs = [
        f"ok=ws://admin:{secret}@127.0.0.1:{ready_port}/session",
        f"gone=ws://admin:{secret}@127.0.0.1:{refused_port}/session",
    ]
    code, out, err = run(capsys, "check", *specs)
    assert code == 2
    assert secret not in out + err
    assert f"ws://admin:***@127.0.0.1:{ready_port}/session" in out

    code, out, err = run(capsys, "check", "--json", *specs)
    assert code == 2
    assert secret not in out + err
    assert [item["url"] for item in json.loads(out)] == [
        f"ws://admin:***@127.0.0.1:{ready_port}/session",
        f"ws://admin:***@127.0.0.1:{refused_port}/session",
    ]


def test_hanging_endpoints_take_one_timeout_not_their_sum(
    farm: ThreadedFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    hang = farm.urls[farm.first(Kind.HANG)]
    specs = [f"hang-{i}={hang}" for i in range(5)]
    began = time.monotonic()
    code, data = run_json(capsys, "--timeout", "1", *specs)
    took = time.monotonic() - began
    assert code == 2
    assert [item["error"]["kind"] for item in data] == ["timeout"] * 5  # type: ignore[index]
    assert 0.9 <= took < 3.0


# --- as a real command ----------------------------------------------------------------------


def run_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_python_dash_m_check_as_a_subprocess(farm: ThreadedFarm, tmp_path: Path) -> None:
    ready = farm.kind_spec(Kind.FIREFOX, "ff")
    gone = farm.kind_spec(Kind.REFUSED, "gone")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    done = run_command(PYTHON, "-m", "bidi_tui", "check", "--json", ready, gone, env=env)
    assert done.returncode == 2, done.stderr
    assert [item["state"] for item in json.loads(done.stdout)] == ["ready", "error"]

    done = run_command(PYTHON, "-m", "bidi_tui", "check", ready, env=env)
    assert done.returncode == 0, done.stderr
    assert "● READY" in done.stdout

    done = run_command(PYTHON, "-m", "bidi_tui", "check", "not a spec", env=env)
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.startswith("bidi-tui: bad endpoint 'not a spec'")
    assert "Traceback" not in done.stderr


def test_console_script_help(tmp_path: Path) -> None:
    script = Path(PYTHON).parent / "bidi-tui"
    if not script.exists():
        pytest.skip("the bidi-tui console script is not installed next to this Python")
    done = run_command(str(script), "check", "--help", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert done.returncode == 0
    assert "3  bad usage or bad config" in done.stdout


def test_check_never_imports_textual(farm: ThreadedFarm, tmp_path: Path) -> None:
    spec = farm.kind_spec(Kind.FIREFOX, "ff")
    code = (
        "import sys\n"
        "import bidi_tui.cli\n"
        "try:\n"
        f"    bidi_tui.cli.main(['check', '--json', {spec!r}])\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
        "sys.exit(status)\n"
    )
    done = run_command(PYTHON, "-c", code, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["state"] == "ready"


def test_core_modules_import_no_textual() -> None:
    """Every module outside bidi_tui.ui, found by walking the package (a new core module is
    covered without being listed), imports without Textual; the dashboard does load it."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import bidi_tui\n"
        "core = sorted(m.name for m in pkgutil.walk_packages(bidi_tui.__path__, 'bidi_tui.')\n"
        "              if not m.name.startswith(('bidi_tui.ui', 'bidi_tui.__main__')))\n"
        "assert len(core) > 20, core\n"
        "for name in core:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
        "import bidi_tui.ui.app\n"  # the control: the dashboard does load it
        "assert 'textual' in sys.modules\n"
        "print(len(core))\n"
    )
    done = run_command(PYTHON, "-c", code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 20


def test_top_level_help_shows_the_dashboards_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "Usage: bidi-tui [DASHBOARD OPTIONS] [ENDPOINT]..." in out
    for option in ("--demo", "--interval SECONDS", "--timeout SECONDS", "--bell", "--config"):
        assert option in out, option
    assert "check" in out and "watch" in out
