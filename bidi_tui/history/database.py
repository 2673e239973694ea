"""The history file: where it lives, its tables, opening it, and errors said in one line.

Tables (schema version 1, in ``PRAGMA user_version``)::

    endpoints  id, name (unique), url (masked), last_check (Unix time),
               recent (its last checks' states, oldest first, one letter each: r n e)
    changes    id, endpoint, at (Unix time), from_state (NULL: first seen), to_state,
               message (one line, safe), error_kind
    hours      endpoint, hour (Unix time // 3600), checks by result (ready, not_ready,
               error), milliseconds spent in each state (ready_ms, ...), latency_n,
               p50_us, p99_us (latency percentiles in microseconds)

WAL mode, so readers (``bidi-tui history``, the dashboard's queries) never wait for the
writer, and a busy timeout, so the dashboard and ``serve`` can write the same file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import platformdirs

APP_NAME = "bidi-tui"
FILE_NAME = "history.sqlite3"
STATE_DIR_VARIABLE = "BIDI_TUI_STATE_DIR"
SCHEMA_VERSION = 1
OPEN_BUSY_TIMEOUT = 2.0  # seconds opening waits for another writer's lock
WRITE_BUSY_TIMEOUT = 5.0  # seconds the writer thread waits for it

TABLES = ("endpoints", "changes", "hours")
SCHEMA = (
    """CREATE TABLE endpoints (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        last_check REAL NOT NULL,
        recent TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        endpoint INTEGER NOT NULL,
        at REAL NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        message TEXT NOT NULL,
        error_kind TEXT
    )""",
    "CREATE INDEX changes_by_endpoint ON changes (endpoint, at)",
    # Integers, not reals: SQLite stores small integers in 1-4 bytes, a real in 8.
    """CREATE TABLE hours (
        endpoint INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        ready INTEGER NOT NULL DEFAULT 0,
        not_ready INTEGER NOT NULL DEFAULT 0,
        error INTEGER NOT NULL DEFAULT 0,
        ready_ms INTEGER NOT NULL DEFAULT 0,
        not_ready_ms INTEGER NOT NULL DEFAULT 0,
        error_ms INTEGER NOT NULL DEFAULT 0,
        latency_n INTEGER NOT NULL DEFAULT 0,
        p50_us INTEGER,
        p99_us INTEGER,
        PRIMARY KEY (endpoint, hour)
    ) WITHOUT ROWID""",
)


class HistoryError(Exception):
    """History cannot be used. ``str()`` is one line: which file, what, what to try.
    ``off`` is true when history was turned off on purpose (``history_days = 0``)."""

    def __init__(self, message: str, *, off: bool = False) -> None:
        super().__init__(message)
        self.off = off


def default_history_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$BIDI_TUI_STATE_DIR/history.sqlite3``, else in the platform's state folder
    (``~/.local/state/bidi-tui`` on Linux)."""
    environ = os.environ if environ is None else environ
    folder = environ.get(STATE_DIR_VARIABLE)
    base = Path(folder) if folder else platformdirs.user_state_path(APP_NAME)
    return base / FILE_NAME


ELSEWHERE = f"or set {STATE_DIR_VARIABLE} to another folder"


def describe(path: Path, exc: BaseException, busy_timeout: float) -> str:
    """``exc`` (from sqlite3 or the file system) as "PATH: what; what to try"."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, OSError):
        what = exc.strerror or text
        return f"{path}: {what}; check the folder and its permissions, {ELSEWHERE}"
    if "locked" in lowered or "busy" in lowered:
        return (
            f"{path}: locked by another program for over {busy_timeout:g} s; close it "
            f"(a sqlite3 shell holding a transaction?), {ELSEWHERE}"
        )
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return (
            f"{path}: damaged or not a history database ({text}); move it away and "
            f"a new one is started, {ELSEWHERE}"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return f"{path}: read-only ({text}); make it writable, {ELSEWHERE}"
    if "unable to open" in lowered:
        return f"{path}: cannot be opened ({text}); check the folder's permissions, {ELSEWHERE}"
    return f"{path}: {text}; {ELSEWHERE.removeprefix('or ')}"


def _prepare_file(path: Path) -> None:
    """The folder (0700) and an empty file (0600) if missing; a non-file is refused."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if not path.is_file():
            raise HistoryError(f"{path}: not a regular file; remove it, {ELSEWHERE}") from None
        return
    os.close(descriptor)


def connect(path: Path, busy_timeout: float, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to ``path`` in autocommit mode (transactions are explicit)."""
    if read_only:
        connection = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro",
            uri=True,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
    else:
        connection = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    return connection


def check_schema(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version (0: empty); :class:`HistoryError` if it is not ours."""
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: written by a newer bidi-tui (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade, {ELSEWHERE}"
        )
    if version == 0 and tables:
        raise HistoryError(
            f"{path}: a SQLite file that is not a bidi-tui history; move it away, {ELSEWHERE}"
        )
    if version == SCHEMA_VERSION and not set(TABLES) <= tables:
        raise HistoryError(f"{path}: damaged (tables missing); move it away, {ELSEWHERE}")
    return version


def open_for_writing(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating it if needed) a history file for writing, in WAL mode, with the
    schema in place. Raises :class:`HistoryError` saying what is wrong."""
    connection: sqlite3.Connection | None = None
    try:
        _prepare_file(path)
        connection = connect(path, busy_timeout)
        version = check_schema(connection, path)
        if version == 0:
            # Only an empty file takes it: pruning can then give pages back to the disk.
            connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("PRAGMA journal_mode = WAL").fetchone()
        # A crash of the program loses nothing committed; a power loss the last commits.
        connection.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            connection.execute("BEGIN IMMEDIATE")
            if check_schema(connection, path) == 0:  # not created meanwhile by another
                for statement in SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        return connection
    except HistoryError:
        _close_quietly(connection)
        raise
    except (sqlite3.Error, OSError) as exc:
        _close_quietly(connection)
        raise HistoryError(describe(path, exc, busy_timeout)) from None


def open_for_reading(path: Path, busy_timeout: float) -> sqlite3.Connection | None:
    """A read-only connection to an existing history file; None when there is none yet.
    Never creates or changes anything. Raises :class:`HistoryError`."""
    if not path.exists():
        return None
    if not path.is_file():
        raise HistoryError(f"{path}: not a regular file; remove it, {ELSEWHERE}")
    connection: sqlite3.Connection | None = None
    try:
        connection = connect(path, busy_timeout, read_only=True)
        version = check_schema(connection, path)
        if version == 0:  # created but never written
            _close_quietly(connection)
            return None
        return connection
    except HistoryError:
        _close_quietly(connection)
        raise
    except (sqlite3.Error, OSError) as exc:
        _close_quietly(connection)
        raise HistoryError(describe(path, exc, busy_timeout)) from None


def _close_quietly(connection: sqlite3.Connection | None) -> None:
    if connection is not None:
        with contextlib.suppress(sqlite3.Error):
            connection.close()
