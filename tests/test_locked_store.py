"""A locked store answers quickly, and /health says it cannot write.

Another process holds the store's write lock (SQLite: ``BEGIN IMMEDIATE`` from a connection
of this process; PostgreSQL: ``LOCK TABLE events IN EXCLUSIVE MODE``) while a real server
runs. An event then waits ``write_timeout`` (default 5 s, or as configured) and gets 503,
code 26, ``Retry-After``, with nothing stored; meanwhile ``/health`` answers 503 with
``Retry-After`` within about half a second. Once the lock is let go, both are 200 again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import uuid
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

import reliability
from conftest import make_account
from octeth_tracking import Event, SQLiteStore, StorageUnavailable, open_store
from servers import Server
from services import pg_schema

UNAVAILABLE = {"Errors": [{"Code": 26, "Message": "Event store is unavailable, try again."}]}


def exchange(url: str, body: bytes | None = None) -> tuple[int, Any, Any, float]:
    """(status, headers (case-insensitive), JSON body, seconds it took)."""
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, error.headers, error.read()
    return status, headers, json.loads(payload), time.perf_counter() - started


@contextmanager
def sqlite_lock(db: str) -> Iterator[None]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as a shell would hold it
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextmanager
def postgres_lock(db: str) -> Iterator[None]:
    import psycopg

    with psycopg.connect(db) as conn:
        conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # reads go on, writes wait
        yield
        conn.rollback()


def sqlite_db(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "events.db")


@pytest.fixture(params=[pytest.param((sqlite_db, sqlite_lock), id="sqlite"),
                        pytest.param((lambda tmp_path: pg_schema(), postgres_lock), id="postgresql")])
def store_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any, str]]:
    make_db, lock = request.param
    for db in make_db(tmp_path):
        yield db, lock, "sqlite" if lock is sqlite_lock else "postgresql"


@pytest.mark.parametrize("write_timeout", [pytest.param(None, id="default-5s"), pytest.param(1.5, id="configured-1.5s")])
def test_a_locked_store_is_a_quick_503_and_health_says_so(store_kind, tmp_path, write_timeout):
    db, lock, kind = store_kind
    store = open_store(db)
    account = make_account(store)
    env = {} if write_timeout is None else {"OCTETH_TRACKING_WRITE_TIMEOUT": str(write_timeout)}
    server = Server(tmp_path, "serve", "--port", "0", "--db", db, env=env)
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}).encode()
    try:
        assert exchange(server.url + "/event", body)[0] == 200
        assert exchange(server.url + "/health")[0] == 200
        answers: dict[str, Any] = {}
        with lock(db):
            event = threading.Thread(target=lambda: answers.update(event=exchange(server.url + "/event", body)))
            event.start()
            time.sleep(0.2)  # the event is waiting for the lock now
            answers["health"] = exchange(server.url + "/health")
            event.join(timeout=60)
        status, headers, answer, seconds = answers["event"]
        expected = write_timeout or 5.0
        assert (status, answer, headers.get("Retry-After")) == (503, UNAVAILABLE, "1")
        assert expected - 0.1 <= seconds <= expected + 1.5
        status, headers, answer, health_seconds = answers["health"]
        assert (status, answer["store"], headers.get("Retry-After")) == (503, "unavailable", "1")
        assert health_seconds < 1.5
        assert store.count_events(account.list_id) == 1  # the 503 stored nothing
        assert exchange(server.url + "/health")[0] == 200
        assert exchange(server.url + "/event", body)[0] == 200
    finally:
        log = server.stop()
        store.close()
    assert "Traceback" not in log
    if write_timeout is None:
        print(f"{kind}: event 503 after {seconds:.2f} s, health 503 after {health_seconds:.2f} s")
        reliability.measure(f"locked_event_{kind}", seconds)
        reliability.measure(f"locked_health_{kind}", health_seconds)


def test_writers_of_two_processes_waiting_on_one_lock_each_answer_within_the_write_timeout(tmp_path):
    # Two stores on one file: two writers, each with its own turn (file lock), as two processes have.
    db = tmp_path / "events.db"
    stores = [SQLiteStore(db, busy_timeout=1.0) for _ in range(2)]
    list_id = stores[0].create_list(stores[0].create_user("u"), "l")
    outcomes: list[tuple[str, float]] = []

    def write(store: SQLiteStore) -> None:
        started = time.perf_counter()
        try:
            store.record([Event(list_id, str(uuid.uuid4()), "v", "pageView")])
            outcome = "stored"
        except StorageUnavailable:
            outcome = "503"
        outcomes.append((outcome, time.perf_counter() - started))

    try:
        with sqlite_lock(str(db)):
            threads = [threading.Thread(target=write, args=(store,)) for store in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
    finally:
        for store in stores:
            store.close()
    # The second writer's wait for the first one's turn counts against its own timeout.
    assert [outcome for outcome, _ in outcomes] == ["503", "503"]
    assert max(seconds for _, seconds in outcomes) < 1.0 + 0.4


def test_health_says_ok_while_writers_keep_the_store_busy(tmp_path):
    # Busy is not locked: the probe queues with the writers and gets its turn between commits.
    store = SQLiteStore(tmp_path / "events.db")
    list_id = store.create_list(store.create_user("u"), "l")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            store.record([Event(list_id, str(uuid.uuid4()), "v", "pageView")])

    writers = [threading.Thread(target=write) for _ in range(8)]
    for thread in writers:
        thread.start()
    try:
        time.sleep(0.1)
        pings = [store.ping() for _ in range(10)]
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=30)
        written = store.count_events(list_id)
        store.close()
    assert pings == [True] * 10 and written > 10
