"""Retention: what is older than ``history_days`` goes, and the file stays bounded.

An endpoint checked within the retention keeps its latest change however old (it says
"in state since") and at most its newest :data:`MAX_CHANGES_KEPT` changes (one that
flaps every check would otherwise fill the file); one not checked within it goes whole.
"""

from __future__ import annotations

import sqlite3

MAX_CHANGES_KEPT = 1000
PRUNE_CHUNK = 100  # endpoints pruned per transaction, so the write lock is held briefly
VACUUM_PAGES = 10_000  # pages (4 KiB) given back to the file system per prune, at most


def prune(connection: sqlite3.Connection, days: int, now: float) -> list[str]:
    """Drop what is older than ``days`` before ``now`` (Unix time); the names of the
    endpoints that went whole."""
    cutoff = now - days * 86400.0
    gone = connection.execute(
        "SELECT id, name FROM endpoints WHERE last_check < ?", (cutoff,)
    ).fetchall()
    gone_ids = {endpoint_id for endpoint_id, _ in gone}
    kept = [
        endpoint_id
        for (endpoint_id,) in connection.execute("SELECT id FROM endpoints")
        if endpoint_id not in gone_ids
    ]
    for start in range(0, len(kept), PRUNE_CHUNK):
        connection.execute("BEGIN IMMEDIATE")
        for endpoint_id in kept[start : start + PRUNE_CHUNK]:
            connection.execute(
                "DELETE FROM hours WHERE endpoint = ? AND hour < ?",
                (endpoint_id, int(cutoff // 3600)),
            )
            connection.execute(
                "DELETE FROM changes WHERE endpoint = ?1 AND (at < ?2 OR at < (SELECT at"
                " FROM changes WHERE endpoint = ?1 ORDER BY at DESC LIMIT 1 OFFSET ?3))"
                " AND id != (SELECT id FROM changes WHERE endpoint = ?1"
                " ORDER BY at DESC, id DESC LIMIT 1)",
                (endpoint_id, cutoff, MAX_CHANGES_KEPT - 1),
            )
        connection.execute("COMMIT")
    if gone:
        connection.execute("BEGIN IMMEDIATE")
        for endpoint_id, _ in gone:
            connection.execute("DELETE FROM hours WHERE endpoint = ?", (endpoint_id,))
            connection.execute("DELETE FROM changes WHERE endpoint = ?", (endpoint_id,))
            connection.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))
        connection.execute("COMMIT")
    connection.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
    return [name for _, name in gone]
