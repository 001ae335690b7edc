"""POST {mount}/events.batch (batch.py): items answered by index, one pipeline with /event, the
edges (first and last index, max items and one more, the body limit), duplicates, a 503 that
stores nothing, identify in order on every store, events counted against the rate limits, and
tracker keys with CORS."""

from __future__ import annotations

import gzip
import json
import sqlite3
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import API, codes, make_account
from octeth_tracking import MemoryRateLimiter, SQLiteStore, create_app

SITE = "https://shop.example"


def batch(api: API, body: Any, **kwargs: Any):
    return api.post("/events.batch", body, **kwargs)


def items(n: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"Event": "pageView", "ID": f"visitor-{i}", "UUID": str(uuid.uuid4()), **fields} for i in range(n)]


def sent(account, events: list[Any], **fields: Any) -> dict[str, Any]:
    return {"APIKey": account.api_key, "ListID": account.list_id, "Events": events, **fields}


def test_every_item_is_answered_by_index_and_the_valid_ones_are_stored(api, account, store) -> None:
    events: list[Any] = [
        {"Event": "", "ID": "first-is-bad"},  # index 0: refused
        {"Event": "pageView", "ID": "v", "UUID": "6f3c1c9e-8a2b-4c1d-9e0f-123456789abc"},
        "not an object",
        {"Event": "pageView", "APIKey": account.api_key},
        {"Event": "signup", "Email": "not an address", "UUID": "nope"},
        {"Event": "pageView", "ID": "last-is-good", "Properties": {"url": "/"}},  # the last index: stored
    ]
    answer = batch(api, sent(account, events))
    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()
    assert [item["Index"] for item in found["Events"]] == list(range(len(events)))
    assert (found["Stored"], found["Duplicates"], found["Refused"]) == (2, 0, 4)
    refused = {item["Index"]: [e["Code"] for e in item["Errors"]] for item in found["Events"] if "Errors" in item}
    assert refused == {0: [5], 2: [55], 3: [56], 4: [7, 11]}
    assert all(item["Retryable"] is False and all(e["Detail"] for e in item["Errors"])
               for item in found["Events"] if "Errors" in item)
    ok = found["Events"][1]
    assert ok == {"Index": 1, "status": "success", "uuid": "6f3c1c9e-8a2b-4c1d-9e0f-123456789abc", "external_id": "v",
                  "identify_event_sent": False, "occurred_at": ok["occurred_at"], "duplicate": False}
    assert found["Events"][5]["external_id"] == "last-is-good"
    assert store.count_events() == 2


def test_an_item_answers_as_the_same_body_on_event_does(make_api, account) -> None:
    api = make_api(clock=lambda: 1_796_464_800.0)
    body = {"Event": "conversion", "ID": 2006, "UUID": str(uuid.uuid4()), "Properties": {"conversion-id": "o"},
            "Timestamp": "2026-12-05T09:00:00Z"}
    alone = api.event({"APIKey": account.api_key, "ListID": account.list_id, **body}).get_json()
    within = batch(api, sent(account, [{**body, "UUID": str(uuid.uuid4())}])).get_json()["Events"][0]
    assert within["Errors"] == alone["Errors"]  # the same schema, the same codes and details
    good = {**body, "Properties": {"conversion-id": "o", "conversion-name": "n", "conversion-value": 1}}
    alone = api.event({"APIKey": account.api_key, "ListID": account.list_id, **good}).get_json()
    within = batch(api, sent(account, [good])).get_json()["Events"][0]
    assert {**within, "Index": None, "duplicate": None} == {**alone, "Index": None, "duplicate": None}
    assert within["duplicate"] is True


@pytest.mark.parametrize("configured", [pytest.param(None, id="default-1000"), pytest.param(5, id="configured-5")])
def test_max_items_is_stored_and_one_more_is_refused_whole(make_api, account, store, configured) -> None:
    limit = configured or 1000
    api = make_api(**({"max_batch_events": configured} if configured else {}))
    at_edge = batch(api, sent(account, items(limit)))
    assert at_edge.status_code == 200 and at_edge.get_json()["Stored"] == limit
    past = batch(api, sent(account, items(limit + 1)))
    assert (past.status_code, codes(past)) == (422, [55])
    assert past.get_json()["Errors"][0]["Detail"] == f"Events must hold at most {limit} items"
    assert store.count_events() == limit


@pytest.mark.parametrize("body, code", [
    pytest.param({}, 54, id="missing"),
    pytest.param({"Events": []}, 55, id="empty"),
    pytest.param({"Events": {"Event": "x"}}, 55, id="an-object"),
    pytest.param({"Events": [{"Event": "x"}], "ListID": "x"}, 4, id="bad-default-list"),
])
def test_a_batch_breaking_its_own_rules_is_refused_whole(api, account, store, body, code) -> None:
    answer = batch(api, {"APIKey": account.api_key, **body})
    assert (answer.status_code, codes(answer)) == (422, [code])
    assert store.count_events() == 0


