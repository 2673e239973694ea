"""Hooks run by real state changes of real servers: a script in tmp_path writes what it got
(arguments, environment, stdin); failing, hanging, missing and too many hooks; OSC text."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection

from bidi_tui.desktop_notify import NotifyProtocol, desktop_notification
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import CheckFinished, Engine
from bidi_tui.history.flapping import is_flapping, state_changes
from bidi_tui.hooks import (
    HookCommandError,
    HookProblem,
    HookRunner,
    missing_program,
    split_command,
)
from bidi_tui.model import ProbeResult, State
from bidi_tui.settings import Settings
from tests.bidi_servers import Served, bidi_server, success_frame
from tests.test_cli import JSON_KEYS  # what `check --json` gives each endpoint

PATIENCE = 10.0
HOSTILE = "busy \x1b]52;c;ZXZpbA==\x07 \u202enow"

RECORDER = """#!/bin/sh
# Writes what it was given: its arguments and BIDI_* environment, then its stdin.
out="$1"
shift
{ printf 'args=%s\\n' "$*"; env | grep '^BIDI_' | sort; } > "$out/env.$$"
cat > "$out/stdin.$$"
"""


async def wait_until(predicate: Callable[[], bool], timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        await asyncio.sleep(0.01)


def script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)
    return path


@dataclass
class Switchable:
    """A BiDi server whose answer the test switches: ready, busy (with a message), down."""

    served: Served
    answer: dict[str, object] = field(default_factory=lambda: {"ready": True, "message": ""})

    @property
    def url(self) -> str:
        return self.served.url


@asynccontextmanager
async def switchable_server() -> AsyncIterator[Switchable]:
    answer: dict[str, object] = {"ready": True, "message": "", "down": False}

    async def respond(connection: ServerConnection, request_id: int) -> None:
        if answer["down"]:
            await connection.close(1011, "going down")
            return
        frame = success_frame(bool(answer["ready"]), str(answer["message"]))
        await connection.send(frame(request_id))

    async with bidi_server(respond) as served:
        yield Switchable(served, answer)


@asynccontextmanager
async def checking(endpoints: list[Endpoint], runner: HookRunner) -> AsyncIterator[Engine]:
    engine = Engine(
        endpoints,
        settings=Settings(cli_interval=0.05, cli_timeout=2.0),
        first_round_spread=0,
        max_backoff=0.05,
    )
    engine.subscribe(runner)
    engine.start()
    try:
        yield engine
    finally:
        await engine.stop(grace=1.0)
        await runner.close(grace=PATIENCE)


def alive(pid: int) -> bool:
    """A process that runs (a zombie nobody reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def runs(folder: Path) -> list[tuple[dict[str, str], dict[str, object]]]:
    """What each run of the recorder wrote: its environment lines and its stdin JSON."""
    found = []
    for env_file in sorted(folder.glob("env.*")):
        stdin_file = folder / env_file.name.replace("env.", "stdin.")
        lines = env_file.read_text().splitlines()
        environment = dict(line.split("=", 1) for line in lines)
        # bidi-tui's own settings (BIDI_TUI_STATE_DIR) are inherited, not the hook's variables.
        environment = {k: v for k, v in environment.items() if not k.startswith("BIDI_TUI_")}
        found.append((environment, json.loads(stdin_file.read_text())))
    return found


# --- what a hook gets ----------------------------------------------------------------------


async def test_a_change_runs_the_hook_once_with_env_and_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    recorder = script(tmp_path, "record.sh", RECORDER)
    problems: list[HookProblem] = []
    runner = HookRunner([f"{recorder} {out} '$HOME; rm -rf x'"], report=problems.append)
    async with switchable_server() as server:
        (endpoint,) = parse_spec(f"ws://user:secret@127.0.0.1:{server.served.port}/session")
        endpoint = endpoint.with_name("ff-1")
        async with checking([endpoint], runner) as engine:
            watch = engine.watch("ff-1")
            await wait_until(lambda: watch.checks >= 3)
            assert runs(out) == []  # the first result is no change
            server.answer.update(ready=False, message=HOSTILE)
            await wait_until(lambda: watch.state is State.NOT_READY)
            checks = watch.checks
            await wait_until(lambda: watch.checks >= checks + 10 and runner.busy == 0)
    assert problems == []
    ((environment, stdin),) = runs(out)  # once, though ten more checks found it busy
    assert environment == {
        "args": "$HOME; rm -rf x",  # no shell: the words arrive as written
        "BIDI_NAME": "ff-1",
        "BIDI_URL": f"ws://user:***@127.0.0.1:{server.served.port}/session",
        "BIDI_STATE": "not_ready",
        "BIDI_PREVIOUS_STATE": "ready",
        "BIDI_MESSAGE": "busy ␛]52;c;ZXZpbA==␇ \\u202enow",
        "BIDI_ERROR_KIND": "",
    }
    assert set(stdin) == JSON_KEYS | {"previous_state"}
    assert stdin["previous_state"] == "ready" and stdin["state"] == "not_ready"
    assert stdin["message"] == HOSTILE  # JSON is faithful: escaped, so inert
    assert stdin["url"] == environment["BIDI_URL"]
    assert runner.started == 1


async def test_an_error_gives_its_kind(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    recorder = script(tmp_path, "record.sh", RECORDER)
    runner = HookRunner([f"{recorder} {out}"])
    async with switchable_server() as server:
        (endpoint,) = parse_spec(f"ff={server.url}")
        async with checking([endpoint], runner) as engine:
            await wait_until(lambda: engine.watch("ff").checks >= 2)
            server.answer["down"] = True
            await wait_until(lambda: runner.busy == 0 and len(runs(out)) == 1)
            server.answer["down"] = False
            await wait_until(lambda: runner.busy == 0 and len(runs(out)) == 2)
    (down, _), (up, up_stdin) = sorted(runs(out), key=lambda run: run[0]["BIDI_STATE"])
    assert (down["BIDI_STATE"], down["BIDI_PREVIOUS_STATE"]) == ("error", "ready")
    assert down["BIDI_ERROR_KIND"] == "closed"
    assert "1011" in down["BIDI_MESSAGE"]
    assert (up["BIDI_STATE"], up["BIDI_PREVIOUS_STATE"]) == ("ready", "error")
    assert up_stdin["error"] is None


async def test_endpoint_hooks_replace_the_defaults_and_commands_run_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    recorder = script(tmp_path, "record.sh", RECORDER)
    cli, default, own = (f"{recorder} {out} {word}" for word in ("cli", "default", "own"))
    runner = HookRunner([cli], default_commands=[default, cli])
    async with switchable_server() as server:
        (plain,) = parse_spec(f"plain={server.url}")
        (custom,) = parse_spec(f"custom={server.url}")
        custom = replace(custom, on_change=(own,))
        (silent,) = parse_spec(f"silent={server.url}")
        silent = replace(silent, on_change=())
        assert runner.commands_for(plain) == [split_command(cli), split_command(default)]
        async with checking([plain, custom, silent], runner) as engine:
            await wait_until(lambda: all(w.checks >= 2 for w in engine.watches.values()))
            server.answer["ready"] = False
            await wait_until(lambda: runner.busy == 0 and len(runs(out)) == 5)
            await asyncio.sleep(0.3)  # time for a run too many to show
    got = sorted((env["BIDI_NAME"], env["args"].split()[-1]) for env, _ in runs(out))
    # The command line's run for every endpoint, once though the defaults name it too.
    assert got == [
        ("custom", "cli"),
        ("custom", "own"),
        ("plain", "cli"),
        ("plain", "default"),
        ("silent", "cli"),
    ]


# --- hooks that go wrong -------------------------------------------------------------------


def result_for(endpoint: Endpoint, state: State) -> ProbeResult:
    return ProbeResult(
        endpoint=endpoint,
        state=state,
        checked_at=datetime.now(UTC),
        elapsed_ms=1.0,
        ready=state is State.READY,
        message="",
        latency_ms=1.0,
    )


def change(endpoint: Endpoint, engine: Engine, state: State) -> None:
    engine.record_result(endpoint.name, result_for(endpoint, state))


async def test_a_failing_hook_is_reported_with_its_last_stderr_line(tmp_path: Path) -> None:
    script(tmp_path, "fail.sh", "#!/bin/sh\necho first >&2\necho 'no pager' >&2\nexit 3\n")
    problems: list[HookProblem] = []
    environ = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    runner = HookRunner(["fail.sh --farm"], report=problems.append, environ=environ)
    (endpoint,) = parse_spec("ff=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(runner)
    change(endpoint, engine, State.READY)
    change(endpoint, engine, State.ERROR)
    await wait_until(lambda: runner.busy == 0)
    assert [str(p) for p in problems] == [
        "ff: hook 'fail.sh --farm': failed with exit status 3: no pager"
    ]
    await runner.close()


async def test_a_hanging_hook_is_killed_with_its_children_and_checks_go_on(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    hanging = script(tmp_path, "hang.sh", f"#!/bin/sh\nsleep 60 &\necho $! > {pids}\nwait\n")
    problems: list[HookProblem] = []
    runner = HookRunner([str(hanging)], report=problems.append, timeout=2.0)
    async with switchable_server() as server:
        (endpoint,) = parse_spec(f"ff={server.url}")
        async with checking([endpoint], runner) as engine:
            watch = engine.watch("ff")
            await wait_until(lambda: watch.checks >= 2)
            server.answer["ready"] = False
            await wait_until(lambda: pids.exists() and pids.read_text().strip() != "")
            checks = watch.checks
            await wait_until(lambda: bool(problems))
            # The hook hung for 2 s; the checks (every 0.05 s) did not wait for it.
            assert watch.checks >= checks + 5
    assert [p.problem for p in problems] == ["did not finish in 2 s: killed (it and its group)"]
    assert not alive(int(pids.read_text()))


async def test_a_missing_program_is_reported(tmp_path: Path) -> None:
    problems: list[HookProblem] = []
    runner = HookRunner(
        ["no-such-program-anywhere x", str(tmp_path / "gone.sh")], report=problems.append
    )
    (endpoint,) = parse_spec("ff=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(runner)
    change(endpoint, engine, State.READY)
    change(endpoint, engine, State.ERROR)
    await wait_until(lambda: runner.busy == 0)
    assert sorted(p.problem for p in problems) == [
        "cannot start: no such file",
        "cannot start: no such program",
    ]
    await runner.close()


async def test_at_most_four_run_at_once_and_every_change_gets_its_run(tmp_path: Path) -> None:
    running = tmp_path / "running"
    running.mkdir()
    log = tmp_path / "log"
    slow = script(
        tmp_path,
        "slow.sh",
        f"#!/bin/sh\ntouch {running}/$$\nls {running} | wc -l >> {log}\n"
        f"sleep 0.3\nrm {running}/$$\n",
    )
    runner = HookRunner([str(slow)])
    endpoints = [e for i in range(10) for e in parse_spec(f"e{i}=127.0.0.1:{i + 1}")]
    engine = Engine(endpoints)
    engine.subscribe(runner)
    for endpoint in endpoints:
        change(endpoint, engine, State.READY)
    for endpoint in endpoints:
        change(endpoint, engine, State.ERROR)
    assert runner.busy == 10
    await wait_until(lambda: runner.busy == 0)
    counts = [int(line) for line in log.read_text().split()]
    assert len(counts) == 10
    assert max(counts) <= 4
    assert max(counts) >= 2  # they did run side by side
    await runner.close()


async def test_too_many_waiting_are_dropped_and_said_once(tmp_path: Path) -> None:
    slow = script(tmp_path, "slow.sh", "#!/bin/sh\nsleep 0.5\n")
    problems: list[HookProblem] = []
    runner = HookRunner([str(slow)], report=problems.append, max_running=1, max_waiting=2)
    endpoints = [e for i in range(6) for e in parse_spec(f"e{i}=127.0.0.1:{i + 1}")]
    engine = Engine(endpoints)
    engine.subscribe(runner)
    for state in (State.READY, State.ERROR):
        for endpoint in endpoints:
            change(endpoint, engine, state)
    await wait_until(lambda: runner.busy == 0)
    assert [p.problem for p in problems] == [
        "not run: 2 hook runs are waiting already",
        "4 hook runs were dropped while too many waited",
    ]
    assert runner.started == 2
    await runner.close()


async def test_close_kills_what_still_runs(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hanging = script(tmp_path, "hang.sh", f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    runner = HookRunner([str(hanging)], timeout=60)
    (endpoint,) = parse_spec("ff=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(runner)
    change(endpoint, engine, State.READY)
    change(endpoint, engine, State.ERROR)
    await wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
    started = time.monotonic()
    await runner.close(grace=0.2)
    assert time.monotonic() - started < PATIENCE
    assert not alive(int(pid_file.read_text()))
    change(endpoint, engine, State.READY)
    assert runner.busy == 0  # closed: no more runs


# --- commands and their checks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("", "a command is empty"),
        ("   ", "a command is empty"),
        ("notify 'unclosed", 'cannot split "notify \'unclosed" into words: No closing quotation'),
    ],
)
def test_bad_commands(command: str, expected: str) -> None:
    with pytest.raises(HookCommandError) as caught:
        split_command(command)
    assert expected in str(caught.value)


def test_programs_are_looked_up_like_exec_does(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("")
    assert missing_program(("sh",)) is None
    assert missing_program(("no-such-program-anywhere",)) == (
        "'no-such-program-anywhere' is not found on PATH"
    )
    assert missing_program((str(plain),)) == f"{str(plain)!r} is not executable"
    assert missing_program((str(tmp_path / "gone"),)) == f"{str(tmp_path / 'gone')!r}: no such file"


# --- flapping ------------------------------------------------------------------------------

R, E, N = State.READY, State.ERROR, State.NOT_READY


def test_flapping_needs_more_than_five_changes_in_the_last_twenty_checks() -> None:
    assert state_changes([R, E, R, N, N, R]) == 4
    five = [R, E] * 3  # R E R E R E: five changes
    assert not is_flapping(five)
    assert is_flapping([*five, R])
    # Old changes leave the window: twenty steady checks later it is steady again.
    assert not is_flapping([*five, R, *[R] * 19])
    assert is_flapping([*five, R, *[R] * 13])


# --- desktop notifications -----------------------------------------------------------------


def test_osc_777_and_9_carry_safe_text_only() -> None:
    sequence = desktop_notification("bidi;tui", "ff-3: READY → ERROR \x1b]0;pwned\x07\x9c")
    assert sequence.startswith("\x1b]777;notify;bidi,tui;ff-3: READY → ERROR ")
    assert sequence.endswith("\x07")
    payload = sequence[len("\x1b]") : -1]
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in payload)
    assert desktop_notification("", "7;calc.exe", NotifyProtocol.OSC9) == (
        "\x1b]9;bidi-tui: 7;calc.exe\x07"
    )
    assert desktop_notification("bidi-tui", "ff: up", NotifyProtocol.OSC9) == (
        "\x1b]9;bidi-tui: ff: up\x07"
    )
    wrapped = desktop_notification("t", "b", tmux=True)
    assert wrapped == "\x1bPtmux;\x1b\x1b]777;notify;t;b\x07\x1b\\"


def test_the_engine_event_shapes_the_hook_uses() -> None:
    """The runner ignores what is no change: a first result, the same state again."""
    (endpoint,) = parse_spec("ff=127.0.0.1:1")
    first = CheckFinished("ff", result_for(endpoint, State.READY), None)
    again = CheckFinished("ff", result_for(endpoint, State.READY), State.READY)
    runner = HookRunner(["sh -c 'exit 0'"])
    runner(first)  # outside a loop: running anything would raise
    runner(again)
    assert runner.busy == 0
