"""Batches through HTTP beside ``Store.record`` in process: durable events per second.

    python bench/batch.py                  # granian and gunicorn, batches of 100 and 1,000, 10 s each
    python bench/batch.py --seconds 5 --servers granian
    python bench/batch.py --stored 0 1000000 10000000   # also on copies of bench/seed.py's stores

Each run: a fresh SQLite store (WAL, ``synchronous=FULL``, group commit), the server as
``bench/run.py`` starts it (2 workers; gunicorn 2 x 8 threads), rate limits off, and
``--connections`` Python threads, each on one keep-alive connection, posting
``/events.batch`` bodies built beforehand (page views of 5-10 properties, v7 UUIDs, visitors
in sessions of several events) as fast as the answers come. Events/s counts only events
the answers say were stored, checked against the database afterwards (acknowledged ==
stored). The in-process figure is ``SQLiteStore.record`` called with the same events, in
batches of the same size, from one thread. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import Target, prepare_account  # noqa: E402

from octeth_tracking.uuids import UUIDv7  # noqa: E402

BATCH_PATH = "/api/v1/events.batch"


def make_events(count: int, seed: int) -> list[dict]:
    rng, uuid7 = random.Random(seed), UUIDv7()
    events, visitor, left = [], "", 0
    for n in range(count):
        if left == 0:  # a new session of 3-12 events
            visitor, left = f"visitor-{seed}-{n}", rng.randint(3, 12)
        left -= 1
        properties = {f"p{i}": rng.choice(["/home", "/pricing", "/docs", 42, True, "campaign-a"])
                      for i in range(rng.randint(5, 10))}
        events.append({"Event": "pageView", "ID": visitor, "UUID": uuid7(), "Properties": properties})
    return events


def bodies(key: str, list_id: int, size: int, count: int, seed: int) -> list[bytes]:
    return [json.dumps({"APIKey": key, "ListID": list_id, "Events": make_events(size, seed * 1000 + n)}).encode()
            for n in range(count)]


def drive(port: int, sent: list[bytes], seconds: float) -> tuple[int, int, list[float]]:
    """(events acknowledged as stored, non-200 answers, latencies) for one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    stored = errors = 0
    latencies = []
    deadline = time.monotonic() + seconds
    for body in sent:
        if time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        conn.request("POST", BATCH_PATH, body, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        data = answer.read()
        latencies.append(time.perf_counter() - started)
        if answer.status == 200:
            stored += json.loads(data)["Stored"]
        else:
            errors += 1
    conn.close()
    return stored, errors, latencies


def drive_all(port: int, loads: list[list[bytes]], seconds: float) -> tuple[list[tuple[int, int, list[float]]], float]:
    """Each of ``loads`` sent by a thread of its own on one connection (:func:`drive`); their results, and the seconds taken."""
    results: list[tuple[int, int, list[float]]] = []
    threads = [threading.Thread(target=lambda sent=sent: results.append(drive(port, sent, seconds))) for sent in loads]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


def account(stored: int, workdir: Path) -> tuple[str, int, str]:
    """(API key, list id, template file): a fresh store, or one of ``stored`` events (seed.py's, copied)."""
    if not stored:
        return prepare_account(workdir)
    from seed import copy_store, seeded

    path, list_id, key = seeded(stored)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone is the whole store
    copy_store(path, workdir / "template.db")
    return key, list_id, str(workdir / "template.db")


def _count(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def http_run(server: str, size: int, seconds: float, connections: int, workdir: Path, stored: int = 0) -> dict:
    key, list_id, template = account(stored, workdir)
    env = {"PATH": "/usr/bin:/bin", "OCTETH_TRACKING_EVENT_RATE_LIMIT": "0", "OCTETH_TRACKING_BATCH_RATE_LIMIT": "0",
           "OCTETH_TRACKING_TRACKER_RATE_LIMIT": "0"}
    env = {**os.environ, **env}
    Path(template).rename(workdir / f"{server}-ours.db")  # the account, before the server opens it
    target = Target(server=server, target="a", workdir=workdir, env=env)
    try:
        target.wait_ready()
        per_connection = max(4, int(60_000 / size))  # more bodies than a run can send
        loads = [bodies(key, list_id, size, per_connection, seed) for seed in range(connections)]
        results, elapsed = drive_all(target.port, loads, seconds)
    finally:
        target.stop()
    acknowledged = sum(r[0] for r in results)
    stored = _count(Path(target.db)) - stored  # this run's
    latencies = sorted(x for r in results for x in r[2])
    return {"events_s": acknowledged / elapsed, "acknowledged": acknowledged, "stored": stored,
            "errors": sum(r[1] for r in results),
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0}


def in_process(size: int, seconds: float, workdir: Path, stored: int = 0) -> float:
    from octeth_tracking import Event, SQLiteStore

    path = workdir / f"record-{size}.db"
    if stored:
        Path(account(stored, workdir)[2]).rename(path)
    store = SQLiteStore(path)
    try:
        batches = [[Event(1, e["UUID"], e["ID"], e["Event"], properties=e["Properties"])
                    for e in make_events(size, seed)] for seed in range(max(4, int(200_000 / size)))]
        stored, started = 0, time.monotonic()
        for events in batches:
            store.record(events)
            stored += len(events)
            if time.monotonic() - started >= seconds:
                break
        return stored / (time.monotonic() - started)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--servers", nargs="+", default=["granian", "gunicorn"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 1000])
    parser.add_argument("--stored", nargs="+", type=int, default=[0],
                        help="events in the store before each run (seeded once by seed.py, copied per run)")
    args = parser.parse_args(argv)
    print("| stored before | server | batch | events/s (HTTP, durable) | p99 ms per batch | acknowledged = stored | errors |"
          " Store.record in process, events/s | HTTP / in process |")
    print("|---:|---|---:|---:|---:|---|---:|---:|---:|")
    cache = BENCH / ".cache"  # beside the seeded stores: copies of 10M events want its disk, not /tmp's
    cache.mkdir(exist_ok=True)
    for stored in args.stored:
        for size in args.sizes:
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                alone = in_process(size, args.seconds, Path(tmp), stored)
            for server in args.servers:
                with tempfile.TemporaryDirectory(dir=cache) as tmp:
                    row = http_run(server, size, args.seconds, args.connections, Path(tmp), stored)
                same = "✓" if row["acknowledged"] == row["stored"] else f"✗ {row['acknowledged']} vs {row['stored']}"
                print(f"| {stored:,} | {server} | {size:,} | {row['events_s']:,.0f} | {row['p99_ms']:.1f} | {same} "
                      f"({row['stored']:,}) | {row['errors']} | {alone:,.0f} | {row['events_s'] / alone:.2f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
