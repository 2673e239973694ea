"""The history writer: a thread that turns the engine's results into rows, off the loop.

The engine's listener only puts ``(name, result)`` on a queue. This thread keeps, per
endpoint and hour, the checks by result, the time spent in each state and a latency
sketch, and commits what is new at most :data:`FLUSH_INTERVAL` after it arrived (so a
crash loses at most that), in one transaction. It prunes at start and every
:data:`PRUNE_INTERVAL`.

A state change is written when the file's latest state for that endpoint differs from
the new one, checked inside the transaction: so the first check after a restart records
a change only if the state really changed while nobody watched, and two programs (the
dashboard and ``serve``) watching one endpoint record each change once.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bidi_tui.history.database import connect, describe
from bidi_tui.history.records import COLUMN, LETTERS, STATES, HourRecord, PendingChange, Track
from bidi_tui.history.retention import prune
from bidi_tui.model import ProbeResult, State
from bidi_tui.untrusted import one_line

FLUSH_INTERVAL = 1.0
PRUNE_INTERVAL = 3600.0
GAP_CAP = 600.0  # seconds between two checks counted at most (a laptop asleep counts not)
LOCKED_GIVE_UP = 300.0  # seconds of a locked file before history turns off

Report = Callable[[str], None]


class _Stop:
    pass


# (name, result) for a finished check; (name, None) when it was paused, resumed or edited.
Item = tuple[str, ProbeResult | None] | threading.Event | _Stop


class Writer(threading.Thread):
    """Owns its own connection; everything else talks to it through :attr:`queue`."""

    def __init__(
        self,
        path: Path,
        days: int,
        *,
        busy_timeout: float,
        report: Report,
        prune_interval: float = PRUNE_INTERVAL,
    ) -> None:
        super().__init__(name="bidi-tui history", daemon=True)
        self.path = path
        self.days = days
        self.busy_timeout = busy_timeout
        self.prune_interval = prune_interval
        self.queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self.off = False  # a failure turned history off for this run
        self._report = report
        self._connection: sqlite3.Connection | None = None
        self._tracks: dict[str, Track] = {}
        self._changes: list[PendingChange] = []
        self._dirty: set[str] = set()  # endpoints with something not yet committed
        self._locked_since: float | None = None
        self.urgent = threading.Event()
        self.checks_taken = 0
        self.commits = 0

    # --- the thread -----------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._connection = connect(self.path, self.busy_timeout)
            self._load()
            self._prune()
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
        try:
            self._serve()
        finally:
            if self._connection is not None:
                self._connection.close()

    def _serve(self) -> None:
        next_prune = time.monotonic() + self.prune_interval
        deadline: float | None = None  # when what is pending must be committed
        while True:
            if deadline is None:
                # Nothing pending: sleep until something arrives (or pruning is due).
                try:
                    first = self.queue.get(timeout=max(next_prune - time.monotonic(), 0.0))
                    items = [first, *self._drain()]
                except queue.Empty:
                    items = []
            else:
                # Pending: collect until it is due, woken early only by close() or sync().
                self.urgent.wait(max(min(deadline, next_prune) - time.monotonic(), 0.0))
                self.urgent.clear()
                items = self._drain()
            stop = False
            synced: list[threading.Event] = []
            for item in items:
                if isinstance(item, _Stop):
                    stop = True
                elif isinstance(item, threading.Event):
                    synced.append(item)
                elif not self.off:
                    self._take(*item)
            if deadline is None and self._pending():
                deadline = time.monotonic() + FLUSH_INTERVAL
            if deadline is not None and (stop or synced or time.monotonic() >= deadline):
                deadline = None if self._flush() else time.monotonic() + FLUSH_INTERVAL
            for event in synced:
                event.set()
            if stop:
                return
            if time.monotonic() >= next_prune:
                if not self.off:
                    self._guarded(self._prune)
                next_prune = time.monotonic() + self.prune_interval

    def _drain(self) -> list[Item]:
        items: list[Item] = []
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                return items

    def stop(self) -> None:
        """Commit what is pending and end the thread (returns at once; join to wait)."""
        self.queue.put(_Stop())
        self.urgent.set()

    def sync(self, timeout: float) -> bool:
        """Wait until everything queued so far is committed (or history is off)."""
        done = threading.Event()
        self.queue.put(done)
        self.urgent.set()
        return done.wait(timeout)

    # --- taking results -------------------------------------------------------------------

    def _track(self, name: str) -> Track:
        track = self._tracks.get(name)
        if track is None:
            track = self._tracks[name] = Track(name)
        return track

    def _take(self, name: str, result: ProbeResult | None) -> None:
        track = self._track(name)
        if result is None:
            track.last_at = None  # the time until its next check is not counted
            return
        self.checks_taken += 1
        at = result.checked_at.timestamp()
        state = result.state
        if track.last_at is not None and track.last_state is not None:
            self._add_time(track, track.last_state, track.last_at, min(at, track.last_at + GAP_CAP))
        track.last_at, track.last_state = at, state
        hour = self._hour(track, int(at // 3600))
        hour.checks[COLUMN[state]] += 1
        if result.latency_ms is not None:
            hour.latency.add(result.latency_ms)
        track.url = result.endpoint.display_url
        track.last_check = max(track.last_check, at)
        track.recent.append(LETTERS[state])
        self._dirty.add(name)
        if state is not track.stored_state:
            kind = None if result.error is None else result.error.kind.value
            self._changes.append(PendingChange(name, at, state, one_line(result.summary), kind))
            track.stored_state = state

    def _hour(self, track: Track, hour: int) -> HourRecord:
        record = track.hours.get(hour)
        if record is None:
            record = track.hours[hour] = HourRecord()
        record.dirty = True
        return record

    def _add_time(self, track: Track, state: State, start: float, end: float) -> None:
        """``start``..``end`` spent in ``state``, split at the hours it spans."""
        while start < end:
            hour = int(start // 3600)
            piece = min(end, (hour + 1) * 3600.0) - start
            self._hour(track, hour).ms[COLUMN[state]] += piece * 1000.0
            start += piece

    def _pending(self) -> bool:
        return bool(self._changes) or bool(self._dirty)

    # --- writing --------------------------------------------------------------------------

    def _load(self) -> None:
        """What the file knows already: ids, latest states and recent checks."""
        assert self._connection is not None
        rows = self._connection.execute(
            "SELECT e.id, e.name, e.recent, (SELECT c.to_state FROM changes c"
            " WHERE c.endpoint = e.id ORDER BY c.at DESC, c.id DESC LIMIT 1) FROM endpoints e"
        )
        for endpoint_id, name, recent, latest in rows:
            track = self._track(name)
            track.endpoint_id = endpoint_id
            track.recent.extend(letter for letter in recent if letter in STATES)
            track.stored_state = None if latest is None else State(latest)

    def _flush(self) -> bool:
        """Commit what is new; False when the file was locked (it is kept for the next try)."""
        if self.off or self._connection is None:
            return True
        try:
            ids = self._write(self._connection)
        except sqlite3.OperationalError as exc:
            self._rollback()
            if "locked" not in str(exc) and "busy" not in str(exc):
                self._fail(exc)
                return True
            now = time.monotonic()
            if self._locked_since is None:
                self._locked_since = now
                self._report(
                    f"history waits: {describe(self.path, exc, self.busy_timeout)}; "
                    f"it tries again every second, and turns off after {LOCKED_GIVE_UP:g} s"
                )
            elif now - self._locked_since > LOCKED_GIVE_UP:
                self._fail(exc)
                return True
            return False
        except (sqlite3.Error, OSError) as exc:
            self._rollback()
            self._fail(exc)
            return True
        self.commits += 1
        if self._locked_since is not None:
            self._locked_since = None
            self._report(f"history: {self.path} is writable again")
        self._committed(ids)
        return True

    def _write(self, connection: sqlite3.Connection) -> dict[str, int]:
        connection.execute("BEGIN IMMEDIATE")
        ids: dict[str, int] = {}
        for name in self._dirty:
            track = self._tracks[name]
            (ids[track.name],) = connection.execute(
                "INSERT INTO endpoints (name, url, last_check, recent) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET url = excluded.url,"
                " last_check = max(last_check, excluded.last_check), recent = excluded.recent"
                " RETURNING id",
                (track.name, track.url, track.last_check, "".join(track.recent)),
            ).fetchone()
        for change in self._changes:
            endpoint_id = ids[change.name]
            latest = connection.execute(
                "SELECT to_state FROM changes WHERE endpoint = ? ORDER BY at DESC, id DESC LIMIT 1",
                (endpoint_id,),
            ).fetchone()
            previous = None if latest is None else latest[0]
            if previous != change.to.value:
                connection.execute(
                    "INSERT INTO changes (endpoint, at, from_state, to_state, message,"
                    " error_kind) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        endpoint_id,
                        change.at,
                        previous,
                        change.to.value,
                        change.message,
                        change.error_kind,
                    ),
                )
        connection.executemany(
            "INSERT INTO hours (endpoint, hour, ready, not_ready, error, ready_ms,"
            " not_ready_ms, error_ms, latency_n, p50_us, p99_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (endpoint, hour) DO UPDATE SET ready = ready + excluded.ready,"
            " not_ready = not_ready + excluded.not_ready, error = error + excluded.error,"
            " ready_ms = ready_ms + excluded.ready_ms,"
            " not_ready_ms = not_ready_ms + excluded.not_ready_ms,"
            " error_ms = error_ms + excluded.error_ms,"
            " latency_n = latency_n + excluded.latency_n,"
            " p50_us = coalesce(excluded.p50_us, p50_us),"
            " p99_us = coalesce(excluded.p99_us, p99_us)",
            self._hour_rows(ids),
        )
        connection.execute("COMMIT")
        return ids

    def _hour_rows(self, ids: dict[str, int]) -> list[tuple[int | None, ...]]:
        rows: list[tuple[int | None, ...]] = []
        for name, endpoint_id in ids.items():
            for hour, record in self._tracks[name].hours.items():
                if not record.dirty:
                    continue
                checks = [a - b for a, b in zip(record.checks, record.flushed_checks, strict=True)]
                ms = [round(a) - b for a, b in zip(record.ms, record.flushed_ms, strict=True)]
                p50, p99 = record.latency.quantile(0.5), record.latency.quantile(0.99)
                rows.append(
                    (
                        endpoint_id,
                        hour,
                        *checks,
                        *ms,
                        record.latency.count - record.flushed_latency,
                        None if p50 is None else round(p50 * 1000),
                        None if p99 is None else round(p99 * 1000),
                    )
                )
        return rows

    def _committed(self, ids: dict[str, int]) -> None:
        self._changes.clear()
        self._dirty.clear()
        keep_from = int(time.time() // 3600) - 1  # late results may still land an hour back
        for name, endpoint_id in ids.items():
            track = self._tracks[name]
            track.endpoint_id = endpoint_id
            for hour, record in list(track.hours.items()):
                if record.dirty:
                    record.flushed_checks = list(record.checks)
                    record.flushed_ms = [round(value) for value in record.ms]
                    record.flushed_latency = record.latency.count
                    record.dirty = False
                if not record.dirty and hour < keep_from:
                    del track.hours[hour]

    def _prune(self) -> None:
        assert self._connection is not None
        for name in prune(self._connection, self.days, time.time()):
            track = self._tracks.get(name)
            if track is not None:  # checked again now: it starts anew
                track.endpoint_id, track.stored_state = None, None
                track.recent.clear()

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except sqlite3.OperationalError as exc:
            self._rollback()  # a locked file: pruning waits for the next hour
            if "locked" not in str(exc) and "busy" not in str(exc):
                self._fail(exc)
        except (sqlite3.Error, OSError) as exc:
            self._rollback()
            self._fail(exc)

    def _rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")

    def _fail(self, exc: BaseException) -> None:
        if not self.off:
            self.off = True
            what = describe(self.path, exc, self.busy_timeout)
            self._report(f"history is off for this run: {what}")
        self._changes.clear()
        self._tracks.clear()
        self._dirty.clear()
