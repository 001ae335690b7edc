"""Group commit in the SQLite store: concurrent requests share commits, and the WAL starts afresh."""

from __future__ import annotations

import sqlite3
import threading

from octeth_tracking import SQLiteStore
from octeth_tracking.storage import Event


def write_concurrently(store: SQLiteStore, threads: int, each: int) -> None:
    def worker(n: int) -> None:
        for i in range(each):
            store.record([Event(list_id=1, uuid=f"00000000-0000-4000-8000-{n:04x}{i:08x}", external_id=f"v{n}",
                                event="pageView", properties={"url": "https://x.test/", "n": i})])

    started = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()


def test_concurrent_events_share_commits_and_all_are_stored(tmp_path):
    store = SQLiteStore(tmp_path / "g.db")
    write_concurrently(store, threads=16, each=25)
    store.close()
    with sqlite3.connect(tmp_path / "g.db") as conn:
        events, commits = conn.execute("SELECT count(*), count(DISTINCT created_at) FROM events").fetchone()
    assert events == 400
    assert commits < events  # a commit stamps its whole batch with one time


def wal_frames(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]  # frames in the WAL


def test_the_wal_starts_afresh_after_checkpoints(tmp_path):
    frames = {}
    for every in (10, 10**9):
        store = SQLiteStore(tmp_path / f"w{every}.db")
        store.checkpoint_every = every
        write_concurrently(store, threads=4, each=60)
        frames[every] = wal_frames(tmp_path / f"w{every}.db")  # while the store is open: no close-time checkpoint
        store.close()
    assert frames[10] < frames[10**9] / 2
