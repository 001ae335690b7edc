"""``website_events.list`` and ``website_events.forget`` over the API: answers, codes, paging, tenancy."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import urlencode

import pytest

from conftest import codes

LIST, FORGET = "/website_events.list", "/website_events.forget"


@pytest.fixture
def tracked(api, account):
    """Alice's list: visitor v1 (identified as ann, then five page views), and v2's signup."""
    key, list_id = account.api_key, account.list_id
    assert api.event({"APIKey": key, "ListID": list_id, "ID": "v1", "Event": "identify", "Email": "Ann@Example.com"}).status_code == 200
    for n in range(5):
        assert api.event({"APIKey": key, "ListID": list_id, "ID": "v1", "Event": "pageView",
                          "Properties": {"n": n, "url": f"/page/{n}"}}).status_code == 200
    assert api.event({"APIKey": key, "ListID": list_id, "ID": 42, "Event": "signup",
                      "UUID": "0190B5D4-0000-7000-8000-000000000001"}).status_code == 200
    return account


def cursor(time, row_id):
    """A cursor of this server's shape holding whatever is asked."""
    return base64.urlsafe_b64encode(json.dumps([time, row_id]).encode()).decode().rstrip("=")


def get(api, params):
    return api.client.get(api.prefix + LIST + "?" + urlencode(params))


def test_a_list_reads_newest_first_a_page_at_a_time(api, tracked):
    body = {"APIKey": tracked.api_key, "ListID": tracked.list_id, "Limit": 4}
    first = api.post(LIST, body).get_json()
    assert [e["Event"] for e in first["Events"]] == ["signup", "pageView", "pageView", "pageView"]
    signup = first["Events"][0]
    assert signup == {**signup, "UUID": "0190b5d4-0000-7000-8000-000000000001", "ListID": str(tracked.list_id),
                      "ID": "42", "Email": None, "Properties": {}, "IdentifyEventSent": False}
    assert signup["OccurredAt"].endswith("Z") and signup["ReceivedAt"] == signup["OccurredAt"]
    second = api.post(LIST, {**body, "Cursor": first["NextCursor"]}).get_json()
    assert [e["Properties"].get("n") for e in second["Events"]] == [1, 0, None]
    assert second["Events"][-1]["Event"] == "identify" and second["NextCursor"] is None


@pytest.mark.parametrize("filters, expected", [
    pytest.param({"ID": "v1"}, ["pageView"] * 5 + ["identify"], id="a-visitor"),
    pytest.param({"ID": 42}, ["signup"], id="an-integer-visitor-id"),
    pytest.param({"Email": "ANN@example.com"}, ["pageView"] * 5 + ["identify"], id="a-subscriber-in-any-case"),
    pytest.param({"Event": "identify"}, ["identify"], id="an-event-name"),
    pytest.param({"Since": "2000-01-01"}, ["signup"] + ["pageView"] * 5 + ["identify"], id="since-a-date"),
    pytest.param({"Until": "2000-01-01T00:00:00+01:00"}, [], id="until-with-an-offset"),
    pytest.param({"Since": 946684800000, "Event": "signup"}, ["signup"], id="since-epoch-milliseconds"),
    pytest.param({"Until": "4102444800000"}, ["signup"] + ["pageView"] * 5 + ["identify"], id="until-milliseconds-as-text"),
])
def test_filters(api, tracked, filters, expected):
    answer = api.post(LIST, {"APIKey": tracked.api_key, "ListID": tracked.list_id, **filters})
    assert answer.status_code == 200
    assert [e["Event"] for e in answer.get_json()["Events"]] == expected


def test_get_takes_the_query_string_and_head_the_same_without_a_body(api, tracked):
    params = {"APIKey": tracked.api_key, "ListID": tracked.list_id, "ID": "v1", "Limit": "2"}
    answer = get(api, params)
    assert answer.status_code == 200 and len(answer.get_json()["Events"]) == 2
    head = api.client.head(api.prefix + LIST + "?" + urlencode(params))
    assert head.status_code == 200 and head.get_data() == b""


@pytest.mark.parametrize("params, code", [
    pytest.param({}, 1, id="no-listid"),
    pytest.param({"ListID": "x"}, 2, id="bad-listid"),
    pytest.param({"ListID": 987654}, 3, id="no-such-list"),
    pytest.param({"ID": ["v1"]}, 18, id="id-not-text"),
    pytest.param({"Email": "nobody"}, 7, id="bad-email"),
    pytest.param({"Email": ""}, 7, id="empty-email"),
    pytest.param({"Event": ""}, 57, id="empty-event"),
    pytest.param({"Event": "e" * 256}, 57, id="event-too-long"),
    pytest.param({"Since": "yesterday"}, 58, id="since-not-a-time"),
    pytest.param({"Since": "2026-02-30"}, 58, id="since-no-such-day"),
    pytest.param({"Since": "2026-12-04T20:15:03"}, 58, id="since-without-an-offset"),
    pytest.param({"Until": -1}, 59, id="until-negative"),
    pytest.param({"Until": "2026-12-04T25:00:00Z"}, 59, id="until-no-such-hour"),
    pytest.param({"Limit": 0}, 80, id="limit-zero"),
    pytest.param({"Limit": 1001}, 80, id="limit-over-1000"),
    pytest.param({"Cursor": "not a cursor"}, 34, id="cursor-not-base64"),
    pytest.param({"Cursor": "bm90IGEgY3Vyc29y"}, 34, id="cursor-not-ours"),
    pytest.param({"Cursor": "WyJ4IiwxXQ"}, 34, id="cursor-of-wrong-shape"),
    pytest.param({"Cursor": cursor(1.0, 10**30)}, 34, id="cursor-row-id-past-64-bits"),
    pytest.param({"Cursor": cursor(1e300, 1)}, 34, id="cursor-time-past-9999"),
    pytest.param({"Cursor": cursor(-1.0, 1)}, 34, id="cursor-time-before-1970"),
    pytest.param({"Since": "999999999999999"}, 58, id="since-milliseconds-past-9999"),
    pytest.param({"Until": "9999-12-31T23:59:59-01:00"}, 59, id="until-past-9999-in-utc"),
    pytest.param({"Command": "event.track"}, 71, id="command-of-another-route"),
])
def test_bad_parameters_get_their_code_and_a_detail(api, tracked, params, code):
    answer = api.post(LIST, {"APIKey": tracked.api_key, "ListID": tracked.list_id, **params}
                      if "ListID" not in params and params != {} else {"APIKey": tracked.api_key, **params})
    assert answer.status_code == 422
    assert codes(answer) == [code]
    assert all(error["Detail"] for error in answer.get_json()["Errors"])


