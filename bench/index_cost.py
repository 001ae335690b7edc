"""What the events indexes cost the durable write, in process (no server): the write before
the visitor index moved off the commit path, beside the write now.

    python bench/index_cost.py [STORED ...]     # stores of these sizes (default 0 and 1,000,000)

``SQLiteStore.record`` of traffic's events (``bodies.traffic``: 20,000 visitors at a time in
sessions of 3-12 events, 80 % UUIDv7, 10 % server-given v7, 10 % random v4), 100 a commit,
``synchronous=FULL``, on copies of ``bench/seed.py``'s store of each size:

- before: the events table's own visitor index ``(list_id, external_id, occurred_at)``, as
  up to migration 7: every event dirties a leaf of it on the commit path;
- now: our schema, the visitor index built in bulk (storage/visitor_index.py): its steps
  (one per 20,000 events, the default) run in the measured time, in the measuring thread;
- with the uuid index only, and without any events index (no duplicate check then: a
  measurement, never a store to use): what the other indexes cost.

Best of 3 runs of 400 commits (40,000 events: two steps), each on a fresh copy. Prints events/s
with everything in, µs of CPU an event (the kernel's share in brackets), and for "now" what
its steps cost an event, and the commit path's rate without them.
"""

from __future__ import annotations

import random
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bodies import traffic  # noqa: E402
from seed import copy_store, seeded  # noqa: E402

from octeth_tracking import SQLiteStore  # noqa: E402
from octeth_tracking.storage import Event  # noqa: E402

_EVENT, _TIME, _UUID = "events_list_event_occurred", "events_list_occurred", "idx_events_list_id_uuid"
_OLD_VISITOR = "CREATE INDEX events_list_visitor_occurred ON events (list_id, external_id, occurred_at)"
VARIANTS = {  # name: (indexes dropped, statements run on the copy, bulk steps)
    "before: visitor index on the events table": ([], [_OLD_VISITOR], False),
    "now: visitor index in bulk steps": ([], [], True),
    "with the uuid index only": ([_EVENT, _TIME], [], False),
    "without any events index": ([_EVENT, _TIME, _UUID], [], False),
}
PER_COMMIT = 100
STEP_EVERY = 20_000


def _events(rng: random.Random, list_id: int, count: int) -> list[Event]:
    return [Event(list_id=list_id, uuid=event_uuid, external_id=visitor, event="pageView",
                  properties={"$current_url": "https://shop.example.com/", "$browser": "Chrome", "n": n})
            for n, (visitor, event_uuid) in enumerate(traffic(rng, count))]


def index_cost(template: Path, list_id: int, workdir: Path, variant: str, commits: int = 400,
               repeat: int = 3, step_every: int = STEP_EVERY) -> tuple[float, float, float, float, float]:
    """Best (events/s, µs CPU an event, of which the kernel's, µs the steps cost an event,
    the commit path's events/s) of ``repeat`` runs, each on a fresh copy of ``template``."""
    dropped, statements, steps = VARIANTS[variant]
    path = workdir / "variant.db"
    best = (0.0, float("inf"), 0.0, 0.0, 0.0)
    stored = SQLiteStore(template)
    before = stored.count_events()
    stored.close()
    for run in range(repeat):
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        copy_store(template, path)
        conn = sqlite3.connect(path)
        for index in dropped:
            conn.execute(f"DROP INDEX {index}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
        store = SQLiteStore(path, visitor_index_every=10**12)  # steps only where this loop runs them
        store.record(_events(random.Random(-1 - run), list_id, 1))  # the writer, and a step of what seeding left
        if steps:
            while store._writer.index.step():
                pass
        made = _events(random.Random(run), list_id, commits * PER_COMMIT)  # one traffic, its sessions across commits
        batches = [made[start:start + PER_COMMIT] for start in range(0, len(made), PER_COMMIT)]
        first, wall, stepping = _cpu(), time.perf_counter(), 0.0
        for number, batch in enumerate(batches, 1):
            store.record(batch)
            if steps and number * PER_COMMIT % step_every == 0:
                started = time.perf_counter()
                assert store._writer.index.step()
                stepping += time.perf_counter() - started
        wall = time.perf_counter() - wall
        user, kernel = (after - at for after, at in zip(_cpu(), first))
        count = commits * PER_COMMIT
        if (user + kernel) / count < best[1] / 1e6:
            best = (count / wall, (user + kernel) / count * 1e6, kernel / count * 1e6, stepping / count * 1e6,
                    count / (wall - stepping))
        found = store.count_events()
        store.close()
        assert found == before + 1 + count, f"{found} events stored of {before + 1 + count}"
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return best


def _cpu() -> tuple[float, float]:
    """This process's CPU seconds so far: (user, kernel)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main() -> int:
    sizes = [int(arg) for arg in sys.argv[1:]] or [0, 1_000_000]
    cache = BENCH / ".cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="octeth-index-", dir=cache) as tmp:
        print(f"SQLiteStore.record, {PER_COMMIT} events a commit, synchronous=FULL (best of 3 runs of 400 commits,"
              " each on a fresh copy of the store):")
        for stored in sizes:
            template, list_id, _ = seeded(stored)
            for name in VARIANTS:
                rate, cpu, kernel, stepping, commit_path = index_cost(template, list_id, Path(tmp), name)
                steps = f"; steps {stepping:4.1f} µs an event, the commits alone {commit_path:7,.0f}/s" if VARIANTS[name][2] else ""
                print(f"  store of {stored:>10,}, {name:42} {rate:8,.0f} events/s  {cpu:5.1f} µs CPU an event"
                      f" ({kernel:4.1f} in the kernel){steps}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
