"""Benchmark: the history file's size at a big farm, and what recording a check costs.

    python bench/history_store.py                     # 2,000 endpoints, 30 days
    python bench/history_store.py --endpoints 500 --days 7 --seconds 5

1. Size: a synthetic fill of a fresh history file, through the store's own schema, with
   2,000 endpoints x 30 days x 24 hourly rows (as many as 30 days of checks leave), plus
   state changes: a typical farm (10 changes per endpoint per day) and the worst case (every
   endpoint flapping, so retention keeps its newest 1,000). The file is then pruned as at
   start and its size read.
2. Queries the dashboard makes, on the typical file.
3. Write cost: results of 2,000 endpoints checked every 5 s (400 per second) go through
   ``store.listener`` in real time for ``--seconds``. The listener's cost on the event loop
   (wall time per call) and the writer thread's CPU per check (its own thread CPU clock),
   the commits made and the longest commit.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import machine_line
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import CheckFinished
from bidi_tui.history import HistoryReader, HistoryStore
from bidi_tui.history.database import open_for_writing
from bidi_tui.history.retention import MAX_CHANGES_KEPT, prune
from bidi_tui.model import ErrorKind, ProbeError, ProbeResult, State

MESSAGES = ("", "Session already started", "connection refused on port 9222")


def fill(path: Path, endpoints: int, days: int, changes_per_day: float | None) -> float:
    """Rows as the writer leaves them; ``changes_per_day`` None: the retention's cap. The
    seconds the prune at start then takes (nothing is old enough to go)."""
    rng = random.Random(7)
    connection = open_for_writing(path, 5.0)
    now = time.time()
    first_hour = int(now // 3600) - days * 24
    connection.execute("BEGIN")
    for index in range(endpoints):
        connection.execute(
            "INSERT INTO endpoints (id, name, url, last_check, recent) VALUES (?, ?, ?, ?, ?)",
            (
                index + 1,
                f"rack{index // 50}-{index % 50 + 1}",
                f"ws://10.0.{index // 250}.{index % 250}:9222/session",
                now,
                "r" * 60,
            ),
        )
        rows = []
        for hour in range(first_hour, first_hour + days * 24):
            errors = rng.choice((0, 0, 0, 0, 1, 3, 12))
            busy = rng.randrange(0, 300)
            ready = 720 - errors - busy
            rows.append(
                (
                    index + 1,
                    hour,
                    ready,
                    busy,
                    errors,
                    ready * 5000,
                    busy * 5000,
                    errors * 5000,
                    ready + busy,
                    rng.randrange(1500, 9000),
                    rng.randrange(9000, 60000),
                )
            )
        connection.executemany("INSERT INTO hours VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        count = MAX_CHANGES_KEPT if changes_per_day is None else int(changes_per_day * days)
        span = days * 86400.0
        states = ("ready", "not_ready", "error")
        changes = []
        previous = None
        for step in range(count):
            state = states[step % 3]
            changes.append(
                (
                    index + 1,
                    now - span + step * span / max(count, 1),
                    previous,
                    state,
                    MESSAGES[step % 3],
                    "refused" if state == "error" else None,
                )
            )
            previous = state
        connection.executemany(
            "INSERT INTO changes (endpoint, at, from_state, to_state, message, error_kind)"
            " VALUES (?,?,?,?,?,?)",
            changes,
        )
    connection.execute("COMMIT")
    started = time.perf_counter()
    prune(connection, days, now)
    pruned = time.perf_counter() - started
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return pruned


def size_report(endpoints: int, days: int) -> None:
    print(
        f"\n1. file size, {endpoints:,} endpoints x {days} days "
        f"({endpoints * days * 24:,} hourly rows)"
    )
    print(f"{'changes kept':<42}{'rows':>12}{'MiB':>9}{'bytes/endpoint-hour':>21}")
    for label, per_day in (
        ("none", 0.0),
        ("10 per endpoint per day", 10.0),
        (f"{MAX_CHANGES_KEPT:,} per endpoint (the cap)", None),
    ):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "history.sqlite3"
            started = time.perf_counter()
            pruned = fill(path, endpoints, days, per_day)
            size = path.stat().st_size
            with sqlite3.connect(path) as connection:
                (changes,) = connection.execute("SELECT count(*) FROM changes").fetchone()
            print(
                f"{label:<42}{changes:>12,}{size / 2**20:>9.1f}"
                f"{size / (endpoints * days * 24):>21.1f}"
                f"   (filled in {time.perf_counter() - started:.0f} s, pruned in {pruned:.2f} s)"
            )


def query_report(endpoints: int, days: int) -> None:
    """What the dashboard's queries cost on the typical file (10 changes a day)."""
    print(f"\n2. queries on the typical file ({endpoints:,} endpoints x {days} days)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        fill(path, endpoints, days, 10.0)
        reader = HistoryReader.open(path)
        assert isinstance(reader, HistoryReader)
        now = datetime.now(UTC)
        name = reader.names()[endpoints // 2]
        queries = {
            "uptimes(24 h ago), every endpoint": lambda: reader.uptimes(now - timedelta(days=1)),
            "uptimes(7 d ago), every endpoint": lambda: reader.uptimes(now - timedelta(days=7)),
            "last_states(), every endpoint": reader.last_states,
            "uptime(name, 7 d ago)": lambda: reader.uptime(name, now - timedelta(days=7)),
            "last_state(name)": lambda: reader.last_state(name),
            "changes(name, 50)": lambda: reader.changes(name, 50),
        }
        for label, query in queries.items():
            times = []
            for _ in range(5):
                started = time.perf_counter()
                query()
                times.append(time.perf_counter() - started)
            print(f"{label:<40} {statistics.median(times) * 1e3:8.2f} ms (median of 5)")
        reader.close()


def farm_endpoints(count: int) -> list[Endpoint]:
    return [
        endpoint
        for index in range(count)
        for endpoint in parse_spec(f"e{index}=10.0.{index // 250}.{index % 250}:9222")
    ]


async def write_cost(endpoints: int, seconds: float) -> None:
    rate = endpoints / 5.0
    print(
        f"\n3. write cost: {endpoints:,} endpoints every 5 s ({rate:.0f} checks/s), "
        f"{seconds:g} s in real time"
    )
    with tempfile.TemporaryDirectory() as folder:
        store = HistoryStore.open(Path(folder) / "history.sqlite3", 30)
        assert isinstance(store, HistoryStore)
        farm = farm_endpoints(endpoints)
        rng = random.Random(3)
        listener = store.listener
        per_call: list[float] = []
        writer = store._writer
        commit_times: list[float] = []
        flush = writer._flush

        def timed_flush() -> bool:
            before = time.perf_counter()
            done = flush()
            commit_times.append(time.perf_counter() - before)
            return done

        writer._flush = timed_flush  # type: ignore[method-assign]
        started = time.monotonic()
        sent = 0
        await asyncio.sleep(0.2)  # the writer's start (load, prune) is not a check's cost
        cpu_clock = time.pthread_getcpuclockid(writer.ident or 0)
        cpu_before = time.clock_gettime(cpu_clock)
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate)
            while sent < due:
                endpoint = farm[sent % endpoints]
                state = State.ERROR if rng.random() < 0.01 else State.READY
                result = ProbeResult(
                    endpoint=endpoint,
                    state=state,
                    checked_at=datetime.now(UTC),
                    elapsed_ms=3.0,
                    ready=state is State.READY,
                    message="",
                    latency_ms=None if state is State.ERROR else rng.uniform(1, 9),
                    error=ProbeError(ErrorKind.REFUSED, "refused")
                    if state is State.ERROR
                    else None,
                )
                event = CheckFinished(endpoint.name, result, State.READY)
                before = time.perf_counter()
                listener(event)
                per_call.append(time.perf_counter() - before)
                sent += 1
            await asyncio.sleep(0.005)
        assert store.sync(30)
        cpu = time.clock_gettime(cpu_clock) - cpu_before
        commits = writer.commits
        store.close()
    print(
        f"checks recorded {sent:,}, commits {commits} ({sent / max(commits, 1):.0f} per commit),"
        f" a commit takes median {statistics.median(commit_times) * 1e3:.1f} ms,"
        f" max {max(commit_times) * 1e3:.1f} ms"
    )
    print(
        f"listener on the loop: median {statistics.median(per_call) * 1e6:.2f} µs, "
        f"p99 {sorted(per_call)[int(len(per_call) * 0.99)] * 1e6:.2f} µs per check"
    )
    print(
        f"writer thread CPU: {cpu / sent * 1e6:.1f} µs per check "
        f"({cpu / seconds * 100:.1f}% of a core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoints", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-size", action="store_true")
    args = parser.parse_args()
    print(machine_line())
    if not args.no_size:
        size_report(args.endpoints, args.days)
        query_report(args.endpoints, args.days)
    asyncio.run(write_cost(args.endpoints, args.seconds))


if __name__ == "__main__":
    main()
