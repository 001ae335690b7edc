"""What each index of the events table costs the durable write, in process (no server).

    python bench/index_cost.py [STORED ...]     # stores of these sizes first (default 0 and 200,000)

``SQLiteStore.record`` of the benchmark's events, 100 per commit (``synchronous=FULL``, as
the issue's reference figure of about 125,000 rows a second was measured), on copies of
one store with some of the events indexes dropped:

- our schema: ``(list_id, uuid)`` unique, and ``(list_id, occurred_at)``, ``(list_id, external_id,
  occurred_at)``, ``(list_id, event, occurred_at)`` (a list's, a visitor's and an event name's
  pages of ``website_events.list``);
- without the visitor's; without the visitor's and the event name's; with the uuid's only;
- without any (no duplicate check then: a measurement, never a store to use).

A UUID or visitor id is random, so each event dirties a leaf of its index that no other
event of its commit shares, once the index spans more pages than a commit holds events:
the WAL takes that page whole, and the checkpoint writes it again. Best of 3 runs of 100
commits, each on a fresh copy of the store.
"""

from __future__ import annotations

import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from cost import _events, _stored  # noqa: E402

from octeth_tracking import SQLiteStore  # noqa: E402

_VISITOR, _EVENT, _TIME, _UUID = ("events_list_visitor_occurred", "events_list_event_occurred", "events_list_occurred",
                                   "idx_events_list_id_uuid")
VARIANTS = {
    "our schema": [],
    "without the visitor index": [_VISITOR],
    "without the visitor and event-name indexes": [_VISITOR, _EVENT],
    "with the uuid index only": [_VISITOR, _EVENT, _TIME],
    "without any events index": [_VISITOR, _EVENT, _TIME, _UUID],
}
PER_COMMIT = 100


def index_cost(workdir: Path, dropped: list[str], stored: int, commits: int = 100, repeat: int = 3) -> tuple[float, float, float]:
    """Best (events a second, µs of CPU an event, of which the kernel's) of ``repeat`` runs.

    Each run starts from a fresh copy of the store and makes ``commits`` commits: at the
    store's default of a WAL checkpoint every 100 commits, a run of 100 pays for one, as
    a served store does.
    """
    template, list_id = _stored(workdir, stored)
    path = workdir / "variant.db"
    rng = random.Random(-1 - stored)  # not _stored's seed: no UUID of the store again
    best = (0.0, float("inf"), float("inf"))
    for _ in range(repeat):
        shutil.copyfile(template, path)
        conn = sqlite3.connect(path)
        for index in dropped:
            conn.execute(f"DROP INDEX {index}")
        conn.commit()
        conn.close()
        store = SQLiteStore(path)
        batches = [_events(rng, list_id, PER_COMMIT) for _ in range(commits)]
        before, wall = _cpu(), time.perf_counter()
        for batch in batches:
            store.record(batch)
        wall = time.perf_counter() - wall
        user, kernel = (after - first for after, first in zip(_cpu(), before))
        count = commits * PER_COMMIT
        if (user + kernel) / count < best[1] / 1e6:
            best = (count / wall, (user + kernel) / count * 1e6, kernel / count * 1e6)
        found = store.count_events(list_id)
        store.close()
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-writer.lock")):
            leftover.unlink(missing_ok=True)
        # Only identify events carry an email here, so none adds a second event: stored exactly once each.
        assert found == stored + count, f"{found} events stored of {stored + count}"
    return best


def _cpu() -> tuple[float, float]:
    """This process's CPU seconds so far: (user, kernel)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main() -> int:
    sizes = [int(arg) for arg in sys.argv[1:]] or [0, 200_000]
    cache = BENCH / ".cache"
    with tempfile.TemporaryDirectory(prefix="octeth-index-", dir=cache if cache.is_dir() else None) as tmp:
        print(f"SQLiteStore.record, {PER_COMMIT} events a commit, synchronous=FULL (best of 3 runs of 100 commits,"
              " each on a fresh copy of the store):")
        for stored in sizes:
            for name, dropped in VARIANTS.items():
                rate, cpu, kernel = index_cost(Path(tmp), dropped, stored)
                print(f"  store of {stored:>9,}, {name:44} {rate:9,.0f} events/s  {cpu:5.1f} µs CPU an event"
                      f" ({kernel:4.1f} in the kernel)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
