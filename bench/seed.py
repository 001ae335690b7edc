"""Seeded stores for the properties and reads benchmarks, built once through ``Store.record`` and cached.

A store of N events in one list is built in batches of ``BATCH`` events through the
store's own batch write path (the group-commit writer), not through HTTP. The file is
kept under ``bench/.cache/`` and reused while it holds exactly N events. Visitors
``visitor-0`` ... ``visitor-49999`` take turns, except that every (N / 200)th event is
:data:`THE_VISITOR`'s: one visitor with 200 events spread over the whole store, at any size
(so that a visitor's page reads as many events at 10 thousand as at 10 million).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from pathlib import Path

from octeth_tracking import SQLiteStore
from octeth_tracking.storage import Event

from bodies import body, make_uuid

BATCH = 50_000
THE_VISITOR = "the-visitor"
CACHE = Path(__file__).parent / ".cache"


def copy_store(source: Path | str, target: Path | str) -> None:
    """Copy a store's file and wait until the copy is on disk: the kernel's write-back of a fresh
    copy of 2 GB (10 million events) otherwise runs under the measured commits and their fsyncs
    (measured here: 7,300 events/s in process on the 10M copy, 25,500 after a sync)."""
    shutil.copyfile(source, target)
    os.sync()


def _shapes(count: int = 500) -> list[tuple[str, dict]]:
    """(event name, properties) pairs of the benchmark's bodies; identify ones left out (no email here)."""
    rng = random.Random(11)
    shapes = []
    for index in range(count):
        made = body(rng, "key", 1, index)
        if made["Event"] != "identify":
            shapes.append((made["Event"], made["Properties"]))
    return shapes


def seeded(size: int, cache: Path = CACHE, log=print) -> tuple[Path, int, str]:
    """(path, list id, API key) of a store holding ``size`` events in one list; built if missing."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"seeded-{size}.db"
    store = SQLiteStore(path)
    try:
        if store.count_users() and store.count_events(1) == size:
            return path, 1, store.create_api_key(1)
    finally:
        store.close()
    for stale in cache.glob(f"seeded-{size}.db*"):
        stale.unlink()
    store = SQLiteStore(path, max_batch=BATCH)
    try:
        user = store.create_user("bench")
        list_id = store.create_list(user, "seeded")
        shapes = _shapes()
        started, done, every = time.monotonic(), 0, max(1, size // 200)
        while done < size:
            count = min(BATCH, size - done)
            events = [
                Event(list_id=list_id, uuid=make_uuid(0, 0, done + i),
                      external_id=THE_VISITOR if (done + i) % every == 0 else f"visitor-{(done + i) % 50_000}",
                      event=shapes[(done + i) % len(shapes)][0], properties=shapes[(done + i) % len(shapes)][1])
                for i in range(count)
            ]
            store.record(events)
            done += count
            if done % 1_000_000 == 0 or done == size:
                log(f"  seeded {done:,} of {size:,} events ({done / (time.monotonic() - started):,.0f}/s)")
        while store._writer is not None and store._writer.index.step():  # the visitor index whole: no tail left
            pass
        return path, list_id, store.create_api_key(user)
    finally:
        store.close()


if __name__ == "__main__":
    for n in sys.argv[1:]:
        print(seeded(int(n)))
