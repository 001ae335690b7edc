"""The shared rate limiter on a real Redis: exact across instances, windows that end, fail-open."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

from conftest import API, codes, make_account
from octeth_tracking import create_app
from services import REDIS_URL, need, redis_prefix

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


@pytest.fixture
def prefix():
    yield from redis_prefix()


def limiter(prefix, url=REDIS_URL, **kwargs):
    from octeth_tracking.ratelimit_redis import RedisRateLimiter

    return RedisRateLimiter(url, prefix=prefix, **kwargs)


def test_two_limiters_hammered_from_threads_allow_exactly_the_limit(prefix):
    # Two instances, two connection pools: as two processes are, to Redis.
    limiters = [limiter(prefix), limiter(prefix)]
    allowed = []

    def hammer(index):
        for _ in range(40):
            if limiters[index % 2].hit("user-1:event", 50, 60) is None:
                allowed.append(1)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 50  # of 240
    assert limiters[0].hit("user-2:event", 50, 60) is None  # another key has its own count


def test_over_the_limit_says_how_long_until_the_window_ends(prefix):
    counter = limiter(prefix)
    assert [counter.hit("k", 2, 30) for _ in range(2)] == [None, None]
    retry_after = counter.hit("k", 2, 30)
    assert retry_after is not None and 0 < retry_after <= 30
    # The key expires with its window: Redis keeps nothing for long.
    assert 0 < counter.client.pttl(prefix + "k") <= 30_000


def test_window_reset_allows_again(prefix):
    counter = limiter(prefix)
    assert counter.hit("k", 1, 0.2) is None
    assert counter.hit("k", 1, 0.2) is not None
    deadline = time.monotonic() + 5
    while counter.hit("k", 1, 0.2) is not None:  # bounded: a 0.2 s window ends well within 5 s
        assert time.monotonic() < deadline, "the window never ended"
        time.sleep(0.05)


def test_unreachable_redis_fails_open_and_warns_once(caplog):
    counter = limiter("octeth-test:", url=UNREACHABLE, retry_interval=0)
    with caplog.at_level(logging.WARNING, logger="octeth_tracking"):
        assert [counter.hit("k", 1, 60) for _ in range(5)] == [None] * 5
        assert counter.status() == "unavailable"
    warnings = [r for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1 and "not limited" in warnings[0].getMessage()


@pytest.fixture
def no_scripting_url():
    """A Redis user that may PING but not run scripts (as an ACL, or a read-only replica, refuses the count)."""
    need("redis")
    import redis

    admin, name = redis.Redis.from_url(REDIS_URL), f"octeth-test-{uuid.uuid4().hex[:8]}"
    admin.acl_setuser(name, enabled=True, nopass=True, keys=["*"], commands=["+@all", "-@scripting"])
    yield REDIS_URL.replace("redis://", f"redis://{name}:x@", 1)
    admin.acl_deluser(name)


def test_a_redis_that_refuses_the_count_fails_open_and_health_says_so(no_scripting_url, prefix, caplog):
    counter = limiter(prefix, url=no_scripting_url, retry_interval=0)
    assert counter.client.ping()  # it answers, but counts nothing
    with caplog.at_level(logging.WARNING, logger="octeth_tracking"):
        assert [counter.hit("k", 1, 60) for _ in range(3)] == [None] * 3
        assert counter.status() == "unavailable"
    assert "failed, requests are not limited" in caplog.text


@pytest.fixture
def api_with(store):
    def make(**options):
        account = make_account(store)
        return API(create_app(store=store, **options)), account
    return make


@pytest.mark.parametrize("url, limiter_status", [
    pytest.param(REDIS_URL, "ok", id="redis"),
    pytest.param(UNREACHABLE, "unavailable", id="redis-unreachable"),
    pytest.param(None, "memory", id="no-redis"),
])
def test_health_reports_the_rate_limiter(api_with, prefix, url, limiter_status):
    api, _ = api_with(redis=url, redis_prefix=prefix)
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "store": "ok", "rate_limiter": limiter_status}


def test_app_limits_through_redis_and_fails_open_without_it(api_with, prefix):
    api, account = api_with(redis=REDIS_URL, redis_prefix=prefix, event_rate_limit=2)
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    assert [api.event(body).status_code for _ in range(2)] == [200, 200]
    limited = api.event(body)
    assert (limited.status_code, codes(limited)) == (429, [25])
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    down, account = api_with(redis=UNREACHABLE, event_rate_limit=2)
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    assert [down.event(body).status_code for _ in range(4)] == [200] * 4


def test_redis_url_comes_from_the_environment(api_with, prefix, monkeypatch):
    monkeypatch.setenv("OCTETH_TRACKING_REDIS", UNREACHABLE)
    api, _ = api_with()
    assert api.client.get("/api/v1/health").get_json()["rate_limiter"] == "unavailable"


def memory_limiter(prefix):
    from octeth_tracking import MemoryRateLimiter

    return MemoryRateLimiter()


LIMITERS = [pytest.param(limiter, id="redis"), pytest.param(memory_limiter, id="memory")]


@pytest.mark.parametrize("make", LIMITERS)
def test_a_cost_counts_that_many_exactly_and_a_refused_one_spends_nothing(prefix, make):
    counter = make(prefix)
    assert counter.hit("k", 10, 60, cost=11) is not None  # more than the whole limit: never allowed
    assert counter.hit("k", 10, 60, cost=7) is None
    assert counter.hit("k", 10, 60, cost=4) is not None  # 7 + 4 > 10: refused, spends nothing
    assert counter.hit("k", 10, 60, cost=3) is None  # exactly the limit
    assert counter.hit("k", 10, 60) is not None
    assert counter.hit("other", 10, 60, cost=10) is None


@pytest.mark.parametrize("make", LIMITERS)
def test_costs_from_threads_allow_exactly_the_limit(prefix, make):
    counters = [make(prefix), make(prefix)] if make is limiter else [make(prefix)] * 2
    allowed = []

    def hammer(index):
        for _ in range(30):
            if counters[index % 2].hit("batch", 100, 60, cost=3) is None:
                allowed.append(3)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 99  # 33 batches of 3: a 34th would pass 100
