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


class MemoryRateLimiter:
    """A fixed window per key, in this process's memory.

    :param clock: seconds, monotonic; tests pass their own to step across a window's edge.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
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
            if len(self._windows) > 100_000:  # keep memory bounded: drop windows that ended
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}
            return None

    def status(self) -> str:
        """What ``GET /health`` reports: counts are this process's own."""
        return "memory"