def test_several_bad_parameters_are_all_named(api, tracked):
    answer = api.post(LIST, {"APIKey": tracked.api_key, "ListID": tracked.list_id, "Since": "2026-13-01",
                             "Until": "2026-02-30", "Cursor": "zz"})  # each well-formed, none a time or a cursor
    assert codes(answer) == [34, 58, 59]


def test_reading_needs_a_secret_key_not_a_tracker_key(api, tracked, store):
    _, tracker = store.create_tracker(tracked.list_id, ["https://alice.example"], server_side=True)
    answer = api.post(LIST, {"TrackerKey": tracker, "ListID": tracked.list_id})
    assert answer.status_code == 401
    assert api.post(FORGET, {"TrackerKey": tracker, "ListID": tracked.list_id, "ID": "v1"}).status_code == 401
    assert store.count_events(tracked.list_id) == 7


def test_another_users_events_are_neither_read_nor_erased(api, tracked, other_account, store):
    assert api.event({"APIKey": other_account.api_key, "ListID": other_account.list_id, "ID": "v1", "Event": "x"}).status_code == 200
    mine = {"APIKey": tracked.api_key, "ListID": other_account.list_id}
    assert codes(api.post(LIST, mine)) == [3]
    assert codes(api.post(FORGET, {**mine, "ID": "v1"})) == [3]
    assert store.count_events(other_account.list_id) == 1


@pytest.mark.parametrize("whom, erased", [
    pytest.param({"ID": "v1"}, {"Events": 6, "Links": 1, "Subscribers": 0}, id="a-visitor"),
    pytest.param({"Email": "ann@EXAMPLE.com"}, {"Events": 6, "Links": 1, "Subscribers": 1}, id="a-subscriber"),
    pytest.param({"ID": 42}, {"Events": 1, "Links": 0, "Subscribers": 0}, id="an-integer-visitor-id"),
    pytest.param({"ID": "nobody"}, {"Events": 0, "Links": 0, "Subscribers": 0}, id="nobody"),
])
def test_forget_answers_what_it_erased_and_a_second_call_nothing(api, tracked, store, whom, erased, caplog):
    body = {"APIKey": tracked.api_key, "ListID": tracked.list_id, **whom}
    with caplog.at_level(logging.INFO, logger="octeth_tracking"):
        answer = api.post(FORGET, body)
    assert answer.status_code == 200
    assert answer.get_json() == {"ListID": str(tracked.list_id), "Erased": erased}
    assert store.count_events(tracked.list_id) == 7 - erased["Events"]
    assert api.post(FORGET, body).get_json()["Erased"] == {"Events": 0, "Links": 0, "Subscribers": 0}
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "octeth_tracking")
    assert f"erased a {'subscriber' if 'Email' in whom else 'visitor'} of list {tracked.list_id}" in logged
    assert "ann" not in logged.lower() and "v1" not in logged


@pytest.mark.parametrize("whom", [pytest.param({}, id="neither"), pytest.param({"ID": "v1", "Email": "ann@example.com"}, id="both")])
def test_forget_takes_exactly_one_of_id_and_email(api, tracked, store, whom):
    answer = api.post(FORGET, {"APIKey": tracked.api_key, "ListID": tracked.list_id, **whom})
    assert answer.status_code == 422 and codes(answer) == [33]
    assert store.count_events(tracked.list_id) == 7


def test_reads_and_erasure_have_their_own_rate_limits(make_api, tracked):
    api = make_api(list_rate_limit=2, forget_rate_limit=1)
    body = {"APIKey": tracked.api_key, "ListID": tracked.list_id}
    assert [api.post(LIST, body).status_code for _ in range(3)] == [200, 200, 429]
    assert [api.post(FORGET, {**body, "ID": "x"}).status_code for _ in range(2)] == [200, 429]
    assert api.properties(body).status_code == 200  # another route's budget


def test_api_php_reads_and_erases_by_command(api, tracked):
    form = {"Command": "website_events.list", "APIKey": tracked.api_key, "ListID": str(tracked.list_id), "ID": "v1"}
    answer = api.client.post("/api/v1/api.php", data=form)
    assert answer.status_code == 200 and len(answer.get_json()["Events"]) == 6
    form["Command"] = "website_events.forget"
    assert api.client.post("/api/v1/api.php", data=form).get_json()["Erased"]["Events"] == 6
