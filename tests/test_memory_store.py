"""``SQLiteStore(":memory:")``: what only the in-memory store promises (the contract suite runs it too)."""

from __future__ import annotations

import sqlite3
import threading

from werkzeug.test import Client

from conftest import make_account
from octeth_tracking import SQLiteStore, create_app


def test_each_memory_store_is_its_own_database_and_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = SQLiteStore(":memory:"), SQLiteStore("sqlite:///:memory:")
    make_account(first)
    assert (first.count_users(), second.count_users()) == (1, 0)
    first.close()
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_the_apps_threads_share_it_and_every_event_is_stored():
    store = SQLiteStore(":memory:")
    account = make_account(store)
    client = Client(create_app(store=store, event_rate_limit=0))
    statuses = []

    def visitor(n: int) -> None:
        for i in range(40):
            body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "click", "ID": f"v{n}",
                    "Properties": {"i": i}}
            if i == 0:
                body["Email"] = f"{n}@example.com"  # a link, and an identify event, per visitor
            statuses.append(client.post("/api/v1/event", json=body).status_code)

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 320
    assert store.count_events(account.list_id) == 320 + 8
    assert store.subscriber_email(account.list_id, "v3") == "3@example.com"
    assert store.properties(account.list_id) == {"click": ["i"], "identify": ["i"]}
    store.close()


def test_closing_frees_it():
    store = SQLiteStore(":memory:")
    make_account(store)
    conn = sqlite3.connect(store.path, uri=True)  # another connection keeps it alive while open
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
    conn.close()
    store.close()
    conn = sqlite3.connect(store.path, uri=True)  # the same name after close: nothing left
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    conn.close()
