"""The history store against real files and real checks: two runs of an engine sharing
one SQLite file, a flapping server, retention, a crash, damaged and locked files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import Engine
from bidi_tui.history import (
    FLAP_CHANGES,
    HistoryError,
    HistoryReader,
    HistoryStore,
    default_history_path,
    is_flapping,
)
from bidi_tui.history.retention import MAX_CHANGES_KEPT
from bidi_tui.model import ErrorKind, ProbeError, ProbeResult, State
from bidi_tui.settings import Settings
from tests.bidi_servers import Served, bidi_server, status_server, success_frame

PATIENCE = 10.0  # seconds a test waits for what should come at once; only failures wait
PYTHON = sys.executable


async def wait_until(predicate: Callable[[], bool], timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        await asyncio.sleep(0.01)


def one(spec: str) -> Endpoint:
    (endpoint,) = parse_spec(spec)
    return endpoint


def opened(path: Path, days: int = 30, **options: object) -> HistoryStore:
    store = HistoryStore.open(path, days, **options)  # type: ignore[arg-type]
    assert isinstance(store, HistoryStore), store
    return store


@asynccontextmanager
async def watching(
    endpoints: list[Endpoint], store: HistoryStore, interval: float = 0.05
) -> AsyncIterator[Engine]:
    """A real engine checking ``endpoints`` every ``interval`` with ``store`` listening."""
    engine = Engine(
        endpoints,
        settings=Settings(cli_interval=interval, cli_timeout=2.0),
        first_round_spread=0,
        max_backoff=interval,
    )
    engine.subscribe(store.listener)
    engine.start()
    try:
        yield engine
    finally:
        await engine.stop(grace=1.0)


def result(
    endpoint: Endpoint, state: State, at: datetime, latency_ms: float | None = 2.0
) -> ProbeResult:
    error = None
    if state is State.ERROR:
        error = ProbeError(ErrorKind.REFUSED, "refused: connection refused \x1b]52;c;eA==\x07")
        latency_ms = None
    return ProbeResult(
        endpoint=endpoint,
        state=state,
        checked_at=at,
        elapsed_ms=1.0,
        ready=None if error else state is State.READY,
        message=None if error else "fine",
        latency_ms=latency_ms,
        error=error,
    )


def hour_start(hours_ago: int) -> datetime:
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


# --- two runs against real servers ---------------------------------------------------------


async def test_two_runs_share_one_file_and_a_restart_knows_the_state(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.sqlite3"
    async with status_server(ready=True, message="ok") as served:
        endpoint = one(f"ff={served.url}")
        store = opened(path)
        async with watching([endpoint], store) as engine:
            await wait_until(lambda: engine.watch("ff").checks >= 5)
            first_since = engine.watch("ff").state_since
        store.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700

    # Second run: the same file, the browser is gone (its port refuses).
    store = opened(path)
    assert store.last_state("ff") == (State.READY, first_since)
    assert store.uptime("ff", datetime.now(UTC) - timedelta(hours=1)) == 1.0
    async with watching([endpoint], store) as engine:
        await wait_until(lambda: engine.watch("ff").checks >= 3)
        # The engine saw no change (its first result), yet the file's state was ready.
        assert engine.watch("ff").history[0].state is State.ERROR
        assert store.sync()
    store.close()

    reader = HistoryReader.open(path)
    assert isinstance(reader, HistoryReader)
    state, since = reader.last_state("ff") or (None, None)
    assert state is State.ERROR and since is not None and first_since is not None
    assert since > first_since
    changes = reader.changes("ff", 10)
    assert [(c.from_state, c.to_state) for c in changes] == [
        (State.READY, State.ERROR),
        (None, State.READY),
    ]
    assert changes[0].error_kind is ErrorKind.REFUSED
    assert changes[0].message == f"connection refused on port {endpoint.port}"
    assert reader.last_states() == {"ff": (State.ERROR, since)}
    uptime = reader.uptime("ff", datetime.now(UTC) - timedelta(hours=1))
    assert uptime is not None and 0 < uptime < 1
    assert reader.url("ff") == endpoint.display_url
    reader.close()


async def test_a_state_unchanged_across_a_restart_keeps_its_since(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    async with status_server(ready=False, message="Session already started") as served:
        endpoint = one(f"busy={served.url}")
        since = None
        for _run in range(2):
            store = opened(path)
            async with watching([endpoint], store) as engine:
                await wait_until(lambda: engine.watch("busy").checks >= 3)
                since = since or engine.watch("busy").state_since
            store.close()
    reader = HistoryReader.open(path)
    assert isinstance(reader, HistoryReader)
    assert reader.last_state("busy") == (State.NOT_READY, since)
    assert len(reader.changes("busy")) == 1
    # Not ready is busy, not down: it counts as up.
    assert reader.uptime("busy", datetime.now(UTC) - timedelta(hours=1)) == 1.0
    reader.close()


def flapping_server() -> contextlib.AbstractAsyncContextManager[Served]:
    """Answers ready on odd connections and closes with 1011 on even ones."""
    count = 0

    async def script(connection: ServerConnection, request_id: int) -> None:
        nonlocal count
        count += 1
        if count % 2:
            await connection.send(success_frame(True, "ok")(request_id))
        else:
            await connection.close(1011, "internal error")

    return bidi_server(script)


async def test_a_flapping_server_is_flapping_in_the_engine_and_in_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    async with flapping_server() as served:
        endpoint = one(f"flaky={served.url}")
        store = opened(path)
        async with watching([endpoint], store) as engine:
            watch = engine.watch("flaky")
            await wait_until(lambda: watch.checks >= 25)
            assert is_flapping(entry.state for entry in watch.history)
            assert store.sync()
            assert store.flapping("flaky")
            assert len(store.changes("flaky", 100)) > FLAP_CHANGES
        store.close()
    async with status_server() as steady:
        store = opened(path)
        endpoint = one(f"steady={steady.url}")
        async with watching([endpoint], store) as engine:
            await wait_until(lambda: engine.watch("steady").checks >= 25)
            assert not is_flapping(entry.state for entry in engine.watch("steady").history)
            assert store.sync()
        assert not store.flapping("steady")
        assert store.flapping("flaky")  # across the restart, from the file
        store.close()


# --- what is stored ----------------------------------------------------------------------


async def test_uptime_counts_time_in_each_state_and_percentiles_are_kept(
    tmp_path: Path,
) -> None:
    store = opened(tmp_path / "h.sqlite3")
    endpoint = one("e=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(store.listener)
    start = hour_start(3)
    # Ready for the first half of the hour (latencies 1..180 ms), then in error.
    for second in range(0, 3600, 10):
        state = State.READY if second < 1800 else State.ERROR
        engine.record_result(
            "e",
            result(endpoint, state, start + timedelta(seconds=second), latency_ms=second / 10 + 1),
        )
    assert store.sync()
    assert store.uptime("e", start) == pytest.approx(1800 / 3590, abs=1e-6)
    # Half of the first hour counts when the window starts in its middle.
    assert store.uptime("e", start + timedelta(minutes=30)) == pytest.approx(
        900 / (900 + 1790 / 2), abs=1e-6
    )
    assert store.uptime("e", start + timedelta(hours=1)) is None
    assert store.uptime("unknown", start) is None
    (hour,) = store.hours("e", start)
    assert hour.start == start
    assert hour.checks == {State.READY: 180, State.NOT_READY: 0, State.ERROR: 180}
    # The 90th and 178th of the 180 latencies, within the sketch's 1 %.
    assert hour.p50_ms == pytest.approx(90, rel=0.01)
    assert hour.p99_ms == pytest.approx(178, rel=0.01)
    change = store.changes("e", 1)[0]
    # Endpoint text is made safe before it is stored: no escape reaches a terminal.
    assert "\x1b" not in change.message and "\x07" not in change.message
    assert change.to_json() == {
        "at": (start + timedelta(seconds=1800)).isoformat(timespec="milliseconds")[:-6] + "Z",
        "from": "ready",
        "to": "error",
        "message": change.message,
        "error_kind": "refused",
    }
    store.close()


async def test_two_writers_on_one_file_record_each_change_once(tmp_path: Path) -> None:
    """The dashboard and serve watching the same endpoint, each with its own store."""
    path = tmp_path / "h.sqlite3"
    dashboard, serve = opened(path), opened(path)
    endpoint = one("e=127.0.0.1:1")
    engines = [Engine([endpoint]), Engine([endpoint])]
    for engine, store in zip(engines, (dashboard, serve), strict=True):
        engine.subscribe(store.listener)
    start = datetime.now(UTC) - timedelta(minutes=10)
    for step in range(40):
        state = State.READY if (step // 10) % 2 == 0 else State.ERROR
        for offset, engine in enumerate(engines):
            at = start + timedelta(seconds=step * 5 + offset * 0.5)
            engine.record_result("e", result(endpoint, state, at))
        if step % 7 == 0:
            assert dashboard.sync() and serve.sync()
    assert dashboard.sync() and serve.sync()
    changes = dashboard.changes("e", 100)
    assert [c.to_state for c in changes] == [State.ERROR, State.READY, State.ERROR, State.READY]
    (hour, *rest) = dashboard.hours("e", start)
    assert sum(h.checks[State.READY] + h.checks[State.ERROR] for h in [hour, *rest]) == 80
    dashboard.close()
    serve.close()


# --- retention ---------------------------------------------------------------------------


async def test_retention_prunes_at_start_and_keeps_the_latest_state(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = opened(path)
    gone, steady, lively = (
        one("gone=127.0.0.1:1"),
        one("steady=127.0.0.1:2"),
        one("lively=127.0.0.1:3"),
    )
    engine = Engine([gone, steady, lively])
    engine.subscribe(store.listener)
    now = datetime.now(UTC)
    engine.record_result("gone", result(gone, State.READY, now - timedelta(days=5)))
    engine.record_result("steady", result(steady, State.READY, now - timedelta(days=3)))
    engine.record_result("steady", result(steady, State.READY, now - timedelta(minutes=1)))
    for days, state in ((3, State.READY), (2.5, State.ERROR), (0.01, State.READY)):
        engine.record_result("lively", result(lively, state, now - timedelta(days=days)))
    store.close()
    assert sorted(opened(path, 30).names()) == ["gone", "lively", "steady"]

    store = opened(path, days=1)
    assert store.sync()  # pruning at start is done before anything else
    assert sorted(store.names()) == ["lively", "steady"]
    assert [c.to_state for c in store.changes("lively")] == [State.READY]
    # Its only change is 3 days old, but it says since when it is ready.
    assert store.last_state("steady") == (State.READY, now - timedelta(days=3))
    assert store.hours("steady", now - timedelta(days=10))[0].start > now - timedelta(days=1)
    store.close()


async def test_hourly_pruning_caps_the_changes_of_a_flapping_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = opened(path, days=1, prune_interval=0.2)
    endpoint = one("flaky=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(store.listener)
    start = datetime.now(UTC) - timedelta(hours=2)
    total = MAX_CHANGES_KEPT + 200
    for step in range(total):
        state = (State.READY, State.ERROR)[step % 2]
        engine.record_result("flaky", result(endpoint, state, start + timedelta(seconds=step)))
    assert store.sync()
    await wait_until(lambda: len(store.changes("flaky", 10 * total)) == MAX_CHANGES_KEPT)
    newest = store.changes("flaky", 1)[0]
    assert newest.at == start + timedelta(seconds=total - 1)
    store.close()


# --- a crash -------------------------------------------------------------------------------

CRASHING_RUN = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bidi_tui.endpoints import parse_spec
    from bidi_tui.engine import CheckFinished, Engine
    from bidi_tui.history import HistoryStore
    from bidi_tui.settings import Settings
    from tests.bidi_servers import status_server

    async def main():
        store = HistoryStore.open(Path(sys.argv[1]), 30)
        async with status_server() as served:
            engine = Engine(parse_spec("ff=" + served.url),
                            settings=Settings(cli_interval=0.05), first_round_spread=0)
            engine.subscribe(store.listener)
            engine.subscribe(lambda e: isinstance(e, CheckFinished) and print(
                "checked", flush=True))
            engine.start()
            await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def test_a_crash_loses_at_most_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    process = subprocess.Popen(
        [PYTHON, "-c", CRASHING_RUN, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        assert process.stdout is not None
        for _ in range(20):
            assert process.stdout.readline() == "checked\n"
        time.sleep(3.0)  # much more than the second a commit may wait
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(PATIENCE)
        assert process.stdout is not None
        process.stdout.close()
    reader = HistoryReader.open(path)
    assert isinstance(reader, HistoryReader)
    (hour, *more) = reader.hours("ff", datetime.now(UTC) - timedelta(hours=2))
    assert sum(h.checks[State.READY] for h in [hour, *more]) >= 20
    assert reader.last_state("ff") is not None
    reader.close()


# --- damaged, locked and odd files ---------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not a database\n" * 300)
    error = HistoryStore.open(path, 30)
    assert isinstance(error, HistoryError) and not error.off
    message = str(error)
    assert message.startswith(f"history is off: {path}: damaged or not a history database")
    assert "move it away" in message and "BIDI_TUI_STATE_DIR" in message
    assert "\n" not in message
    reader_error = HistoryReader.open(path)
    assert isinstance(reader_error, HistoryError)
    assert path.read_bytes() == b"this is not a database\n" * 300  # never overwritten


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        (lambda p: p.mkdir(), "not a regular file"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE photos (x)").connection.commit(),
            "a SQLite file that is not a bidi-tui history",
        ),
        (
            lambda p: sqlite3.connect(p).execute("PRAGMA user_version = 99"),
            "written by a newer bidi-tui (schema 99",
        ),
    ],
)
def test_files_that_are_not_a_history(
    tmp_path: Path, prepare: Callable[[Path], object], expected: str
) -> None:
    path = tmp_path / "history.sqlite3"
    prepare(path)
    error = HistoryStore.open(path, 30)
    assert isinstance(error, HistoryError)
    assert f"{path}: {expected}" in str(error)


def test_history_days_zero_is_off_without_touching_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.sqlite3"
    error = HistoryStore.open(path, 0)
    assert isinstance(error, HistoryError) and error.off
    assert not path.parent.exists()


def test_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    error = HistoryStore.open(blocker / "history.sqlite3", 30)
    assert isinstance(error, HistoryError)
    assert str(error).startswith(f"history is off: {blocker / 'history.sqlite3'}: ")
    assert "BIDI_TUI_STATE_DIR" in str(error)


def test_the_state_folder_follows_the_environment(tmp_path: Path) -> None:
    assert default_history_path({"BIDI_TUI_STATE_DIR": str(tmp_path)}) == (
        tmp_path / "history.sqlite3"
    )
    assert default_history_path({}).name == "history.sqlite3"
    assert "bidi-tui" in default_history_path({}).parts


async def test_a_file_damaged_while_watching_turns_history_off_not_the_checks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.sqlite3"
    store = opened(path)
    endpoint = one("e=127.0.0.1:1")
    engine = Engine([endpoint])
    engine.subscribe(store.listener)
    start = datetime.now(UTC) - timedelta(hours=30)
    for minute in range(0, 30 * 60, 2):  # enough rows for several pages
        engine.record_result("e", result(endpoint, State.READY, start + timedelta(minutes=minute)))
    store.close()
    size = path.stat().st_size
    with path.open("r+b") as file:  # wreck every page but the first (the header)
        file.seek(4096)
        file.write(b"\xff" * (size - 4096))
    reports: list[str] = []
    store = opened(path, report=reports.append)
    async with status_server() as served:
        live = one(f"live={served.url}")
        async with watching([live], store) as engine:
            await wait_until(lambda: bool(reports))
            checks = engine.watch("live").checks
            await wait_until(lambda: engine.watch("live").checks > checks + 3)
    assert store.off
    (report,) = reports
    assert "\n" not in report and str(path) in report
    assert report.startswith("history is off for this run: ") or report.startswith(
        "history cannot be read: "
    )
    store.close()


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute(sys.argv[2])
    print("locked", flush=True)
    sys.stdin.read()
    connection.execute("COMMIT")
    """
)


