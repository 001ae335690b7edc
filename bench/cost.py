"""CPU cost per request of the two halves of POST /event, measured in process (no server).

    python bench/cost.py [STORED]     # STORED: events in the store first (default 200,000)

1. The request path without the write: the WSGI app called directly on the benchmark's
   bodies (parse, authenticate, validate, answer), with a store whose ``record`` only
   hands back receipts. This is a measurement of one half, never a stand-in for the store.
   Beside it, the same path with the revocation generation replaced by a constant (the
   time-bound cache alone, as before revocations moved it): the difference is what reading
   the generation (twice a request: the key and the list's owner) costs. And the same path
   with metrics on (off by default), counted in memory (prometheus_client's multi-process
   mode, in files, costs more per count).
2. The write: ``SQLiteStore.record`` of N events in one call (one transaction, one
   commit, ``synchronous=FULL``), for several N: CPU time of the process (the kernel's
   share of the fsync included) and wall time, per event. On a store already holding as
   many events as a served run leaves (200,000 by default), with random UUIDs and the
   benchmark's 50,000 visitors: on a fresh store the indexes fit in SQLite's page cache
   and an event cost less than half as much, which is not what a server sees.

Figures are the best of several repetitions (the least disturbed by other work on a
shared machine). They say what a server's worker pays per request in our code, to set
beside the server's own cost per request (its bare ceiling: cores / requests per second).
"""

from __future__ import annotations

import io
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bodies import body, templates  # noqa: E402

from octeth_tracking import SQLiteStore, TrackingApp  # noqa: E402
from octeth_tracking.storage import Event, Receipt  # noqa: E402


def request_path(workdir: Path, requests: int = 5000, repeat: int = 10, generation: bool = True, **options: Any) -> float:
    """Best µs of CPU per request through the app, the store's write left out.

    :param generation: read the store's revocation generation (else a constant: the cache's time bound alone).
    :param options: ``TrackingApp`` arguments (``metrics_token``: with metrics on).
    """
    store = SQLiteStore(workdir / f"path-{generation}-{sorted(options)}.db")
    user = store.create_user("bench")
    key, list_id = store.create_api_key(user), store.create_list(user, "bench")
    store.record = lambda events: [Receipt(e.uuid, e.external_id, e.event == "identify") for e in events]  # type: ignore[method-assign]
    if not generation:
        store.revocation_generation = lambda: 0  # type: ignore[method-assign]
    app = TrackingApp(store=store, event_rate_limit=0, **options)
    shapes = templates(key, list_id)
    bodies = [(head + f"00000000-0000-4000-8000-{i:012x}" + tail).encode()
              for i, (head, tail) in ((i, shapes[i % len(shapes)]) for i in range(requests))]

    def environ(data: bytes) -> dict:
        return {"REQUEST_METHOD": "POST", "PATH_INFO": "/event", "SCRIPT_NAME": "", "QUERY_STRING": "",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data)}

    statuses: list[str] = []
    best = float("inf")
    for _ in range(repeat):
        environs = [environ(data) for data in bodies]
        started = time.process_time()
        for env in environs:
            b"".join(app(env, lambda status, headers: statuses.append(status)))
        best = min(best, (time.process_time() - started) / requests)
    assert all(status.startswith("200") for status in statuses), set(statuses)
    store.close()
    return best * 1e6


def _events(rng: random.Random, list_id: int, count: int) -> list[Event]:
    """The benchmark's events, with random UUIDs (as clients send them) and its 50,000 visitors."""
    made = [body(rng, "key", list_id, i) for i in range(count)]
    return [Event(list_id=list_id, uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), external_id=m["ID"],
                  event=m["Event"], email=(m.get("Email") or "").lower() or None, properties=m.get("Properties", {}))
            for m in made]


@lru_cache(maxsize=None)
def _stored(workdir: Path, count: int) -> tuple[Path, int]:
    """A store holding ``count`` of the benchmark's events in one list, made once per workdir: (file, list id)."""
    path = workdir / f"stored-{count}.db"
    store = SQLiteStore(path)
    list_id = store.create_list(store.create_user("bench"), "bench")
    rng = random.Random(count)
    for start in range(0, count, 5000):
        store.record(_events(rng, list_id, min(5000, count - start)))
    store.close()
    with sqlite3.connect(path) as conn:  # everything in the file itself, so a copy of the file is the store
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, list_id


def commit_cost(workdir: Path, batch: int, events: int = 2000, repeat: int = 3, stored: int = 0) -> tuple[float, float]:
    """Best (µs of CPU, µs of wall time) per event, committing ``batch`` events per transaction.

    :param stored: events stored first (in batches of 5,000), for a store the size a served
        run reaches: each index then spans more pages than the page cache holds, as served.
    """
    path = workdir / f"commit-{batch}.db"
    template, list_id = _stored(workdir, stored)
    shutil.copyfile(template, path)
    store = SQLiteStore(path)
    rng = random.Random(batch)
    count = batch * max(1, events // batch)
    best_cpu = best_wall = float("inf")
    for round_ in range(repeat):
        made = _events(rng, list_id, count)
        batches = [made[start:start + batch] for start in range(0, count, batch)]
        cpu, wall = time.process_time(), time.perf_counter()
        for events_ in batches:
            store.record(events_)
        best_cpu = min(best_cpu, (time.process_time() - cpu) / count)
        best_wall = min(best_wall, (time.perf_counter() - wall) / count)
    found = store.count_events(list_id)
    # Only identify events carry an email here, so none adds a second event: stored exactly once each.
    assert found == stored + repeat * count, f"{found} events stored of {stored + repeat * count} recorded"
    store.close()
    return best_cpu * 1e6, best_wall * 1e6


def main() -> int:
    stored = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory(prefix="octeth-cost-", dir=BENCH / ".cache" if (BENCH / ".cache").is_dir() else None) as tmp:
        workdir = Path(tmp)
        print(f"request path without the write: {request_path(workdir):.1f} µs of CPU per request")
        print(f"  the same with a constant revocation generation (time-bound cache alone): "
              f"{request_path(workdir, generation=False):.1f} µs")
        print(f"  the same with metrics on (metrics_token set, counted in this process): "
              f"{request_path(workdir, metrics_token='bench-token-0123456789'):.1f} µs")
        print(f"the write, synchronous=FULL, on a store of {stored:,} events (per event):")
        for batch in (1, 2, 4, 8, 16, 32, 64, 256):
            cpu, wall = commit_cost(workdir, batch, stored=stored)
            print(f"  {batch:4} events per commit: {cpu:7.1f} µs CPU  {wall:7.1f} µs wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
