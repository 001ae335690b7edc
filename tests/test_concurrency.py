"""Concurrency: retries of one event race each other; several processes share one SQLite file.

A retry is the same UUID sent again: 8 copies at once (in process, and against the real
server) are stored once, and all 8 get the same success answer. Two server processes
(``serve`` twice, and gunicorn with two workers) on one file under load answer no 5xx,
never "database is locked", and store exactly the events they acknowledged.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from werkzeug.test import Client

import reliability
from conftest import Account, make_account
from octeth_tracking import SQLiteStore, create_app
from servers import Server

COPIES = 8


def rows_for(db: Path, event_uuids: list[str]) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {u: conn.execute("SELECT count(*) FROM events WHERE uuid = ?", (u,)).fetchone()[0] for u in event_uuids}
    finally:
        conn.close()


def race(send: Callable[[dict[str, Any]], tuple[int, Any]], body: dict[str, Any]) -> list[tuple[int, Any]]:
    """``COPIES`` threads send ``body`` at the same instant; their answers."""
    barrier = threading.Barrier(COPIES)
    answers: list[tuple[int, Any]] = []

    def copy() -> None:
        barrier.wait()
        answers.append(send(body))

    threads = [threading.Thread(target=copy) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def check_retries(db: Path, account: Account, send: Callable[[dict[str, Any]], tuple[int, Any]], rounds: int) -> None:
    sent = []
    for n in range(rounds):
        event_uuid = str(uuid.uuid4())
        sent.append(event_uuid)
        # Half the rounds identify the visitor too: the answer's identify_event_sent must agree across copies.
        extra = {"Email": f"v{n}@example.com"} if n % 2 else {}
        answers = race(send, {"APIKey": account.api_key, "ListID": account.list_id, "UUID": event_uuid,
                              "ID": f"visitor-{n}", "Event": "purchase", **extra})
        reliability.count("retry_requests", len(answers))
        reliability.count("retry_uuids")
        assert len(answers) == COPIES
        assert {status for status, _ in answers} == {200}
        distinct = {json.dumps(answer, sort_keys=True) for _, answer in answers}
        assert len(distinct) == 1, distinct  # every copy answered alike, its stored time too
        assert {**answers[0][1], "occurred_at": None} == {
            "status": "success", "uuid": event_uuid, "external_id": f"visitor-{n}", "identify_event_sent": bool(n % 2),
            "occurred_at": None}
    stored = rows_for(db, sent)
    reliability.count("retry_stored", sum(stored.values()))
    assert stored == {u: 1 for u in sent}


def test_same_uuid_from_8_threads_in_process_is_stored_once(store, account):
    app = create_app(store=store)

    def send(body: dict[str, Any]) -> tuple[int, Any]:
        response = Client(app).post("/api/v1/event", json=body)
        return response.status_code, response.get_json()

    check_retries(Path(store.path), account, send, rounds=12)


def test_same_uuid_from_8_threads_against_the_real_server_is_stored_once(tmp_path):
    db = tmp_path / "events.db"
    store = SQLiteStore(db)
    account = make_account(store)
    store.close()
    server = Server(tmp_path, "serve", "--port", "0", "--db", str(db))
    try:
        check_retries(db, account, server.event, rounds=6)
    finally:
        log = server.stop()
    assert "Traceback" not in log


def start_servers(kind: str, tmp_path: Path, db: Path) -> list[Server]:
    if kind == "two-serve-processes":
        return [Server(tmp_path, "serve", "--port", "0", "--db", str(db)) for _ in range(2)]
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", "127.0.0.1:0",
               "--no-control-socket", "octeth_tracking:create_app()"]
    return [Server(tmp_path, command=command, env={"OCTETH_TRACKING_DB": str(db)}, prefix="/api/v1")]


@pytest.mark.parametrize("kind", ["two-serve-processes", "gunicorn-2-workers"])
def test_two_processes_on_one_file_store_what_they_acknowledge(tmp_path, kind):
    db = tmp_path / "events.db"
    store = SQLiteStore(db)
    account = make_account(store)
    store.close()
    servers = start_servers(kind, tmp_path, db)
    acknowledged: set[str] = set()
    failures: list[Any] = []
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", "Properties": {"p": 1}}

    def client(worker: int) -> None:
        for n in range(40):
            event_uuid = str(uuid.uuid4())
            # Every third event is retried on the other process: a duplicate across processes.
            targets = [servers[(worker + n) % len(servers)]] + ([servers[(worker + n + 1) % len(servers)]] if n % 3 == 0 else [])
            for server in targets:
                reliability.count("multiprocess_requests")
                try:
                    status, answer = server.event({**body, "UUID": event_uuid}, timeout=60)
                except (OSError, http.client.HTTPException) as error:
                    failures.append(repr(error))
                    continue
                if status == 200 and answer["uuid"] == event_uuid:
                    acknowledged.add(event_uuid)
                else:
                    failures.append((status, answer))

    threads = [threading.Thread(target=client, args=(worker,)) for worker in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        logs = "".join(server.stop() for server in servers)
    stored = rows_for(db, sorted(acknowledged))
    conn = sqlite3.connect(db)
    total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    reliability.count("multiprocess_acknowledged", len(acknowledged))
    reliability.count("multiprocess_stored", total)
    reliability.count("multiprocess_5xx", sum(1 for f in failures if isinstance(f, tuple) and f[0] >= 500))
    assert failures == []
    assert "locked" not in logs and "Traceback" not in logs
    assert len(acknowledged) == 8 * 40
    assert stored == {u: 1 for u in acknowledged} and total == len(acknowledged)
