"""Single events through HTTP against store size: ours beside the bare ceiling and the naive peer.

    python bench/single.py                                   # stores of 0, 1M and 10M events
    python bench/single.py --stored 0 --servers granian --rounds 1 --duration 4

For each store size and server (gunicorn 2 x 8 threads, granian 2 workers, as ``bench/run.py``
starts them): our app (a) on a copy of ``bench/seed.py``'s store of that size (a fresh one for
0), the bare WSGI ceiling (b), and the naive Flask peer (c) on a fresh file of its own (its
best case: its one index is small there), driven in alternation A, B, C by the load generator
(wrk if installed, else the bundled Python one), 64 keep-alive connections. The bodies are
traffic's: visitors in sessions of 3-12 events, about 20,000 at a time, interleaved (wrk: the
Lua of ``loadgen.py``; ours: ``bodies.traffic``); 80 % with a tracker UUIDv7,
10 % server calls without a UUID (the server gives a v7), 10 % a random v4; properties as
``bench/run.py``'s bodies (5-30 of a browser's, 5 % identify). Prints a Markdown table:
medians over rounds, the ratios a/b and a/c, p99 against the ceiling's, acknowledged ==
stored for (a) (counted in its database), and its workers' memory before and after.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Iterator

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from batch import account  # noqa: E402
from bodies import body, traffic  # noqa: E402
from loadgen import Traffic  # noqa: E402
from run import SERVERS, WARMUP_RUNS, bench_server, durable_check  # noqa: E402

SERVER_CALLS = 0.10 / 0.90  # of the events traffic gives a v7: those sent without a UUID (10 % of all)


def traffic_templates(key: str, list_id: int) -> list[tuple[str, str, bool]]:
    """``bench/run.py``'s 500 bodies as (head, rest, identify): ``head + visitor + rest + UUID part + "}"``."""
    rng = random.Random(5)
    found = []
    for index in range(500):
        shape = body(rng, key, list_id, index)
        identify = "Email" in shape
        if identify:  # the address is the visitor's own
            shape["Email"] = "@EMAIL@"
        head, rest = json.dumps({**shape, "ID": "@ID@"}).split('"@ID@"')
        found.append((head + '"', '"' + rest[:-1], identify))
    return found


def traffic_bodies(key: str, list_id: int) -> Traffic:
    """For ``load``: traffic's bodies, for wrk (``loadgen``'s Lua) and for our generator alike."""
    templates = traffic_templates(key, list_id)

    def connection(run: int, worker: int) -> Iterator[bytes]:
        rng = random.Random(run * 1000 + worker)
        for n, (visitor, event_uuid) in enumerate(traffic(rng, 10**9, sessions=300)):
            head, rest, identify = templates[n % len(templates)]
            if identify:
                rest = rest.replace("@EMAIL@", f"{visitor}@example.com")
            sent = "" if event_uuid[14] == "7" and rng.random() < SERVER_CALLS else f', "UUID": "{event_uuid}"'
            yield f"{head}{visitor}{rest}{sent}}}".encode()

    return Traffic(templates, connection)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", nargs="+", type=int, default=[0, 1_000_000, 10_000_000])
    parser.add_argument("--servers", nargs="+", default=list(SERVERS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per round and target")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    print("| stored before | server | ours (a) req/s | ceiling (b) | naive peer (c) | a/b | a/c | p99 ms a / b"
          " | a's p99 / b's | acknowledged = stored (a) | errors | a's workers' MB, start → end |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
    cache = BENCH / ".cache"  # beside the seeded stores: copies of 10M events want its disk, not /tmp's
    cache.mkdir(exist_ok=True)
    for stored in args.stored:
        for server in args.servers:
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                workdir = Path(tmp)
                summary = bench_server(server, args, workdir, lambda line: print(line, file=sys.stderr, flush=True),
                                       account=account(stored, workdir), make_bodies=traffic_bodies)
            a, b, c = summary["a"], summary["b"], summary["c"]
            new = a["stored"] - stored
            same, said = durable_check({**a, "stored": new}, "a", args.connections, WARMUP_RUNS + args.rounds)
            same = f"{'✓' if same else '✗'} ({said})"
            print(f"| {stored:,} | {server} | {a['rps']:,.0f} | {b['rps']:,.0f} | {c['rps']:,.0f} | {a['rps'] / b['rps']:.2f}"
                  f" | {a['rps'] / c['rps']:.1f} | {a['p99_ms']:.1f} / {b['p99_ms']:.1f} | {a['p99_ms'] / b['p99_ms']:.1f}"
                  f" | {same} | {a['errors']} | {sum(a['rss_start']):.0f} → {sum(a['rss_end']):.0f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
