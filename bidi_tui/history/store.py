"""The history store: an engine listener that records, and the queries that read it back.

:class:`HistoryStore` is what the dashboard and ``serve`` open (it writes, through the
thread in :mod:`bidi_tui.history.writer`); :class:`HistoryReader` is what ``bidi-tui
history`` opens (read-only, never creating anything). Both answer the same queries. A
query takes a few milliseconds (an index lookup, or one pass over the hours asked for);
``uptimes`` over every endpoint is the one to run off the event loop at a big farm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bidi_tui.engine import CheckFinished, EngineEvent, WatchChanged
from bidi_tui.history.database import (
    OPEN_BUSY_TIMEOUT,
    WRITE_BUSY_TIMEOUT,
    HistoryError,
    describe,
    open_for_reading,
    open_for_writing,
)
from bidi_tui.history.flapping import is_flapping
from bidi_tui.history.records import STATES
from bidi_tui.history.writer import PRUNE_INTERVAL, Writer
from bidi_tui.model import ErrorKind, State
from bidi_tui.untrusted import SafeText, one_line

_log = logging.getLogger(__name__)

Report = Callable[[str], None]


def iso_utc(moment: datetime) -> str:
    """``2025-01-01T10:00:03.250Z``, as ``check --json`` writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _state(value: Any) -> State | None:
    try:
        return State(value)
    except ValueError:  # a file edited by hand: its row is skipped, not trusted
        return None


def _kind(value: Any) -> ErrorKind | None:
    try:
        return None if value is None else ErrorKind(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Change:
    """One state change; ``from_state`` None is the first check ever recorded."""

    at: datetime
    from_state: State | None
    to_state: State
    message: SafeText
    error_kind: ErrorKind | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso_utc(self.at),
            "from": None if self.from_state is None else self.from_state.value,
            "to": self.to_state.value,
            "message": self.message,
            "error_kind": None if self.error_kind is None else self.error_kind.value,
        }


@dataclass(frozen=True)
class HourSummary:
    """One endpoint's hour: checks by result, and latency percentiles (None: no answer)."""

    start: datetime
    checks: dict[State, int]
    p50_ms: float | None
    p99_ms: float | None


