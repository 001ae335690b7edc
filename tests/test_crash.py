"""A 200 means stored, exactly once: ``kill -9`` the real server mid-stream, restart, count.

Several client threads send events with distinct UUIDs to ``python -m octeth_tracking
serve``; after a different number of acknowledgements each cycle the server is killed
with SIGKILL while requests are in flight, and restarted on the same file. Every
acknowledged event must be there exactly once, and the file must pass
``PRAGMA integrity_check``. Events in flight at the kill may or may not be stored, but
never twice, and resending them after the restart (a client's retry) stores each once.
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
import uuid
from pathlib import Path

import reliability
from conftest import make_account
from octeth_tracking import SQLiteStore
from servers import Server

KILL_AFTER = [1, 9, 33, 80, 140]  # acknowledged events before each cycle's kill
THREADS = 4


def stored_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT uuid, count(*) FROM events GROUP BY uuid"))
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def run_until_killed(server: Server, body: dict, kill_after: int) -> tuple[list[str], list[str], list[object]]:
    """Send from THREADS threads; SIGKILL the server once ``kill_after`` events got a 200."""
    acknowledged: list[str] = []
    in_flight: list[str] = []
    unexpected: list[object] = []
    enough = threading.Condition()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            event_uuid = str(uuid.uuid4())
            in_flight.append(event_uuid)
            try:
                status, answer = server.event({**body, "UUID": event_uuid}, timeout=10)
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this event's fate is unknown to the client
            if status != 200 or answer.get("uuid") != event_uuid:
                unexpected.append((status, answer))
                return
            with enough:
                in_flight.remove(event_uuid)
                acknowledged.append(event_uuid)
                enough.notify_all()

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    with enough:
        reached = enough.wait_for(lambda: len(acknowledged) >= kill_after or unexpected, timeout=60)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert reached, "the server did not acknowledge enough events in time"
    return acknowledged, in_flight, unexpected


def test_kill_9_mid_stream_loses_and_duplicates_nothing(tmp_path):
    db = tmp_path / "events.db"
    store = SQLiteStore(db)
    account = make_account(store)
    store.close()
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", "Properties": {"n": 1}}
    all_acknowledged: list[str] = []
    unknown: list[str] = []

    for kill_after in KILL_AFTER:
        server = Server(tmp_path, "serve", "--port", "0", "--db", str(db))
        acknowledged, in_flight, unexpected = run_until_killed(server, body, kill_after)
        assert unexpected == []
        assert integrity(db) == "ok"
        counts = stored_counts(db)
        once = sum(counts.get(u) == 1 for u in acknowledged)
        reliability.count("crash_cycles")
        reliability.count("crash_integrity_ok")
        reliability.count("crash_acknowledged", len(acknowledged))
        reliability.count("crash_stored_once", once)
        reliability.count("crash_lost", sum(u not in counts for u in acknowledged))
        reliability.count("crash_duplicates", sum(n > 1 for n in counts.values()))
        assert once == len(acknowledged) >= kill_after
        assert max(counts.values()) == 1
        all_acknowledged += acknowledged
        unknown += in_flight

    # Restart once more: everything acknowledged in any cycle is still there, once; and
    # a client resending the events whose answer it never got stores each exactly once.
    server = Server(tmp_path, "serve", "--port", "0", "--db", str(db))
    try:
        for event_uuid in unknown:
            status, answer = server.event({**body, "UUID": event_uuid})
            assert (status, answer["uuid"]) == (200, event_uuid)
    finally:
        server.stop()
    counts = stored_counts(db)
    reliability.count("crash_in_flight", len(unknown))
    reliability.count("crash_in_flight_stored_once", sum(counts.get(u) == 1 for u in unknown))
    assert all(counts[u] == 1 for u in all_acknowledged + unknown)
    assert sum(counts.values()) == len(set(all_acknowledged + unknown))
    assert integrity(db) == "ok"
