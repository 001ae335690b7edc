"""CPU cost per request of the two halves of POST /event, measured in process (no server).

    python bench/cost.py

1. The request path without the write: the WSGI app called directly on the benchmark's
   bodies (parse, authenticate, validate, answer), with a store whose ``record`` only
   hands back receipts. This is a measurement of one half, never a stand-in for the store.
2. The write: ``SQLiteStore.record`` of N events in one call (one transaction, one
   commit, ``synchronous=FULL``), for several N: CPU time of the process (the kernel's
   share of the fsync included) and wall time, per event.

Figures are the best of several repetitions (the least disturbed by other work on a
shared machine). They say what a server's worker pays per request in our code, to set
beside the server's own cost per request (its bare ceiling: cores / requests per second).
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bodies import body, templates  # noqa: E402

from octeth_tracking import SQLiteStore, TrackingApp  # noqa: E402
from octeth_tracking.storage import Event, Receipt  # noqa: E402


def request_path(workdir: Path, requests: int = 5000, repeat: int = 10) -> float:
    """Best µs of CPU per request through the app, the store's write left out."""
    store = SQLiteStore(workdir / "path.db")
    user = store.create_user("bench")
    key, list_id = store.create_api_key(user), store.create_list(user, "bench")
    store.record = lambda events: [Receipt(e.uuid, e.external_id, e.event == "identify") for e in events]  # type: ignore[method-assign]
    app = TrackingApp(store=store, event_rate_limit=0)
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


def commit_cost(workdir: Path, batch: int, events: int = 2000, repeat: int = 3) -> tuple[float, float]:
    """Best (µs of CPU, µs of wall time) per event, committing ``batch`` events per transaction."""
    store = SQLiteStore(workdir / f"commit-{batch}.db")
    list_id = store.create_list(store.create_user("bench"), "bench")
    rng = random.Random(batch)
    count = batch * max(1, events // batch)
    best_cpu = best_wall = float("inf")
    for round_ in range(repeat):
        made = [body(rng, "key", list_id, i) for i in range(count)]
        batches = [[Event(list_id=list_id, uuid=f"{round_:08x}-0000-4000-8000-{i:012x}", external_id=f"v{i % 500}",
                          event=m["Event"], email=(m.get("Email") or "").lower() or None,
                          properties=m.get("Properties", {})) for i, m in enumerate(made[start:start + batch], start)]
                   for start in range(0, count, batch)]
        cpu, wall = time.process_time(), time.perf_counter()
        for events_ in batches:
            store.record(events_)
        best_cpu = min(best_cpu, (time.process_time() - cpu) / count)
        best_wall = min(best_wall, (time.perf_counter() - wall) / count)
    stored = store.count_events(list_id)
    # Only identify events carry an email here, so none adds a second event: stored exactly once each.
    assert stored == repeat * count, f"{stored} events stored of {repeat * count} recorded"
    store.close()
    return best_cpu * 1e6, best_wall * 1e6


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="octeth-cost-", dir=BENCH / ".cache" if (BENCH / ".cache").is_dir() else None) as tmp:
        workdir = Path(tmp)
        print(f"request path without the write: {request_path(workdir):.1f} µs of CPU per request")
        print("the write, synchronous=FULL (per event):")
        for batch in (1, 2, 4, 8, 16, 32, 64, 256):
            cpu, wall = commit_cost(workdir, batch)
            print(f"  {batch:4} events per commit: {cpu:7.1f} µs CPU  {wall:7.1f} µs wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