class _Queries:
    """What the history holds, read through one connection shared under a lock."""

    path: Path

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self.problem: str | None = None  # why reading failed, once it did

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            if self._connection is None:
                return []
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                if self.problem is None:
                    self.problem = describe(self.path, exc, OPEN_BUSY_TIMEOUT)
                    self._read_failed(self.problem)
                return []

    def _read_failed(self, problem: str) -> None:
        _log.warning("history cannot be read: %s", problem)

    def names(self) -> list[str]:
        """Every endpoint the history knows, by name."""
        return [row[0] for row in self._rows("SELECT name FROM endpoints ORDER BY name")]

    def urls(self) -> dict[str, str]:
        """Every endpoint's URL (password masked) at its last recorded check, by name."""
        return {name: one_line(url) for name, url in self._rows("SELECT name, url FROM endpoints")}

    def url(self, name: str) -> str | None:
        """The endpoint's URL (password masked) at its last recorded check."""
        rows = self._rows("SELECT url FROM endpoints WHERE name = ?", (name,))
        return one_line(rows[0][0]) if rows else None

    def last_state(self, name: str) -> tuple[State, datetime] | None:
        """The latest recorded state and since when, across restarts: "in state since"."""
        for to_state, at in self._rows(
            "SELECT c.to_state, c.at FROM changes c JOIN endpoints e ON c.endpoint = e.id"
            " WHERE e.name = ? ORDER BY c.at DESC, c.id DESC LIMIT 1",
            (name,),
        ):
            state = _state(to_state)
            if state is not None:
                return state, _moment(at)
        return None

    def last_states(self) -> dict[str, tuple[State, datetime]]:
        """:meth:`last_state` of every endpoint, in one query (for a dashboard's start)."""
        states: dict[str, tuple[State, datetime]] = {}
        for name, to_state, at in self._rows(
            "SELECT e.name, c.to_state, c.at FROM endpoints e JOIN changes c ON c.id = ("
            "SELECT id FROM changes WHERE endpoint = e.id ORDER BY at DESC, id DESC LIMIT 1)"
        ):
            state = _state(to_state)
            if state is not None:
                states[name] = (state, _moment(at))
        return states

    def changes(self, name: str, limit: int = 50, since: datetime | None = None) -> list[Change]:
        """The endpoint's changes, newest first: at most ``limit``, none before ``since``."""
        rows = self._rows(
            "SELECT c.at, c.from_state, c.to_state, c.message, c.error_kind FROM changes c"
            " JOIN endpoints e ON c.endpoint = e.id WHERE e.name = ? AND c.at >= ?"
            " ORDER BY c.at DESC, c.id DESC LIMIT ?",
            (name, 0.0 if since is None else since.timestamp(), limit),
        )
        changes = []
        for at, from_state, to_state, message, error_kind in rows:
            to = _state(to_state)
            if to is None:
                continue
            changes.append(
                Change(_moment(at), _state(from_state), to, one_line(message), _kind(error_kind))
            )
        return changes

    def uptime(self, name: str, since: datetime) -> float | None:
        """The share of time since ``since`` it answered (ready or not ready, i.e. not in
        error), 0-1; None without data. Time between two checks counts for the state the
        first found; the first hour is counted pro rata."""
        return self._uptimes(since, name).get(name)

    def uptimes(self, since: datetime) -> dict[str, float | None]:
        """:meth:`uptime` of every endpoint with data since ``since``, in one query."""
        return self._uptimes(since, None)

    def _uptimes(self, since: datetime, name: str | None) -> dict[str, float | None]:
        start = since.timestamp()
        first = int(start // 3600)
        share = ((first + 1) * 3600 - start) / 3600  # of the first hour, inside the window
        where = "" if name is None else " AND e.name = ?"
        rows = self._rows(
            "SELECT e.name,"
            " sum((h.ready_ms + h.not_ready_ms) * (CASE WHEN h.hour = ?1 THEN ?2 ELSE 1 END)),"
            " sum((h.ready_ms + h.not_ready_ms + h.error_ms)"
            " * (CASE WHEN h.hour = ?1 THEN ?2 ELSE 1 END)),"
            " sum(h.ready + h.not_ready), sum(h.ready + h.not_ready + h.error)"
            " FROM hours h JOIN endpoints e ON h.endpoint = e.id WHERE h.hour >= ?1"
            + where
            + " GROUP BY e.name",
            (first, share) if name is None else (first, share, name),
        )
        result: dict[str, float | None] = {}
        for endpoint, up_ms, all_ms, up_checks, all_checks in rows:
            if all_ms:
                result[endpoint] = up_ms / all_ms
            elif all_checks:  # a single check: no time between checks yet
                result[endpoint] = up_checks / all_checks
            else:
                result[endpoint] = None
        return result

    def hours(self, name: str, since: datetime) -> list[HourSummary]:
        """Its hours from the one holding ``since``, oldest first."""
        rows = self._rows(
            "SELECT h.hour, h.ready, h.not_ready, h.error, h.p50_us, h.p99_us FROM hours h"
            " JOIN endpoints e ON h.endpoint = e.id WHERE e.name = ? AND h.hour >= ?"
            " ORDER BY h.hour",
            (name, int(since.timestamp() // 3600)),
        )
        return [
            HourSummary(
                _moment(hour * 3600.0),
                {State.READY: ready, State.NOT_READY: not_ready, State.ERROR: error},
                None if p50 is None else p50 / 1000,
                None if p99 is None else p99 / 1000,
            )
            for hour, ready, not_ready, error, p50, p99 in rows
        ]

    def recent_states(self, name: str) -> list[State]:
        """Its last recorded checks' states (up to 60), oldest first."""
        rows = self._rows("SELECT recent FROM endpoints WHERE name = ?", (name,))
        return [STATES[letter] for letter in (rows[0][0] if rows else "") if letter in STATES]

    def flapping(self, name: str) -> bool:
        """:func:`~bidi_tui.history.flapping.is_flapping` over its recorded checks."""
        return is_flapping(self.recent_states(name))

    def _close_reader(self) -> None:
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._connection.close()
                self._connection = None


class HistoryReader(_Queries):
    """Read-only access, for ``bidi-tui history``."""

    @classmethod
    def open(
        cls, path: Path, *, busy_timeout: float = OPEN_BUSY_TIMEOUT
    ) -> HistoryReader | HistoryError | None:
        """The history at ``path``; None when there is none yet (nothing is created)."""
        try:
            connection = open_for_reading(path, busy_timeout)
        except HistoryError as exc:
            return exc
        return None if connection is None else cls(path, connection)

    def close(self) -> None:
        self._close_reader()


class HistoryStore(_Queries):
    """Records every result the engine reports; see the package's docstring."""

    def __init__(self, path: Path, connection: sqlite3.Connection, writer: Writer) -> None:
        super().__init__(path, connection)
        self._writer = writer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._report: Report | None = None
        self._closed = False
        self._untold: list[str] = []  # problems met before the first event named the loop
        self._untold_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: Path,
        days: int,
        *,
        report: Report | None = None,
        busy_timeout: float = OPEN_BUSY_TIMEOUT,
        write_busy_timeout: float = WRITE_BUSY_TIMEOUT,
        prune_interval: float = PRUNE_INTERVAL,
    ) -> HistoryStore | HistoryError:
        """Open (or create) the history at ``path``, keeping ``days`` days; the error says
        why not in one line (``error.off``: history_days = 0). Waits at most
        ``busy_timeout`` seconds for a locked file. ``report`` hears of later failures."""
        if days <= 0:
            return HistoryError("history is off (history_days = 0)", off=True)
        try:
            connection = open_for_writing(path, busy_timeout)
        except HistoryError as exc:
            return HistoryError(f"history is off: {exc}")
        holder: list[HistoryStore] = []
        writer = Writer(
            path,
            days,
            busy_timeout=write_busy_timeout,
            report=lambda message: holder[0]._deliver(message),
            prune_interval=prune_interval,
        )
        store = cls(path, connection, writer)
        store._report = report
        with contextlib.suppress(RuntimeError):  # opened on the loop: that is the one
            store._loop = asyncio.get_running_loop()
        holder.append(store)
        writer.start()
        return store

    @property
    def off(self) -> bool:
        """A failure turned history off for this run (it was reported)."""
        return self._writer.off or self._closed

    @property
    def listener(self) -> Callable[[EngineEvent], None]:
        """Subscribe this to the engine: ``engine.subscribe(store.listener)``."""
        return self._on_event

    def _on_event(self, event: EngineEvent) -> None:
        # On the loop, for every event: a queue put, nothing more.
        if self._closed or self._writer.off:
            return
        if self._loop is None:
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
                self._tell_untold()
        if isinstance(event, CheckFinished):
            self._writer.queue.put((event.name, event.result))
        elif isinstance(event, WatchChanged):
            self._writer.queue.put((event.name, None))

    def sync(self, timeout: float = 10.0) -> bool:
        """Block until everything recorded so far is committed (a second at most,
        normally); False if that took over ``timeout`` seconds."""
        return self._closed or self._writer.sync(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Commit what is pending and close the file. Blocks up to the write busy timeout
        plus a second when another program holds the file locked."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        self._writer.join(self._writer.busy_timeout + 2.0 if timeout is None else timeout)
        self._close_reader()

    def _deliver(self, message: str) -> None:
        """A problem, told to ``report`` on the loop that gives the events (one met before
        the first event waits for it, as the writer thread must not call the UI)."""
        _log.warning("%s", message)
        if self._report is None:
            return
        with self._untold_lock:
            self._untold.append(message)
        if self._loop is not None:
            self._tell_untold()

    def _tell_untold(self) -> None:
        with self._untold_lock:
            messages, self._untold = self._untold, []
        report, loop = self._report, self._loop
        if report is None or loop is None or loop.is_closed():
            return
        for message in messages:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(report, message)

    def _read_failed(self, problem: str) -> None:
        super()._read_failed(problem)
        self._deliver(f"history cannot be read: {problem}")
