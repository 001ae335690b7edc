"""Revocation at once, in every process: two real servers, their key caches on, a revoke from outside.

On each store, two ``serve`` processes share one database. Both have just answered 200 to
the keys (so each remembers them); ``revoke-api-key`` (and ``revoke-session``) run from the
command line, and the very next request to either server is 401, while the user's other
key keeps working. Then a client hammers both servers with a third key while a store in
this process revokes it: the time from the revoke's commit to each server's first 401 is
the figure, and no request sent after the revoke returned is accepted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import reliability
from conftest import make_account
from octeth_tracking import open_store
from servers import Server
from services import pg_schema


def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "events.db")


STORES = [pytest.param(sqlite_url, id="sqlite"), pytest.param(lambda tmp_path: pg_schema(), id="postgresql")]


@pytest.fixture(params=STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from request.param(tmp_path)


def cli(*argv: str) -> tuple[int, object]:
    done = subprocess.run([sys.executable, "-m", "octeth_tracking", *argv], capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout)


def hammer(servers: list[Server], body: dict, revoke) -> tuple[list[float], int]:
    """Send ``body`` to every server from a thread each while ``revoke()`` runs once they
    answer 200; (seconds from the revoke's return to each server's first 401, requests sent
    after that return which were accepted)."""
    state = {"revoked_at": None}
    first_401: list[float | None] = [None] * len(servers)
    accepted_after = [0]
    warmed = threading.Barrier(len(servers) + 1)

    def client(index: int) -> None:
        server, warm = servers[index], True
        deadline = time.monotonic() + 60
        while first_401[index] is None and time.monotonic() < deadline:
            revoked_at = state["revoked_at"]  # read before sending: a request sent after the revoke returned
            status, _ = server.event(body)
            if warm:
                assert status == 200
                warm = False
                warmed.wait(timeout=30)
            elif status == 401:
                first_401[index] = time.perf_counter()
            elif revoked_at is not None:
                accepted_after[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    warmed.wait(timeout=30)
    time.sleep(0.05)  # a few more cached answers
    revoke()
    state["revoked_at"] = time.perf_counter()
    for thread in threads:
        thread.join(timeout=70)
    assert all(t is not None for t in first_401), "a server kept accepting a revoked key"
    return [max(0.0, t - state["revoked_at"]) for t in first_401], accepted_after[0]  # type: ignore[operator]


def test_a_revoke_from_the_command_line_is_401_at_once_on_both_servers(db, tmp_path, request):
    store = open_store(db)
    account = make_account(store)
    spare = store.create_api_key(account.user_id)
    hammered = store.create_api_key(account.user_id)
    session_id = store.create_session(account.user_id, ttl=3600)
    servers = [Server(tmp_path, "serve", "--port", "0", "--db", db) for _ in range(2)]  # auth_cache_ttl: 5 s
    try:
        body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
        for server in servers:
            for credentials in ({"APIKey": account.api_key}, {"APIKey": spare}, {"APIKey": None, "SessionID": session_id}):
                assert server.event({**body, **credentials})[0] == 200

        assert cli("revoke-api-key", account.api_key, "--db", db) == (0, {"revoked": True})
        assert [server.event(body)[0] for server in servers] == [401, 401]
        assert [server.event({**body, "APIKey": spare})[0] for server in servers] == [200, 200]  # the user's other key
        assert cli("revoke-session", session_id, "--db", db) == (0, {"revoked": True})
        assert [server.event({**body, "APIKey": None, "SessionID": session_id})[0] for server in servers] == [401, 401]

        times, accepted_after = hammer(servers, {**body, "APIKey": hammered}, lambda: store.revoke_api_key(hammered))
        assert accepted_after == 0
        assert [server.event({**body, "APIKey": spare})[0] for server in servers] == [200, 200]
    finally:
        logs = [server.stop() for server in servers]
        store.close()
    assert not any("Traceback" in log for log in logs), logs
    reliability.measure(f"revocation_{request.node.callspec.id}", max(times))
    reliability.count("revocation_accepted_after", accepted_after)
