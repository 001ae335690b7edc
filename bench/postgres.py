"""The PostgreSQL store through HTTP: single events beside a naive psycopg peer, then batches.

    python bench/postgres.py                 # granian and gunicorn, postgresql://127.0.0.1/test
    python bench/postgres.py --url postgresql://127.0.0.1/test --servers granian --rounds 1

For each server (2 worker processes, as ``bench/run.py`` starts them; each process its own
pool of connections to one PostgreSQL): our app (a) with the PostgreSQL store and the naive
peer on PostgreSQL (d: ``peer_pg.py``, a psycopg INSERT and commit per request), each in a
schema of its own made afresh, driven in alternation by the bundled Python generator with
traffic's bodies (``single.py``'s: sessions, 80 % v7, 10 % without a UUID, 10 % v4), 64
connections. Then batches of 100 and 1,000 into the same store of ours (``batch.py``'s bodies, 4
connections). Prints Markdown tables: events/s, p99, acknowledged == stored (counted in the
database). No target is set for these figures (the issue's): they set the next one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from batch import BATCH_PATH, bodies, drive_all  # noqa: E402
from loadgen import load  # noqa: E402
from run import ROOT, SERVERS, Target, durable_check  # noqa: E402
from single import traffic_bodies  # noqa: E402

from octeth_tracking.storage.postgres import PostgresStore  # noqa: E402


def fresh_schema(url: str, name: str) -> str:
    """A URL whose connections use schema ``name``, made empty."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://127.0.0.1/test")
    parser.add_argument("--servers", nargs="+", default=list(SERVERS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--batch-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    singles, batches = [], []
    for server in args.servers:
        ours, peer = fresh_schema(args.url, "bench_ours"), fresh_schema(args.url, "bench_peer")
        store = PostgresStore(ours)
        user = store.create_user("bench")
        key, list_id = store.create_api_key(user), store.create_list(user, "bench")
        store.close()
        env = {**os.environ, "OCTETH_TRACKING_EVENT_RATE_LIMIT": "0", "OCTETH_TRACKING_BATCH_RATE_LIMIT": "0",
               "BENCH_API_KEY": key, "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)])}
        make = traffic_bodies(key, list_id)
        with tempfile.TemporaryDirectory() as tmp:
            targets = {"a": Target(server=server, target="a", workdir=Path(tmp), env=env, db=ours),
                       "d": Target(server=server, target="d", workdir=Path(tmp), env=env, db=peer)}
            results: dict[str, list[dict]] = {name: [] for name in targets}
            acknowledged = dict.fromkeys(targets, 0)
            try:
                for target in targets.values():
                    target.wait_ready()
                run = 0
                for round_ in range(args.rounds + 1):  # the first: warm-up
                    for name, target in targets.items():
                        run += 1
                        result = load(target.url, make, run, 64, args.duration if round_ else 2.0)
                        acknowledged[name] += result["acknowledged"]
                        if round_:
                            results[name].append(result)
                            print(f"  {server} round {round_} {name} {result['rps']:8.0f} req/s p99 {result['p99_ms']:7.1f} ms",
                                  file=sys.stderr, flush=True)
                row = {"server": server}
                for name, url in (("a", ours), ("d", peer)):
                    row[name] = (statistics.median(r["rps"] for r in results[name]),
                                 statistics.median(r["p99_ms"] for r in results[name]),
                                 acknowledged[name], count(url), sum(r["errors"] for r in results[name]),
                                 durable_check({"acknowledged": acknowledged[name], "stored": count(url),
                                                "generator": results[name][0]["generator"]}, name, 64, args.rounds + 1)[1])
                singles.append(row)
                for size in (100, 1000):
                    before = count(ours)
                    loads = [bodies(key, list_id, size, max(4, int(30_000 / size)), 7000 + seed) for seed in range(4)]
                    done, elapsed = drive_all(targets["a"].port, loads, args.batch_seconds)
                    latencies = sorted(x for r in done for x in r[2])
                    stored = sum(r[0] for r in done)
                    batches.append((server, size, stored / elapsed, latencies[int(len(latencies) * 0.99) - 1] * 1000,
                                    stored, count(ours) - before, sum(r[1] for r in done)))
            finally:
                for target in targets.values():
                    target.stop()
    print("| server | ours (a) events/s | p99 ms | naive peer on PostgreSQL (d) | p99 ms | a/d | acknowledged = stored, a | d | errors a, d |")
    print("|---|---:|---:|---:|---:|---:|---|---|---|")
    for row in singles:
        a, d = row["a"], row["d"]
        print(f"| {row['server']} | {a[0]:,.0f} | {a[1]:.1f} | {d[0]:,.0f} | {d[1]:.1f} | {a[0] / d[0]:.1f}"
              f" | {a[5]} | {d[5]} | {a[4]}, {d[4]} |")
    print(f"\n| server | batch | events/s (HTTP, durable, {BATCH_PATH}) | p99 ms per batch | acknowledged = stored | errors |")
    print("|---|---:|---:|---:|---|---:|")
    for server, size, rate, p99, stored, counted, errors in batches:
        print(f"| {server} | {size:,} | {rate:,.0f} | {p99:.1f} | {'✓' if stored == counted else '✗'} ({stored:,} = {counted:,}) | {errors} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
