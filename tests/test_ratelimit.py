"""Rate limits: per user and per endpoint, Octeth's defaults, configurable, off with 0; edges on an injected clock."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import reliability
from conftest import API, Account, codes
from octeth_tracking import create_app
from octeth_tracking.ratelimit import MemoryRateLimiter

LIMITED = {"Errors": [{"Code": 25, "Message": "Rate limit exceeded."}]}


class Clock:
    """Monotonic seconds that only move when a test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SpyLimiter(MemoryRateLimiter):
    """The plug point at work: a limiter of our own that also records what the app asks."""

    def __init__(self) -> None:
        super().__init__(clock=Clock())
        self.asked: list[tuple[str, int, float]] = []

    def hit(self, key: str, limit: int, window: float, cost: int = 1) -> float | None:
        self.asked.append((key, limit, window))
        return super().hit(key, limit, window, cost)


def event(account: Account, **extra: Any) -> dict[str, Any]:
    return {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", **extra}


def listing(account: Account) -> dict[str, Any]:
    return {"APIKey": account.api_key, "ListID": account.list_id}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(store, clock):
    def make(**options: Any) -> API:
        return API(create_app(store=store, rate_limiter=MemoryRateLimiter(clock=clock), **options))
    return make


def test_defaults_are_octeths_published_ones(store, account):
    spy = SpyLimiter()
    api = API(create_app(store=store, rate_limiter=spy))
    api.event(event(account))
    api.properties(listing(account))
    assert [(limit, window) for _, limit, window in spy.asked] == [(5000, 60.0), (100, 60.0)]
    reliability.count("rate_limit_cases")


@pytest.mark.parametrize("endpoint, limit", [pytest.param("properties", 100, id="properties"),
                                             pytest.param("event", 5000, id="event")])
def test_default_limit_is_reached_exactly(limited, store, account, endpoint, limit):
    api = limited()
    # Bodies that fail validation still count (the limit is checked before validation), and store nothing.
    body = {"APIKey": account.api_key} if endpoint == "event" else {"APIKey": account.api_key, "ListID": "x"}
    statuses = {getattr(api, endpoint)(body).status_code for _ in range(limit)}
    assert statuses == {422}
    over = getattr(api, endpoint)(event(account) if endpoint == "event" else listing(account))
    assert over.status_code == 429 and over.get_json() == LIMITED
    assert store.count_events() == 0
    reliability.count("rate_limit_cases")


# (seconds after the window opened, allowed?, Retry-After when refused); limit 3 per 10 s.
EDGES = [
    pytest.param(0.0, False, "10", id="at-open"),
    pytest.param(4.2, False, "6", id="inside-rounds-up"),
    pytest.param(0.9995, False, "10", id="a-hair-past-a-second-rounds-up"),
    pytest.param(9.999, False, "1", id="just-before-edge"),
    pytest.param(10.0, True, None, id="at-edge"),
    pytest.param(25.0, True, None, id="windows-later"),
]


@pytest.mark.parametrize("endpoint", ["event", "properties"])
@pytest.mark.parametrize("after, allowed, retry_after", EDGES)
def test_window_edges(limited, store, account, clock, endpoint, after, allowed, retry_after):
    api = limited(event_rate_limit=3, properties_rate_limit=3, rate_limit_window=10)
    send = (lambda: api.event(event(account))) if endpoint == "event" else (lambda: api.properties(listing(account)))
    assert [send().status_code for _ in range(3)] == [200] * 3
    stored = store.count_events()
    clock.now += after
    response = send()
    if allowed:
        assert response.status_code == 200
        assert [send().status_code for _ in range(3)] == [200, 200, 429]  # a whole new budget, no more
    else:
        assert (response.status_code, response.get_json()) == (429, LIMITED)
        assert response.headers["Retry-After"] == retry_after
        assert response.mimetype == "application/json"
        assert store.count_events() == stored  # a limited request stores nothing
    reliability.count("rate_limit_cases")


def test_users_do_not_share_a_budget(limited, store, account, other_account):
    api = limited(event_rate_limit=2)
    assert [api.event(event(account)).status_code for _ in range(3)] == [200, 200, 429]
    assert [api.event(event(other_account)).status_code for _ in range(3)] == [200, 200, 429]
    assert store.count_events(account.list_id) == store.count_events(other_account.list_id) == 2
    reliability.count("rate_limit_cases")


def test_endpoints_do_not_share_a_budget(limited, account):
    api = limited(event_rate_limit=2, properties_rate_limit=2)
    assert [api.event(event(account)).status_code for _ in range(3)] == [200, 200, 429]
    assert [api.properties(listing(account)).status_code for _ in range(3)] == [200, 200, 429]
    reliability.count("rate_limit_cases")


def test_session_and_api_key_of_one_user_share_a_budget(limited, store, account):
    api = limited(event_rate_limit=2)
    session = store.create_session(account.user_id, ttl=60)
    assert api.event(event(account)).status_code == 200
    assert api.event({**event(account), "APIKey": None, "SessionID": session}).status_code == 200
    assert api.event(event(account)).status_code == 429
    reliability.count("rate_limit_cases")


def test_zero_switches_a_limit_off(store, account):
    spy = SpyLimiter()
    api = API(create_app(store=store, rate_limiter=spy, event_rate_limit=0, properties_rate_limit=0))
    assert {api.properties(listing(account)).status_code for _ in range(150)} == {200}  # the default stops at 100
    assert {api.event(event(account, Properties={"isTest": True})).status_code for _ in range(5)} == {200}
    assert spy.asked == []
    reliability.count("rate_limit_cases")


def test_limits_come_from_the_environment(monkeypatch, store, account):
    monkeypatch.setenv("OCTETH_TRACKING_EVENT_RATE_LIMIT", "2")
    monkeypatch.setenv("OCTETH_TRACKING_RATE_LIMIT_WINDOW", "30")
    api = API(create_app(store=store, rate_limiter=MemoryRateLimiter(clock=Clock())))
    responses = [api.event(event(account)) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].headers["Retry-After"] == "30"
    reliability.count("rate_limit_cases")


def test_bad_credentials_get_401_not_429_and_spend_no_budget(limited, account):
    api = limited(event_rate_limit=1)
    for _ in range(5):
        assert codes(api.event({**event(account), "APIKey": "stolen?"})) == [99998]
    assert api.event(event(account)).status_code == 200
    assert codes(api.event(event(account))) == [25]
    reliability.count("rate_limit_cases")


def test_memory_limiter_counts_exactly_under_threads():
    limiter = MemoryRateLimiter(clock=Clock())
    allowed = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        allowed.extend(limiter.hit("u:event", 100, 60) is None for _ in range(50))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 100 and len(allowed) == 400
    reliability.count("rate_limit_cases")


def test_memory_limiter_forgets_ended_windows_without_rescanning_live_ones_on_every_hit():
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock, max_windows=1000)
    for user in range(1001):  # all live: the scan keeps them and waits until the count doubles
        limiter.hit(f"early{user}:event", 5, 60)
    assert len(limiter._windows) == 1001 and limiter._prune_at == 2002
    clock.now += 60  # every early window has ended
    for user in range(1002):
        limiter.hit(f"late{user}:event", 5, 60)
    assert not any(key.startswith("early") for key in limiter._windows)
    assert len(limiter._windows) == 1002  # memory bounded by about twice the users active in one window
    reliability.count("rate_limit_cases")


def test_fractional_window_still_says_at_least_one_second(store, account):
    clock = Clock()
    api = API(create_app(store=store, rate_limiter=MemoryRateLimiter(clock=clock), event_rate_limit=1, rate_limit_window=0.25))
    assert api.event(event(account)).status_code == 200
    assert api.event(event(account)).headers["Retry-After"] == "1"
    clock.now += 0.25
    assert api.event(event(account)).status_code == 200
    reliability.count("rate_limit_cases")
