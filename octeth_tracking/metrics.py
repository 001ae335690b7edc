"""``GET {mount}/metrics``: Prometheus' text format, from ``prometheus_client``; off unless a token is set.

On with the ``metrics_token`` setting, and then only for a request that sends it
(``Authorization: Bearer <token>``): the page tells who calls the API how often and how the
store copes, which is for the operator alone. A token rather than a port of its own, because
the app has no socket of its own when it is mounted in a Flask or Django site or served by
gunicorn; a token works the same on every surface, and Prometheus sends one
(``authorization: {credentials_file: ...}`` in a scrape config).

Several worker processes (gunicorn, granian) count into files in ``PROMETHEUS_MULTIPROC_DIR``,
prometheus_client's multi-process mode, so a scrape that any one worker answers adds up every
worker's counts. Store and limiter health are asked at scrape time by the worker that answers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

if TYPE_CHECKING:
    from .app import TrackingApp
    from .storage import Receipt

# Seconds: requests from well under a millisecond to past a 5-second write timeout.
TIME_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Metrics:
    """The app's metrics (names start ``octeth_tracking_``), counted by the request cycle and the store.

    :param token: what a scrape must send as ``Authorization: Bearer <token>``.
    """

    def __init__(self, token: str) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram, values
        except ImportError as error:
            raise ImportError(f"metrics_token needs prometheus_client: pip install 'octeth-tracking[metrics]' ({error})") from error
        self.token = token.encode()  # compared with hmac.compare_digest
        # prometheus_client chose how to count when it was first imported: in memory, or in files.
        self.multiprocess = values.ValueClass is not values.MutexValue
        if self.multiprocess:
            folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir", "")
            if not os.path.isdir(folder):
                raise ValueError(f"PROMETHEUS_MULTIPROC_DIR {folder!r} is not a directory: create it (empty) before the server starts")
        self.registry = CollectorRegistry()
        metric: dict[str, Any] = {"registry": self.registry, "namespace": "octeth_tracking"}
        self.requests = Counter("requests", "Requests answered, by route (Route.name; unmatched: no route) and HTTP status",
                                ["route", "status"], **metric)
        self.request_seconds = Histogram("request_seconds", "Time to answer a request, by route", ["route"],
                                         buckets=TIME_BUCKETS, **metric)
        self.rejected = Counter("rejected", "Error answers by API error code (each code of an answer once)", ["code"], **metric)
        self.stored = Counter("events_stored", "Events stored anew (not counting the identify events that follow them)", **metric)
        self.duplicates = Counter("events_duplicate", "Events answered from an earlier copy (same UUID, same list)", **metric)
        self.batch = Histogram("commit_events", "Events per commit (a group commit's batch)", buckets=BATCH_BUCKETS, **metric)
        self.commit_seconds = Histogram("commit_seconds", "Time of a commit: write and fsync, from the turn taken",
                                        buckets=TIME_BUCKETS, **metric)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    # -- counted by the request cycle (TrackingApp.finished) and by the store (commit_observer) --

    def request(self, route: str, status: int, seconds: float, codes: Sequence[int]) -> None:
        children = self._children.get((route, status))
        if children is None:  # labels() takes a lock and builds a key: once per (route, status)
            children = self._children[(route, status)] = (
                self.requests.labels(route, str(status)), self.request_seconds.labels(route))
        children[0].inc()
        children[1].observe(seconds)
        for code in codes:
            self.rejected.labels(str(code)).inc()

    def committed(self, receipts: Iterable[Receipt], seconds: float) -> None:
        """A commit of the store: the receipts of the events it held, and how long it took."""
        events = duplicates = 0
        for receipt in receipts:
            events += 1
            duplicates += receipt.duplicate
        if events:
            self.stored.inc(events - duplicates)
            if duplicates:
                self.duplicates.inc(duplicates)
            self.batch.observe(events)
            self.commit_seconds.observe(seconds)

    # -- the page --

    def page(self, app: TrackingApp) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = self.registry
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        health = CollectorRegistry()
        health.register(_Health(app))
        return bytes(generate_latest(registry) + generate_latest(health))


class _Health:
    """Gauges asked at scrape time: can the store take a write, does the rate limiter count."""

    def __init__(self, app: TrackingApp) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        store = GaugeMetricFamily("octeth_tracking_store_up", "1 if the store can take a write now (as /health)")
        store.add_metric([], 1.0 if self.app.store.ping() else 0.0)
        yield store
        limiter = GaugeMetricFamily("octeth_tracking_rate_limiter_up",
                                    "1 if the rate limiter counts (memory: in this process), 0 if it fails open",
                                    labels=["kind"])
        status = self.app.rate_limiter.status()
        limiter.add_metric(["memory" if status == "memory" else "shared"], 0.0 if status == "unavailable" else 1.0)
        yield limiter
