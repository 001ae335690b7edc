"""(c) The naive peer: the Flask view a user would otherwise write (``peer_view.py``), on SQLite.

One row inserted with ``sqlite3`` and committed per request (``synchronous=FULL`` in WAL
mode, like ours: durable before the 200). Settings come from the environment:
``BENCH_PEER_DB`` (the SQLite file) and ``BENCH_API_KEY`` (the one key it accepts).
"""

from __future__ import annotations

import os
import sqlite3

from peer_view import make_app, row

DB = os.environ.get("BENCH_PEER_DB", "peer.db")

with sqlite3.connect(DB) as setup:
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, list_id INTEGER, uuid TEXT UNIQUE,"
                  " external_id TEXT, event TEXT, email TEXT, properties TEXT)")


def insert(body: dict, event_uuid: str) -> None:
    conn = sqlite3.connect(DB, timeout=5)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("INSERT INTO events (list_id, uuid, external_id, event, email, properties) VALUES (?, ?, ?, ?, ?, ?)",
                     row(body, event_uuid))
        conn.commit()
    finally:
        conn.close()


app = make_app(os.environ.get("BENCH_API_KEY", ""), insert)
