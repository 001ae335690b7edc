"""UUIDv7 (RFC 9562, section 5.7): the server's event UUIDs, time-ordered.

A v7 UUID starts with the Unix time in milliseconds, so the events of one moment sort
together and the ``(list_id, uuid)`` index grows at its end, as an append does, instead of
dirtying a random leaf page per event (the measurements are in issue 16 and
``docs/performance.md``). Layout, most significant bit first:

- 48 bits ``unix_ts_ms``;
- 4 bits version (``0111``);
- 12 bits ``rand_a``: here a counter within the millisecond (RFC 9562's "fixed bit-length
  dedicated counter", method 1), started at a random value below 2,048 so it rarely overflows;
- 2 bits variant (``10``);
- 62 bits ``rand_b``: random (``os.urandom``).

One :class:`UUIDv7` is monotonic: each UUID it gives sorts after the one before, even when the
clock steps back or a millisecond holds more than its counter can count (the timestamp then
runs ahead of the clock by a millisecond at a time, as section 6.2 allows). Client UUIDs of any
version are stored as they are sent: this is only for the events the server names.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Callable


class UUIDv7:
    """A monotonic source of version-7 UUIDs, safe to share between threads.

    :param clock: seconds since the epoch (``time.time``); a test passes its own.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def __call__(self) -> str:
        """The next UUID, as lower-case 8-4-4-4-12 text."""
        random = int.from_bytes(os.urandom(10), "big")
        now_ms = int(self.clock() * 1000)
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms, self._counter = now_ms, random >> 69  # 11 random bits: room to count
            else:
                self._counter += 1
                if self._counter > 0xFFF:  # the millisecond is full: borrow the next one
                    self._last_ms, self._counter = self._last_ms + 1, 0
            ms, counter = self._last_ms, self._counter
        value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | random & (1 << 62) - 1
        return str(uuid.UUID(int=value))


uuid7 = UUIDv7()  # the process's own: one sequence for every thread
