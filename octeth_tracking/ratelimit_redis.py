"""A rate limiter that every app process shares: fixed windows counted in Redis.

One request is one round trip: a Lua script adds the request's cost (1, or a batch's events) to
the key's counter unless that would pass the limit, starts the window's expiry on the first
hit, and returns whether it counted and the milliseconds left, all atomically in Redis, so any
number of processes together allow exactly ``limit``; a refused request spends nothing.

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

# KEYS[1]: the counter; ARGV: the window in milliseconds, the cost, the limit.
# Returns {1 if counted else 0, ms left}.
_HIT = """
local cost = tonumber(ARGV[2])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local allowed = 0
if count + cost <= tonumber(ARGV[3]) then
  allowed = 1
  count = redis.call('INCRBY', KEYS[1], cost)
  if count == cost then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  if allowed == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
  ttl = tonumber(ARGV[1])
end
return {allowed, ttl}
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

    def hit(self, key: str, limit: int, window: float, cost: int = 1) -> float | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            allowed, ttl = self._script(keys=[self.prefix + key], args=[max(1, int(window * 1000)), cost, limit])
        except redis.RedisError as error:
            self._failed(error)
            return None
        if not int(allowed):
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
            self._script(keys=[self.prefix + "health"], args=[1000, 0, 0])
        except redis.RedisError as error:
            self._failed(error)
            return "unavailable"
        self._down_until = 0.0
        return "ok"

    def close(self) -> None:
        self.client.close()
