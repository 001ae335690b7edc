"""(d) The naive peer on PostgreSQL: the same view (``peer_view.py``), a psycopg INSERT and commit per request.

Each server thread keeps one connection (a view that connected per request would be slower
still). Settings from the environment: ``BENCH_PEER_DB`` (a ``postgresql://`` URL, its
``search_path`` the peer's own schema) and ``BENCH_API_KEY`` (the one key it accepts).
"""

from __future__ import annotations

import os
import threading

import psycopg

from peer_view import make_app, row

DB = os.environ["BENCH_PEER_DB"]
_local = threading.local()

with psycopg.connect(DB, autocommit=True) as setup:
    setup.execute("SELECT pg_advisory_lock(724)")  # a server's workers import this at once: one creates the table
    setup.execute("CREATE TABLE IF NOT EXISTS events (id BIGSERIAL PRIMARY KEY, list_id INTEGER, uuid TEXT UNIQUE,"
                  " external_id TEXT, event TEXT, email TEXT, properties TEXT)")


def insert(body: dict, event_uuid: str) -> None:
    if getattr(_local, "conn", None) is None:
        _local.conn = psycopg.connect(DB)
    conn = _local.conn
    conn.execute("INSERT INTO events (list_id, uuid, external_id, event, email, properties) VALUES (%s, %s, %s, %s, %s, %s)",
                 row(body, event_uuid))
    conn.commit()


app = make_app(os.environ.get("BENCH_API_KEY", ""), insert)
