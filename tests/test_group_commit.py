"""Group commit in the SQLite store: concurrent requests share commits, one bad job or a held lock
fails only what it must, a forked child writes on its own, and the WAL starts afresh."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

import pytest

from octeth_tracking import SQLiteStore
from octeth_tracking.storage import Event, StorageUnavailable


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


def event(n: int, **fields) -> Event:
    return Event(**{"list_id": 1, "uuid": f"00000000-0000-4000-8000-{n:012x}", "external_id": f"v{n}",
                    "event": "pageView", "properties": {"n": n}, **fields})


def queued(store: SQLiteStore) -> int:
    writer = store._writer
    return len(writer.pending) if writer is not None else 0


def send_in_one_batch(store: SQLiteStore, db, properties: dict[int, dict]) -> dict[int, object]:
    """Record event n with ``properties[n]``, one thread each, all queued into one batch: another
    process's turn (the flock) holds the first leader back while the rest queue up. Returns
    each event's uuid, or the error its record raised."""
    outcomes: dict[int, object] = {}

    def send(n: int) -> None:
        try:
            outcomes[n] = store.record([event(n, properties=properties[n])])[0].uuid
        except TypeError as error:  # a set is not JSON
            outcomes[n] = error

    lock = os.open(str(db) + "-writer.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    threads = [threading.Thread(target=send, args=(n,)) for n in properties]
    for thread in threads:
        thread.start()
    for _ in range(5000):  # bounded: every job queued (the leader's own stays queued until its turn)
        if queued(store) == len(properties):
            break
        time.sleep(0.001)
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(lock)
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_jobs_queued_behind_a_commit_share_the_next_one_and_a_bad_job_costs_only_itself(tmp_path):
    store = SQLiteStore(tmp_path / "q.db")
    store.record([event(0)])  # opens this process's writer
    outcomes = send_in_one_batch(store, tmp_path / "q.db", {n: {"n": n} if n != 3 else {"bad": {1, 2}} for n in range(1, 6)})
    assert isinstance(outcomes.pop(3), TypeError)
    assert sorted(outcomes) == [1, 2, 4, 5]
    store.close()
    with sqlite3.connect(tmp_path / "q.db") as conn:
        rows = conn.execute("SELECT uuid, created_at FROM events WHERE uuid != ?", (event(0).uuid,)).fetchall()
    assert sorted(uuid for uuid, _ in rows) == sorted(outcomes.values())
    assert len({created for _, created in rows}) == 1  # one commit for the whole queue


def test_the_turn_is_free_for_another_process_after_each_commit_and_waited_for_while_held(tmp_path):
    # Another open file of the lock stands for another process (an flock belongs to the open file).
    store = SQLiteStore(tmp_path / "t.db")
    store.record([event(1)])
    other = os.open(str(tmp_path / "t.db") + "-writer.lock", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if the commit kept the turn
    recorded = threading.Event()
    writer = threading.Thread(target=lambda: (store.record([event(2)]), recorded.set()))
    writer.start()
    assert not recorded.wait(0.3)  # the other process's turn holds the commit back
    fcntl.flock(other, fcntl.LOCK_UN)
    writer.join(30)
    assert recorded.is_set() and store.count_events() == 2
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # and free again after it
    os.close(other)
    store.close()


def test_a_write_lock_held_past_busy_timeout_fails_the_batch_and_the_next_request_leads(tmp_path):
    store = SQLiteStore(tmp_path / "b.db", busy_timeout=0.2)
    holder = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a process that takes no turn (the CLI, say)
    with pytest.raises(StorageUnavailable):
        store.record([event(1)])
    holder.execute("ROLLBACK")
    assert store.record([event(2)])[0].uuid == event(2).uuid
    assert store.count_events() == 1
    holder.close()
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_writes_through_its_own_connection(tmp_path):
    store = SQLiteStore(tmp_path / "f.db")
    store.record([event(1)])
    pid = os.fork()
    if pid == 0:  # the child: the parent's writer state must not be reused
        try:
            store.record([event(2)])
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    store.record([event(3)])
    assert store.count_events() == 3
    store.close()


def traced(store: SQLiteStore) -> list[str]:
    """The SQL the store's writer runs from now on."""
    statements: list[str] = []
    store._writer_state().conn.set_trace_callback(statements.append)
    return statements


def test_the_common_batch_is_one_insert_with_its_own_commit(tmp_path):
    store = SQLiteStore(tmp_path / "o.db")
    store.record([event(0)])  # the registry now holds (pageView, n)
    statements = traced(store)
    receipts = store.record([event(1), event(2), event(3)])
    assert [r.uuid for r in receipts] == [event(n).uuid for n in (1, 2, 3)] and not any(r.duplicate for r in receipts)
    assert len(statements) == 1 and statements[0].count("NULL") == 3  # no BEGIN, no COMMIT: one statement
    store.close()
    with sqlite3.connect(tmp_path / "o.db") as conn:  # another connection sees it: committed
        assert conn.execute("SELECT count(*), count(DISTINCT created_at) FROM events").fetchone() == (4, 2)


@pytest.mark.parametrize("warm", [pytest.param(True, id="one-statement"), pytest.param(False, id="transaction")])
def test_duplicates_get_the_stored_answer_on_either_path(tmp_path, warm):
    store = SQLiteStore(tmp_path / "d.db")
    store.record([event(1)])  # stored once, as visitor v1
    if not warm:  # a writer that takes no event in one statement: the transaction path answers
        store._writer_state().max_rows = 0
    again = event(1, external_id="someone-else")
    twice = event(2, external_id="second-visitor")
    receipts = store.record([event(2), again, twice, event(3)])
    assert [(r.uuid, r.external_id, r.duplicate) for r in receipts] == [
        (event(2).uuid, "v2", False),
        (event(1).uuid, "v1", True),  # the stored row's visitor, not the one sent again
        (event(2).uuid, "v2", True),  # the same uuid twice in one batch: the first one stored
        (event(3).uuid, "v3", False),
    ]
    assert store.count_events() == 3
    store.close()


def test_a_value_the_statement_refuses_fails_only_its_own_job(tmp_path):
    store = SQLiteStore(tmp_path / "v.db")
    store.record([event(0)])  # a known name: the batch starts down the one-statement path
    outcomes = send_in_one_batch(store, tmp_path / "v.db", {n: {"n": {1, 2} if n == 2 else n} for n in (1, 2, 3)})
    assert isinstance(outcomes[2], TypeError) and outcomes[1] == event(1).uuid and outcomes[3] == event(3).uuid
    assert store.count_events() == 3
    store.close()
