"""A 200 means stored, exactly once: ``kill -9`` the real server mid-stream, restart, count.

Several client threads (connections) send events with distinct UUIDs to ``python -m
octeth_tracking serve``; after a different number of acknowledgements each cycle the server
is killed with SIGKILL while requests are in flight, and restarted on the same file (as many
cycles as the run's scale says: 5 everyday, 20 at full scale). Once, two server processes
share the file: one is killed while both write, the other must go on, then it is killed too.
Every acknowledged event must be there exactly once, and the file must pass
``PRAGMA integrity_check``. The servers index visitors in bulk every 20 events (the setting
``visitor_index_every``), so kills land in those steps too: after each, every event up to the
index's mark has its entry, no entry lacks its event, and each visitor's events read back whole. Events in flight at a kill may or may not be stored, but never
twice, and resending them after the restart (a client's retry) stores each once.
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
from test_visitor_index import every_page, sound

THREADS = 4  # client connections per server
VISITORS = 7
INDEX_EVERY = {"OCTETH_TRACKING_VISITOR_INDEX_EVERY": "20"}  # bulk steps of the visitor index all along


def kill_after(cycles: int) -> list[int]:
    """Acknowledged events before each cycle's kill: 1, 9, 33, 80, 140, then more of the same spread."""
    first = [1, 9, 33, 80, 140]
    return (first + [3 + (47 * n) % 150 for n in range(cycles)])[:cycles]


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


class Load:
    """``THREADS`` client threads per server, each sending events with distinct UUIDs until its
    server is gone: what was acknowledged, what was in flight (no answer), what was unexpected."""

    def __init__(self, servers: list[Server], body: dict) -> None:
        self.body = body
        self.acknowledged: list[str] = []
        self.by_server = [0] * len(servers)
        self.in_flight: list[str] = []
        self.unexpected: list[object] = []
        self.changed = threading.Condition()
        self.threads = [threading.Thread(target=self.client, args=(i, server))
                        for i, server in enumerate(servers) for _ in range(THREADS)]
        for thread in self.threads:
            thread.start()

    def client(self, index: int, server: Server) -> None:
        while True:
            event_uuid = str(uuid.uuid4())
            self.in_flight.append(event_uuid)
            visitor = f"visitor-{int(event_uuid[:8], 16) % VISITORS}"
            try:
                status, answer = server.event({**self.body, "UUID": event_uuid, "ID": visitor}, timeout=10)
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this event's fate is unknown to the client
            with self.changed:
                if status != 200 or answer.get("uuid") != event_uuid:
                    self.unexpected.append((status, answer))
                    self.changed.notify_all()
                    return
                self.in_flight.remove(event_uuid)
                self.acknowledged.append(event_uuid)
                self.by_server[index] += 1
                self.changed.notify_all()

    def wait_for(self, reached, timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: reached(self) or bool(self.unexpected), timeout=timeout)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


def check_cycle(db: Path, load: Load, at_least: int) -> None:
    """After a cycle's kill(s): the file is sound, every acknowledged event is there once, nothing twice."""
    assert load.unexpected == []
    assert integrity(db) == "ok"
    counts = stored_counts(db)
    once = sum(counts.get(u) == 1 for u in load.acknowledged)
    reliability.count("crash_cycles")
    reliability.count("crash_integrity_ok")
    reliability.count("crash_acknowledged", len(load.acknowledged))
    reliability.count("crash_stored_once", once)
    reliability.count("crash_lost", sum(u not in counts for u in load.acknowledged))
    reliability.count("crash_duplicates", sum(n > 1 for n in counts.values()))
    assert once == len(load.acknowledged) >= at_least
    assert max(counts.values()) == 1
    check_visitor_index(db)


def check_visitor_index(db: Path) -> int:
    """The visitor index is sound after a kill, and reads every stored event back, once; its mark."""
    mark = sound(db)
    store = SQLiteStore(db, visitor_index_every=10**9)
    try:
        list_id = store._read_one("SELECT list_id FROM events", ()) or 1
        read = [u for n in range(VISITORS) for u in every_page(store, list_id=list_id, external_id=f"visitor-{n}")]
    finally:
        store.close()
    assert sorted(read) == sorted(stored_counts(db))
    return mark


def resend_in_flight(tmp_path: Path, db: Path, body: dict, unknown: list[str], acknowledged: list[str]) -> None:
    """Restart once more: everything acknowledged in any cycle is still there, once; and a client
    resending the events whose answer it never got stores each exactly once."""
    server = Server(tmp_path, "serve", "--port", "0", "--db", str(db), env=INDEX_EVERY)
    try:
        for event_uuid in unknown:
            visitor = f"visitor-{int(event_uuid[:8], 16) % VISITORS}"
            status, answer = server.event({**body, "UUID": event_uuid, "ID": visitor})
            assert (status, answer["uuid"]) == (200, event_uuid)
    finally:
        server.stop()
    counts = stored_counts(db)
    reliability.count("crash_in_flight", len(unknown))
    reliability.count("crash_in_flight_stored_once", sum(counts.get(u) == 1 for u in unknown))
    assert all(counts[u] == 1 for u in acknowledged + unknown)
    assert sum(counts.values()) == len(set(acknowledged + unknown))
    assert integrity(db) == "ok"
    assert check_visitor_index(db) > 0, "no step of the visitor index ran"


def account_body(db: Path) -> dict:
    store = SQLiteStore(db)
    account = make_account(store)
    store.close()
    return {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", "Properties": {"n": 1}}


def test_kill_9_mid_stream_loses_and_duplicates_nothing(tmp_path):
    db = tmp_path / "events.db"
    body = account_body(db)
    all_acknowledged: list[str] = []
    unknown: list[str] = []
    for enough in kill_after(reliability.scale().kill_cycles):
        server = Server(tmp_path, "serve", "--port", "0", "--db", str(db), env=INDEX_EVERY)
        load = Load([server], body)
        reached = load.wait_for(lambda load: len(load.acknowledged) >= enough)
        server.kill()
        load.join()
        assert reached, "the server did not acknowledge enough events in time"
        check_cycle(db, load, enough)
        all_acknowledged += load.acknowledged
        unknown += load.in_flight
    resend_in_flight(tmp_path, db, body, unknown, all_acknowledged)


def test_kill_9_of_one_of_two_processes_on_one_file_then_of_the_other(tmp_path):
    # The one killed may hold the writers' turn or SQLite's lock: the other must go on writing.
    db = tmp_path / "events.db"
    body = account_body(db)
    servers = [Server(tmp_path, "serve", "--port", "0", "--db", str(db), env=INDEX_EVERY) for _ in range(2)]
    load = Load(servers, body)
    try:
        assert load.wait_for(lambda load: min(load.by_server) >= 20), "both did not acknowledge events in time"
        servers[0].kill()
        survivor = load.by_server[1]
        assert load.wait_for(lambda load: load.by_server[1] >= survivor + 40), "the other process stopped writing"
    finally:
        for server in servers:
            server.kill()
        load.join()
    check_cycle(db, load, 60)
    reliability.count("crash_two_process_cycles")
    resend_in_flight(tmp_path, db, body, load.in_flight, load.acknowledged)
