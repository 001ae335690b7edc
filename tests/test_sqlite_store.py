"""What only the SQLite store promises: one file, WAL, versioned schema, secrets as digests."""

from __future__ import annotations

import sqlite3

from octeth_tracking import SQLiteStore
from octeth_tracking.storage.sqlite import MIGRATIONS
from test_storage_contract import new_event


def test_file_is_created_in_wal_mode_with_schema_version(tmp_path):
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_sqlite_url_and_reopening_keeps_everything(tmp_path):
    path = tmp_path / "kept.db"
    store = SQLiteStore(f"sqlite:///{path}")
    user = store.create_user("u")
    key = store.create_api_key(user)
    list_id = store.create_list(user, "l")
    store.record([new_event(list_id, properties={"a": 1})])
    store.close()
    again = SQLiteStore(path)
    assert again.user_for_api_key(key) == user
    assert again.count_events(list_id) == 1
    assert again.properties(list_id) == {"pageView": ["a"]}
    again.close()


def test_only_digests_of_secrets_are_at_rest(tmp_path):
    path = tmp_path / "secrets.db"
    store = SQLiteStore(path)
    user = store.create_user("u")
    key, session_id = store.create_api_key(user), store.create_session(user, 60)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert key.encode() not in raw and session_id.encode() not in raw
