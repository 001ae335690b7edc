"""Reading events back against store size: ``website_events.list`` in process, on seeded stores.

    python bench/reads.py                 # stores of 10k, 1M and 10M events (seeded once, see seed.py)
    python bench/reads.py 10000 100000    # other sizes

Four reads, each a page of 100 (``Limit=100``): a list's newest page, its second page (by the
first page's cursor), one visitor's newest page (:data:`seed.THE_VISITOR`, 200 events at any
size) and an event name's newest page. The sizes take turns call by call, so drift on a
shared machine hits every size alike. Prints p50 and p99 per read and size, and each p50's
ratio to the smallest store's.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Callable

from werkzeug.test import EnvironBuilder

from octeth_tracking import create_app
from seed import THE_VISITOR, _shapes, seeded

READS = ("newest page", "second page", "a visitor's page", "an event name's page")


def _environ(query: dict) -> dict:
    return EnvironBuilder(path="/website_events.list", query_string=query).get_environ()


def _call(app, environ) -> bytes:
    status: list[str] = []
    body = b"".join(app(dict(environ), lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return body


def reads_latency(sizes: list[int], log: Callable[[str], None] = print, repeat: int = 300) -> list[dict]:
    """[{"size": N, "<read> p50_ms": ..., "<read> p99_ms": ...}, ...] for each size."""
    import json

    targets = []
    for size in sizes:
        path, list_id, key = seeded(size, log=log)
        app = create_app(db=str(path), prefix="", list_rate_limit=0)
        base = {"APIKey": key, "ListID": list_id, "Limit": 100}
        cursor = json.loads(_call(app, _environ(base)))["NextCursor"]
        queries = [base, {**base, "Cursor": cursor}, {**base, "ID": THE_VISITOR}, {**base, "Event": _shapes()[7][0]}]
        targets.append((app, [_environ(query) for query in queries]))
    timings = [[[] for _ in READS] for _ in sizes]
    for index in range(repeat + 20):
        for (app, environs), kept in zip(targets, timings):
            for environ, times in zip(environs, kept):
                started = time.perf_counter()
                _call(app, environ)
                if index >= 20:
                    times.append(time.perf_counter() - started)
    results = []
    for size, kept in zip(sizes, timings):
        row: dict = {"size": size}
        for read, times in zip(READS, kept):
            times.sort()
            row[f"{read} p50_ms"] = statistics.median(times) * 1000
            row[f"{read} p99_ms"] = times[int(len(times) * 0.99)] * 1000
        results.append(row)
    return results


def table(results: list[dict]) -> list[str]:
    """The figures as Markdown: p50 / p99 (ms) per read and size, and each p50 against the smallest store's."""
    lines = ["| events in the list | " + " | ".join(f"{read}: p50 / p99 ms" for read in READS) + " |",
             "|---:|" + "---:|" * len(READS)]
    first = results[0]
    for row in results:
        cells = [f"{row[f'{r} p50_ms']:.3f} / {row[f'{r} p99_ms']:.3f} ({row[f'{r} p50_ms'] / first[f'{r} p50_ms']:.2f}×)"
                 for r in READS]
        lines.append(f"| {row['size']:,} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    sizes = [int(n) for n in sys.argv[1:]] or [10_000, 1_000_000, 10_000_000]
    for line in table(reads_latency(sizes)):
        print(line)
