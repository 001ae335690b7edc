"""Per-user, per-endpoint request limits.

The app asks a :class:`RateLimiter` once per authenticated request. The default counts
in process memory, which holds for one process; several processes need a shared one.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol


class RateLimiter(Protocol):
    """Counts a request's ``cost`` against ``key``; says how long to wait if it would pass ``limit`` per ``window``.

    A batch of N events costs N of the events' budget (``/events.batch``, :mod:`~octeth_tracking.batch`);
    any other request costs 1. A request refused spends nothing: the count only grows by what it allows.
    """

    def hit(self, key: str, limit: int, window: float, cost: int = 1) -> float | None:
        """``None`` if the request is allowed (``cost`` is counted), else the seconds until the
        window ends (a ``cost`` over ``limit`` is never allowed)."""
        ...

    def status(self) -> str:
        """What ``GET /health`` shows as ``rate_limiter``: ``memory``, ``ok`` or ``unavailable``."""
        ...


class MemoryRateLimiter:
    """A fixed window per key, in this process's memory.

    :param clock: seconds, monotonic; tests pass their own to step across a window's edge.
    :param max_windows: how many keys are kept before ended windows are dropped.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_windows: int = 100_000) -> None:
        self.clock = clock
        self.max_windows = max_windows
        self._prune_at = max_windows
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float, cost: int = 1) -> float | None:
        now = self.clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= window:
                start, count = now, 0
            if count + cost > limit:
                return start + window - now
            self._windows[key] = (start, count + cost)
            if len(self._windows) > self._prune_at:  # keep memory bounded: drop windows that ended
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}
                # Many live windows: wait until they double before scanning again (amortised O(1) per hit).
                self._prune_at = max(self.max_windows, 2 * len(self._windows))
            return None

    def status(self) -> str:
        """What ``GET /health`` reports: counts are this process's own."""
        return "memory"
