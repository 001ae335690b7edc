"""How fast could a durable store be, served? Ours beside two stand-ins for its write.

    python bench/bound.py                        # gunicorn and granian, 5 rounds of 8 s each
    python bench/bound.py --servers granian --rounds 3 --duration 5

Three variants of our app, the same in everything but the write, each under the same
server and settings as ``bench/run.py``'s targets, driven in alternation by the same load:

- (a) ours: group commit to SQLite, ``synchronous=FULL``;
- (w) ours with each commit replaced by a wait of ``--wait-ms`` (about an fsync's time
  here) that uses no CPU: the same queue, leader, turn between processes and hand-offs
  between threads, with nothing written. A store that answers after its commit can do
  no better than this;
- (n) ours with a store that answers at once: the request path alone.

(w) against (n) is what waiting for a commit costs under the server, whatever the store;
(a) against (w) is what our write costs beyond that. These measure bounds: neither (w)
nor (n) stores anything, and neither stands in for the store anywhere else.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402

from octeth_tracking import SQLiteStore, create_app  # noqa: E402
from octeth_tracking.storage import Event, Receipt  # noqa: E402
from octeth_tracking.storage.group_commit import Writer  # noqa: E402

run.TARGETS.update({"w": "waiting", "n": "answering"})
run.APPS.update({"w": ("bound:waiting_app", True), "n": ("bound:answering_app", True)})
WAIT_ENV = "BENCH_BOUND_WAIT_MS"


def _receipts(events: Sequence[Event]) -> list[Receipt]:
    return [Receipt(e.uuid, e.external_id, e.event == "identify") for e in events]


class WaitingWriter(Writer):
    """Our group commit with each commit replaced by a wait of the store's ``wait`` seconds,
    sleeping (a benchmark of the writer's own internals, not an extension point)."""

    store: WaitingStore

    def commit_with_retries(self, jobs: list[Any]) -> None:
        time.sleep(self.store.wait)
        for job in jobs:
            job.receipts = _receipts(job.events)


class WaitingStore(SQLiteStore):
    """Our store, its writer a :class:`WaitingWriter`.

    :param wait: seconds each commit takes, sleeping.
    """

    writer_class = WaitingWriter

    def __init__(self, path: str, *, wait: float) -> None:
        super().__init__(path)
        self.wait = wait


class AnsweringStore(SQLiteStore):
    """Answers every event at once, storing nothing (accounts are read as usual)."""

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        return _receipts(events)


def waiting_app() -> Any:
    wait = float(os.environ.get(WAIT_ENV, "0.3")) / 1000
    return create_app(store=WaitingStore(os.environ["OCTETH_TRACKING_DB"], wait=wait))


def answering_app() -> Any:
    return create_app(store=AnsweringStore(os.environ["OCTETH_TRACKING_DB"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(run.SERVERS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8, help="seconds per round and variant")
    parser.add_argument("--warmup", type=float, default=9)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--wait-ms", type=float, default=0.3, help="what each commit of (w) takes")
    args = parser.parse_args(argv)
    os.environ[WAIT_ENV] = str(args.wait_ms)  # the servers inherit it

    for server in args.servers.split(","):
        print(f"{server}: a = ours, w = commit replaced by a {args.wait_ms:g} ms wait, n = no write", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"octeth-bound-{server}-") as workdir:
            summary = run.bench_server(server, args, Path(workdir), lambda text: print(text, flush=True),
                                       names=("a", "w", "n"))
        print("  variant     req/s (median)  p99 ms  workers µs/request  context switches/request  of (n)")
        for name, row in summary.items():
            print(f"  ({name}) {run.TARGETS[name]:10} {row['rps']:10,.0f} {row['p99_ms']:10.1f}"
                  f" {row.get('workers_us', float('nan')):14.0f} {row.get('switches', float('nan')):20.1f}"
                  f" {row['rps'] / summary['n']['rps']:14.2f}")
        ours = summary["a"]
        ok, detail = run.durable_check(ours, "a", args.connections, args.rounds + run.WARMUP_RUNS)
        print(f"  (a) acknowledged == stored: {'yes' if ok else 'NO'} ({detail})", flush=True)
        if not ok:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