def padded(body: dict[str, Any], size: int) -> bytes:
    data = json.dumps(body).encode()
    return data[:-1] + b" " * (size - len(data)) + b"}"


@pytest.mark.parametrize("compress", [pytest.param(False, id="plain"), pytest.param(True, id="gzip")])
def test_the_batch_body_limit_holds_at_its_edge(make_api, account, store, compress) -> None:
    api = make_api(max_batch_body_size=4096)
    body = sent(account, items(3))
    headers = {"Content-Encoding": "gzip"} if compress else {}
    encode = gzip.compress if compress else (lambda data: data)
    assert batch(api, encode(padded(body, 4096)), headers=headers).status_code == 200
    past = batch(api, encode(padded(body, 4097)), headers=headers)
    assert (past.status_code, codes(past)) == (413, [24])
    assert store.count_events() == 3


def test_the_default_batch_body_limit_is_a_mebibyte_beside_events_64_kib(api, account) -> None:
    body = sent(account, items(1, Properties={"note": "x" * 8000}) * 1)
    big = padded(body, 1024 * 1024)
    assert batch(api, big).status_code == 200
    assert (batch(api, padded(body, 1024 * 1024 + 1)).status_code) == 413
    assert api.event(padded({"APIKey": account.api_key, "ListID": account.list_id, "Event": "e"}, 70_000)).status_code == 413


def test_a_resent_batch_is_all_duplicates_and_stores_nothing_twice(api, account, store) -> None:
    body = sent(account, items(10) + items(1, Email="a@example.com"))
    first, again = batch(api, body).get_json(), batch(api, body).get_json()
    assert (first["Stored"], first["Duplicates"]) == (11, 0)
    assert (again["Stored"], again["Duplicates"]) == (0, 11)
    assert [e["uuid"] for e in first["Events"]] == [e["uuid"] for e in again["Events"]]
    assert [e["identify_event_sent"] for e in first["Events"]] == [e["identify_event_sent"] for e in again["Events"]]
    assert store.count_events() == 12  # and the identify event of the one with an email


def test_items_name_their_own_list_checked_like_events_are(api, account, other_account, store) -> None:
    second = store.create_list(account.user_id, "second")
    answer = batch(api, sent(account, [{"Event": "a"}, {"Event": "b", "ListID": second},
                                       {"Event": "c", "ListID": other_account.list_id}])).get_json()
    assert [e.get("Errors", [{}])[0].get("Code") for e in answer["Events"]] == [None, None, 4]
    assert (store.count_events(account.list_id), store.count_events(second)) == (1, 1)
    assert store.count_events(other_account.list_id) == 0
    no_default = batch(api, {"APIKey": account.api_key, "Events": [{"Event": "a"}]}).get_json()
    assert no_default["Events"][0]["Errors"][0]["Code"] == 4


def test_item_times_follow_the_event_rules(make_api, account) -> None:
    api = make_api(clock=lambda: 1_796_464_800.0)
    answer = batch(api, sent(account, [{"Event": "a", "Timestamp": "2026-11-01T00:00:00Z"},
                                       {"Event": "b", "Timestamp": "2026-11-01T00:00:00Z", "Import": True},
                                       {"Event": "c", "Timestamp": "2026-12-05T12:00:00Z"}])).get_json()["Events"]
    assert answer[0]["Errors"][0]["Code"] == 52
    assert answer[1]["occurred_at"] == "2026-11-01T00:00:00.000Z"
    assert (answer[2]["occurred_at"], answer[2]["time_adjusted"]) == ("2026-12-05T10:00:00.000Z", "future")


def test_identify_within_a_batch_behaves_as_if_sent_one_by_one(any_store) -> None:
    account = make_account(any_store)
    api = API(create_app(store=any_store))
    answer = batch(api, sent(account, [
        {"Event": "pageView", "ID": "v", "Email": "ann@example.com"},  # links v: identifies
        {"Event": "pageView", "ID": "v", "Email": "ann@example.com"},  # sees that link: no identify
        {"Event": "identify", "ID": "v", "Email": "bob@example.com"},  # an identify always is one
        {"Event": "pageView", "ID": "v", "Email": "ann@example.com"},  # v moved to bob: identifies again
    ])).get_json()
    assert [e["identify_event_sent"] for e in answer["Events"]] == [True, False, True, True]
    assert any_store.subscriber_email(account.list_id, "v") == "ann@example.com"
    assert any_store.count_events(account.list_id) == 6  # four events, two identify events they caused


