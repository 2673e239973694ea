"""History that survives restarts: state changes and hourly counts in a SQLite file.

What is kept, per endpoint (by name; a rename starts a new history):

- every state change: when, from which state (none: the first check ever recorded), to
  which, the message made safe (one line) and the error kind;
- per hour: the checks by result, the time spent in each state, latency p50 and p99
  (from a sketch accurate to 1 %);
- its last 60 checks' states, for flapping (:mod:`bidi_tui.history.flapping`).

Where: ``$BIDI_TUI_STATE_DIR/history.sqlite3``, else the platform's state folder
(``~/.local/state/bidi-tui/history.sqlite3``): :func:`default_history_path`. WAL mode and a
busy timeout, so the dashboard and ``serve`` write one file at once and ``bidi-tui
history`` reads it meanwhile. Results are committed within a second by a writer thread,
so a crash loses at most the last second and the event loop never waits for the disk.
Retention: ``history_days`` in ``[defaults]`` (30; 0 turns history off), pruned at start
and hourly; an endpoint keeps its latest change while it is still checked (for "in state
since"), and at most its newest 1,000 changes (a flapping one).

API (for the dashboard and ``serve``)::

    store = HistoryStore.open(default_history_path(), config.defaults.history_days,
                              report=show_one_line)   # later failures, on the events' loop
    if isinstance(store, HistoryError):     # one line: which file, what, what to try
        show_one_line(str(store))           # (store.off: history_days = 0, say nothing)
    else:
        engine.subscribe(store.listener)
        store.uptime(name, since)           # float 0-1 or None: share of time not in error
        store.uptimes(since)                # {name: uptime} for every endpoint, one query
        store.changes(name, limit)          # [Change(at, from_state, to_state, message,
                                            #   error_kind)], newest first
        store.last_state(name)              # (State, since) or None: "in state since"
        store.last_states()                 # {name: (State, since)}, one query
        store.flapping(name)                # over its last recorded checks
        store.hours(name, since)            # [HourSummary(start, checks, p50_ms, p99_ms)]
        store.close()                       # commits what is pending

``HistoryStore.open`` may wait up to 2 s for a file another program holds locked: call
it before the app starts or in a thread. A file that is damaged, locked or not writable
gives a :class:`HistoryError` (or, later, one ``report`` line) and history turns off for
the run; watching goes on. :class:`HistoryReader` reads without ever writing.
"""

from bidi_tui.history.database import (
    STATE_DIR_VARIABLE,
    HistoryError,
    default_history_path,
)
from bidi_tui.history.flapping import FLAP_CHANGES, FLAP_WINDOW, is_flapping, state_changes
from bidi_tui.history.store import Change, HistoryReader, HistoryStore, HourSummary, iso_utc

__all__ = [
    "FLAP_CHANGES",
    "FLAP_WINDOW",
    "STATE_DIR_VARIABLE",
    "Change",
    "HistoryError",
    "HistoryReader",
    "HistoryStore",
    "HourSummary",
    "default_history_path",
    "is_flapping",
    "iso_utc",
    "state_changes",
]
