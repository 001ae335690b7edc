"""Per-user, per-endpoint request limits.

The app asks a :class:`RateLimiter` once per authenticated request. The default counts
in process memory, which holds for one process; several processes need a shared one.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol


class RateLimiter(Protocol):
    """Counts one request against ``key``; says how long to wait if it is over ``limit`` per ``window``."""

    def hit(self, key: str, limit: int, window: float) -> float | None:
        """``None`` if the request is allowed, else the seconds until the window frees one."""
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

    def hit(self, key: str, limit: int, window: float) -> float | None:
        now = self.clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= window:
                start, count = now, 0
            if count >= limit:
                return start + window - now
            self._windows[key] = (start, count + 1)
            if len(self._windows) > self._prune_at:  # keep memory bounded: drop windows that ended
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}
                # Many live windows: wait until they double before scanning again (amortised O(1) per hit).
                self._prune_at = max(self.max_windows, 2 * len(self._windows))
            return None

    def status(self) -> str:
        """What ``GET /health`` reports: counts are this process's own."""
        return "memory"
