"""Two real server processes on one PostgreSQL and one Redis: nothing lost, nothing twice, one rate limit."""

from __future__ import annotations

import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from octeth_tracking.cli import main
from services import REDIS_URL, pg_schema, redis_prefix
from test_cli import Server

LIMIT = 40  # /event requests per user per minute, across both servers together


@pytest.fixture
def url():
    yield from pg_schema()


@pytest.fixture
def prefix():
    yield from redis_prefix()


def cli(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def account(capsys, url, name):
    """A user, key and list, made with the command line against PostgreSQL."""
    user = cli(capsys, "create-user", name, "--db", url)
    listed = cli(capsys, "create-list", "--user-id", str(user["user_id"]), f"{name}'s list", "--db", url)
    return user["api_key"], listed["list_id"]


@pytest.fixture
def servers(tmp_path, url, prefix, monkeypatch):
    monkeypatch.setenv("OCTETH_TRACKING_EVENT_RATE_LIMIT", str(LIMIT))
    monkeypatch.setenv("OCTETH_TRACKING_REDIS_PREFIX", prefix)  # this test's own counters
    started = []
    try:
        for _ in range(2):
            started.append(Server(tmp_path, "serve", "--port", "0", "--db", url, "--redis", REDIS_URL))
        yield started
    finally:
        logs = [server.stop() for server in started]
    assert not any("Traceback" in log for log in logs), logs


def send_all(servers, requests):
    """(server index, body) pairs, sent 8 at a time; the answers in the same order."""
    def send(request):
        index, body = request
        return servers[index].post("/event", json.dumps(body).encode())
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(send, requests))


def test_two_servers_share_one_database_and_one_rate_limit(servers, url, capsys):
    health = [json.loads(urllib.request.urlopen(s.url + "/health", timeout=10).read()) for s in servers]
    assert health == [{"status": "ok", "store": "ok", "rate_limiter": "ok"}] * 2

    # Over the limit, through both servers at once: exactly LIMIT acknowledged, and stored.
    key, limited_list = account(capsys, url, "limited")
    body = {"APIKey": key, "ListID": limited_list, "Event": "pageView", "Properties": {"n": 1}}
    answers = send_all(servers, [(i % 2, {**body, "UUID": str(uuid.uuid4())}) for i in range(100)])
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == LIMIT and statuses.count(429) == 100 - LIMIT
    assert all(answer == {"Errors": [{"Code": 25, "Message": "Rate limit exceeded."}]}
               for status, answer in answers if status == 429)

    # The same 15 events sent to both servers at once, one visitor identifying itself.
    key, shared_list = account(capsys, url, "twice")
    events = [{"APIKey": key, "ListID": shared_list, "Event": "click", "ID": "visitor-1",
               "Email": "v@example.com", "UUID": str(uuid.uuid4())} for _ in range(15)]
    answers = send_all(servers, [(side, event) for event in events for side in (0, 1)])
    assert [status for status, _ in answers] == [200] * 30
    first, second = answers[0::2], answers[1::2]
    assert [a for _, a in first] == [a for _, a in second]  # a repeat gets the original's answer
    assert sum(a["identify_event_sent"] for _, a in first) == 1  # linked once, by one host

    # What was acknowledged is what is stored: no event lost, none twice.
    listed = cli(capsys, "properties", "--list-id", str(shared_list), "--db", url)
    assert listed == {"ListID": str(shared_list), "Properties": {"click": [], "identify": []}}
    from octeth_tracking import open_store

    store = open_store(url)
    try:
        assert store.count_events(limited_list) == LIMIT
        assert store.count_events(shared_list) == 15 + 1  # the clicks and one identify event
        assert store.subscriber_email(shared_list, "visitor-1") == "v@example.com"
    finally:
        store.close()
