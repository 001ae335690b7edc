"""Two app processes on PostgreSQL through a server restart: nothing acknowledged lost, nothing stored twice.

A throwaway PostgreSQL server (never the shared one) serves two ``serve`` processes while
client threads send events to both. The server is restarted under that load (as many times
as the run's scale says; ``immediate``, as a crash recovered from the WAL, then ``fast``, a
clean shutdown, in turn). A client treats a 503 (code 26, with ``Retry-After``) or a lost
connection as a reason to send the same event again, as a client should; every event is sent
until it is acknowledged. Afterwards every acknowledged event is stored exactly once, both
processes acknowledged events after each restart, and no other 5xx was answered; and a key
revoked after the restarts is refused by both processes on the very next request.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

import reliability
from conftest import make_account
from octeth_tracking import open_store
from servers import Server
from services import throwaway_postgres

THREADS = 3  # client connections per app process


@pytest.fixture
def postgres():
    yield from throwaway_postgres()


class Clients:
    """Client threads per server that resend each event until it is acknowledged."""

    def __init__(self, servers: list[Server], body: dict) -> None:
        self.body, self.stop = body, threading.Event()
        self.acknowledged: list[str] = []
        self.by_server = [0] * len(servers)
        self.unavailable = 0
        self.other_5xx: list[object] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(i, s)) for i, s in enumerate(servers) for _ in range(THREADS)]
        for thread in self.threads:
            thread.start()

    def client(self, index: int, server: Server) -> None:
        while not self.stop.is_set():
            event_uuid, deadline = str(uuid.uuid4()), time.monotonic() + 120
            while time.monotonic() < deadline:  # until acknowledged, even once told to stop
                try:
                    status, answer = server.event({**self.body, "UUID": event_uuid}, timeout=15)
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)  # no answer: its fate unknown, so the same UUID again
                    continue
                with self.lock:
                    if status == 200 and answer["uuid"] == event_uuid:
                        self.acknowledged.append(event_uuid)
                        self.by_server[index] += 1
                        break
                    if status == 503 and answer["Errors"][0]["Code"] == 26:
                        self.unavailable += 1
                    else:
                        self.other_5xx.append((status, answer))
                        return
                time.sleep(0.2)  # Retry-After says 1 s; a busy client retries sooner
            else:
                with self.lock:
                    self.other_5xx.append(("never acknowledged", event_uuid))
                return

    def wait_for(self, more: int, timeout: float = 90) -> bool:
        """Until each server has acknowledged ``more`` events beyond what it had."""
        start = list(self.by_server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.other_5xx:
            if all(now - then >= more for now, then in zip(self.by_server, start)):
                return True
            time.sleep(0.05)
        return False

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=150)


def test_two_processes_on_postgresql_through_server_restarts(postgres, tmp_path):
    store = open_store(postgres.url)
    account = make_account(store)
    spare = store.create_api_key(account.user_id)
    store.close()
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", "Properties": {"n": 1}}
    servers = [Server(tmp_path, "serve", "--port", "0", "--db", postgres.url) for _ in range(2)]
    clients = Clients(servers, body)
    restarts = reliability.scale().pg_restarts
    extra: list[str] = []
    try:
        assert clients.wait_for(20), "the servers did not acknowledge events before a restart"
        for n in range(restarts):
            postgres.restart("immediate" if n % 2 == 0 else "fast")
            reliability.count("pg_restarts")
            assert clients.wait_for(20), f"both servers did not acknowledge events again after restart {n + 1}"
        # A revocation still reaches both processes at once (their listeners reconnected, or,
        # until they have, nothing is trusted from a cache).
        spare_body = {**body, "APIKey": spare}
        answers = [server.event(spare_body) for server in servers]
        assert [status for status, _ in answers] == [200, 200]
        extra = [answer["uuid"] for _, answer in answers]  # stored too
        revoke = [sys.executable, "-m", "octeth_tracking", "revoke-api-key", spare, "--db", postgres.url]
        assert subprocess.run(revoke, capture_output=True, timeout=60).returncode == 0
        assert [server.event(spare_body)[0] for server in servers] == [401, 401]
    finally:
        clients.finish()
        logs = [server.stop() for server in servers]
    with psycopg.connect(postgres.url) as conn:
        counts = dict(conn.execute("SELECT uuid, count(*) FROM events GROUP BY uuid").fetchall())
    acknowledged = clients.acknowledged + extra
    reliability.count("pg_restart_acknowledged", len(acknowledged))
    reliability.count("pg_restart_lost", sum(u not in counts for u in acknowledged))
    reliability.count("pg_restart_duplicates", sum(n > 1 for n in counts.values()))
    reliability.count("pg_restart_unavailable", clients.unavailable)
    reliability.count("pg_restart_other_5xx", len(clients.other_5xx))
    assert clients.other_5xx == []
    assert len(set(acknowledged)) == len(acknowledged)
    assert counts == {u: 1 for u in acknowledged}  # each acknowledged once, and nothing else stored
    assert not any("Traceback" in log for log in logs), logs