@contextmanager
def locked(path: str) -> Iterator[None]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_a_store_that_cannot_commit_is_503_with_nothing_stored_and_a_retry_is_exact(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "events.db", busy_timeout=0.2)
    account = make_account(store)
    api = API(create_app(store=store))
    body = sent(account, items(20) + [{"Event": ""}])
    with locked(store.path):
        answer = batch(api, body)
    assert (answer.status_code, codes(answer), answer.headers["Retry-After"]) == (503, [26], "1")
    assert store.count_events() == 0
    retried = batch(api, body).get_json()
    assert (retried["Stored"], retried["Refused"], store.count_events()) == (20, 1, 20)
    store.close()


def test_a_batch_costs_its_events_of_the_event_budget(make_api, account, store) -> None:
    limiter = MemoryRateLimiter(clock=lambda: 0.0)
    api = make_api(rate_limiter=limiter, event_rate_limit=10, batch_rate_limit=3)
    assert batch(api, sent(account, items(11))).status_code == 429  # more than the budget: refused, costs nothing
    assert batch(api, sent(account, items(8))).status_code == 200
    assert batch(api, sent(account, items(3))).status_code == 429  # 8 + 3 > 10
    assert api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "e"}).status_code == 200
    assert api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "e"}).status_code == 200
    assert api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "e"}).status_code == 429
    # batch_rate_limit counts requests: three asked, the third over it
    over = batch(api, sent(account, items(0) + [{"Event": "x"}]))
    assert over.status_code == 429 and store.count_events() == 10


@pytest.fixture
def tracker(store, account):
    key = store.create_tracker(account.list_id, [SITE])[1]
    return key


def test_a_tracker_key_sends_a_batch_from_its_page_and_reads_the_answer(make_api, account, other_account, store,
                                                                       tracker) -> None:
    api = make_api()
    body = json.dumps({"Events": [{"Event": "pageView", "ID": "v"}, {"Event": "x", "ListID": other_account.list_id}],
                       "ListID": account.list_id})
    answer = api.client.post(f"/api/v1/events.batch?TrackerKey={tracker}", data=body, content_type="text/plain",
                             headers={"Origin": SITE})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == SITE
    assert [e.get("Errors", [{}])[0].get("Code") for e in answer.get_json()["Events"]] == [None, 4]
    elsewhere = api.client.post(f"/api/v1/events.batch?TrackerKey={tracker}", data=body, content_type="text/plain",
                                headers={"Origin": "https://evil.example"})
    assert (elsewhere.status_code, codes(elsewhere)) == (403, [40])
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
    preflight = api.client.options(f"/api/v1/events.batch?TrackerKey={tracker}",
                                   headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert (preflight.headers["Access-Control-Allow-Origin"], preflight.headers["Access-Control-Allow-Methods"]) == (SITE, "POST")
    assert store.count_events() == 1


def test_a_tracker_keys_visitor_budget_counts_each_visitors_events(make_api, account, tracker) -> None:
    api = make_api(tracker_visitor_rate_limit=3, rate_limiter=MemoryRateLimiter(clock=lambda: 0.0))
    post = lambda events: api.client.post(  # noqa: E731
        f"/api/v1/events.batch?TrackerKey={tracker}", data=json.dumps({"ListID": account.list_id, "Events": events}),
        content_type="text/plain", headers={"Origin": SITE})
    assert post([{"Event": "e", "ID": "a"}] * 3 + [{"Event": "e", "ID": "b"}] * 3).status_code == 200
    assert post([{"Event": "e", "ID": "a"}]).status_code == 429  # a's fourth, sent alone or in a batch
    one = api.client.post(f"/api/v1/event?TrackerKey={tracker}", data=json.dumps(
        {"ListID": account.list_id, "Event": "e", "ID": "c"}), content_type="text/plain", headers={"Origin": SITE})
    assert one.status_code == 200


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                       max_leaves=8)
_NAMES = st.sampled_from(["Event", "ID", "UUID", "Email", "Properties", "ListID", "Timestamp", "SentAt", "Import",
                          "IdentifyProperties", "event", "APIKey", "x"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(data=st.data())
def test_no_batch_a_client_sends_gets_a_5xx(make_api, account, data) -> None:
    api = make_api(event_rate_limit=0, batch_rate_limit=0)  # one store for every example: it fills up as it goes
    item = st.one_of(_VALUES, st.dictionaries(_NAMES, st.one_of(
        _VALUES, st.just("identify"), st.just("a@example.com"), st.just(account.list_id), st.just("2026-12-05T10:00:00Z")),
        max_size=6))
    body: dict[str, Any] = {"APIKey": account.api_key, "Events": data.draw(st.lists(item, max_size=6))}
    listid = data.draw(st.one_of(st.none(), _VALUES, st.just(account.list_id)))
    if listid is not None:
        body["ListID"] = listid
    answer = batch(api, body)
    assert answer.status_code < 500, (body, answer.get_data())
