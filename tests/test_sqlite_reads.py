"""SQLite reads: connections are pooled per process, not held per thread.

A server runs tens to hundreds of request threads; a connection per thread that ever
read (an API key looked up after its cache entry expired, say) grew the worker's
memory by its page cache and schema, thread after thread.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from octeth_tracking import SQLiteStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts open files through /proc/self/fd (Linux)")


def open_connections(path: Path) -> int:
    """This process's open descriptors on the database file itself (one per connection)."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:
            pass
    return found


def test_reads_from_many_threads_one_after_another_share_one_connection(tmp_path):
    path = tmp_path / "reads.db"
    store = SQLiteStore(path)
    key = store.create_api_key(store.create_user("ann"))
    for _ in range(40):
        thread = threading.Thread(target=store.user_for_api_key, args=(key,))
        thread.start()
        thread.join()
    assert open_connections(path) == 1
    store.close()
    assert open_connections(path) == 0


def test_concurrent_reads_each_get_a_connection_and_all_answer(tmp_path):
    path = tmp_path / "reads.db"
    store = SQLiteStore(path)
    user = store.create_user("ann")
    lists = [store.create_list(user, f"list {n}") for n in range(16)]
    answers: dict[int, int | None] = {}
    barrier = threading.Barrier(16)

    def read(list_id: int) -> None:
        barrier.wait()
        answers[list_id] = store.list_owner(list_id)

    threads = [threading.Thread(target=read, args=(list_id,)) for list_id in lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {list_id: user for list_id in lists}
    assert 1 <= open_connections(path) <= 16
    store.close()
    assert open_connections(path) == 0