def locker(path: Path, statement: str) -> subprocess.Popen[str]:
    """Another program holding ``path`` in a transaction until its stdin closes."""
    process = subprocess.Popen(
        [PYTHON, "-c", LOCKER, str(path), statement],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "locked\n"
    return process


def release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    process.wait(PATIENCE)
    process.stdout.close()


def test_a_file_locked_by_another_program_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    holder = locker(path, "BEGIN EXCLUSIVE")  # a rollback-journal file: readers wait too
    try:
        error = HistoryStore.open(path, 30, busy_timeout=0.2)
        assert isinstance(error, HistoryError)
        assert str(error) == (
            f"history is off: {path}: locked by another program for over 0.2 s; close it "
            "(a sqlite3 shell holding a transaction?), or set BIDI_TUI_STATE_DIR to another "
            "folder"
        )
    finally:
        release(holder)
    assert isinstance(HistoryStore.open(path, 30), HistoryStore)


async def test_writes_wait_for_a_lock_and_go_on_when_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    opened(path).close()
    reports: list[str] = []
    threads: list[threading.Thread] = []

    def report(message: str) -> None:
        reports.append(message)
        threads.append(threading.current_thread())

    store = opened(path, report=report, write_busy_timeout=0.2)
    holder = locker(path, "BEGIN IMMEDIATE")
    try:
        async with status_server() as served:
            endpoint = one(f"ff={served.url}")
            async with watching([endpoint], store) as engine:
                await wait_until(lambda: bool(reports))
                assert reports[0].startswith(f"history waits: {path}: locked by another")
                checks = engine.watch("ff").checks
                await wait_until(lambda: engine.watch("ff").checks > checks + 3)
                release(holder)
                await wait_until(lambda: len(reports) == 2)
                assert reports[1] == f"history: {path} is writable again"
                assert store.sync()
                assert store.last_state("ff") is not None
        # Told on the loop's thread, not the writer's: a UI may act on it at once.
        assert threads == [threading.main_thread()] * 2
    finally:
        if holder.returncode is None:
            release(holder)
        store.close()
