"""A rate limiter that every app process shares: fixed windows counted in Redis.

One request is one round trip: a Lua script increments the key's counter, starts the
window's expiry on the first hit, and returns the count and the milliseconds left, all
atomically in Redis, so any number of processes together allow exactly ``limit``.

If Redis cannot be reached, or refuses the script (a read-only replica, an ACL without
scripting), the API keeps working (fail open: the request is allowed), logs a warning at
most once a minute, and ``status()`` (shown by ``GET /health``) says ``"unavailable"``.
After a failure Redis is not asked again for ``retry_interval`` seconds, so an outage
costs requests no time.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger("octeth_tracking")

# KEYS[1]: the counter; ARGV[1]: the window in milliseconds. Returns {count, ms left}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    """A fixed window per key, counted in Redis and shared by every process that uses it.

    :param url: ``redis://host:port/db`` (``rediss://`` for TLS).
    :param prefix: put before every key, so several apps can share one Redis (default ``octeth:rl:``).
    :param timeout: seconds to connect or to wait for an answer before failing open (default 0.5).
    :param retry_interval: seconds without asking Redis after it failed (default 1).
    :param warn_interval: seconds between two warnings about an unreachable Redis (default 60).

    Usage::

        app = TrackingApp(store=store, rate_limiter=RedisRateLimiter(url="redis://127.0.0.1:6379/0"))
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "octeth:rl:",
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        warn_interval: float = 60.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.retry_interval = retry_interval
        self.warn_interval = warn_interval
        # No retries inside redis-py: a failure fails open at once, then waits retry_interval.
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self._script = self.client.register_script(_HIT)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._last_warning = -float("inf")

    def hit(self, key: str, limit: int, window: float) -> float | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            count, ttl = self._script(keys=[self.prefix + key], args=[max(1, int(window * 1000))])
        except redis.RedisError as error:
            self._failed(error)
            return None
        if int(count) > limit:
            return max(int(ttl), 1) / 1000
        return None

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.retry_interval
            if now - self._last_warning < self.warn_interval:
                return
            self._last_warning = now
        log.warning("rate limiter: Redis at %s failed, requests are not limited (%s)",
                    self.client.connection_pool.connection_kwargs.get("host", self.url), error)

    def status(self) -> str:
        """``"ok"`` if Redis runs the counting script now, else ``"unavailable"`` (requests are
        not limited). The script itself, not a PING: a read-only replica answers a PING."""
        try:
            self._script(keys=[self.prefix + "health"], args=[1000])
        except redis.RedisError as error:
            self._failed(error)
            return "unavailable"
        self._down_until = 0.0
        return "ok"

    def close(self) -> None:
        self.client.close()
