"""Nobody in: another user's list answers exactly as a list that does not exist, and nothing is written.

One row per endpoint x method x way to authenticate; a test checks that the table
covers every route and method in ``app.ROUTES``, so a new endpoint must join it.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client, TestResponse

import reliability
from conftest import make_account
from octeth_tracking import create_app
from octeth_tracking.app import ROUTES

EVENT, PROPERTIES, API_PHP, BATCH = "/event", "/website_events.properties", "/api.php", "/events.batch"
LIST, FORGET = "/website_events.list", "/website_events.forget"
# Every way each kind of credential travels (credentials.py).
WAYS = {"secret": ("body-apikey", "body-session", "bearer"), "tracker": ("tracker-body", "tracker-query")}
CREDENTIALS = WAYS["secret"]
SITE = "https://alice.example"  # the origin on Alice's tracker key
NO_SUCH_LIST = 987654
TABLES = ("events", "event_types", "event_properties", "subscribers", "visitor_links", "lists", "api_keys", "sessions",
          "custom_fields", "subscriber_fields", "tracker_keys", "visitor_link_history")

# (path, method, how the credential travels, the 422 code of an unknown list, /api.php's Command)
CASES = [
    pytest.param(path, method, way, code, command, id=f"{path[1:]}-{method}-{way}" + (f"-{command}" if command else ""))
    for path, method, kinds, code, command in [
        (EVENT, "POST", ("secret", "tracker"), 4, None), (BATCH, "POST", ("secret", "tracker"), 4, None), (PROPERTIES, "POST", ("secret",), 3, None),
        (PROPERTIES, "GET", ("secret",), 3, None), (PROPERTIES, "HEAD", ("secret",), 3, None),
        (API_PHP, "POST", ("secret",), 4, "event.track"), (API_PHP, "POST", ("secret",), 3, "website_events.properties"),
        (LIST, "POST", ("secret",), 3, None), (LIST, "GET", ("secret",), 3, None), (LIST, "HEAD", ("secret",), 3, None),
        (FORGET, "POST", ("secret",), 3, None),
        (API_PHP, "POST", ("secret",), 3, "website_events.list"), (API_PHP, "POST", ("secret",), 3, "website_events.forget")]
    for kind in kinds for way in WAYS[kind]
]


# Routes that take credentials but name no list: each shows the caller only what is theirs.
REJECTED = "/website_events.rejected"
OWN_ONLY = [
    pytest.param(path, method, way, id=f"{path[1:]}-{method}-{way}")
    for path, method in [(REJECTED, "POST"), (REJECTED, "GET"), (REJECTED, "HEAD")]
    for way in CREDENTIALS
]

# Routes that take no user's credentials and name no list: nothing of a tenant's to leak (the
# micro server's routes exist only on a micro server, which holds one test account; /metrics
# counts all tenants together, for the operator's own token: tests/test_metrics.py).
UNAUTHENTICATED = {"/health", "/tracker.js", "/openapi.json", "/micro/all", "/micro/good", "/micro/bad", "/micro/reset", "/metrics"}


def test_table_covers_every_route_method_and_credential():
    covered = {(case.values[0], case.values[1], case.values[2]) for case in CASES + OWN_ONLY}
    expected = {
        (route.path, method, way)
        for route in ROUTES if route.credentials
        for method in route.methods if method != "OPTIONS"  # a preflight names no list (test_cors.py)
        for kind in route.credentials for way in WAYS[kind.name]
    }
    assert covered == expected
    assert {route.path for route in ROUTES if not route.credentials} == UNAUTHENTICATED


def call(client: Client, path: str, method: str, way: str, secret: str, list_id: int,
         command: str | None = None) -> TestResponse:
    params: dict[str, Any] = {"ListID": list_id}
    probe = dict(Event="identify", Email="probe@example.com", ID="visitor-1", Properties={"probe": 1},
                 IdentifyProperties={"CustomField1": "x"})
    if path == EVENT or command == "event.track":
        params.update(probe)
    if path == BATCH:  # the batch's default ListID; an item's own is below
        params["Events"] = [probe, probe]
    if path in (LIST, FORGET) or command in ("website_events.list", "website_events.forget"):
        params.update(ID="visitor-1")  # the visitor the event above tracks, on Bob's list too
    headers = {}
    url = "/api/v1" + path
    if way == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif way.startswith("tracker"):
        headers["Origin"] = SITE
        if way == "tracker-query":
            url += "?" + urlencode({"TrackerKey": secret})
        else:
            params["TrackerKey"] = secret
    else:
        params["APIKey" if way == "body-apikey" else "SessionID"] = secret
    if command is not None:  # a form, as Octeth's legacy clients send
        form = {"Command": command, **{k: v for k, v in params.items() if not isinstance(v, dict)}}
        form.update({f"{k}[{name}]": inner for k, v in params.items() if isinstance(v, dict) for name, inner in v.items()})
        return client.post(url, data={k: str(v) for k, v in form.items()}, headers=headers)
    if method == "POST":
        return client.post(url, json=params, headers=headers)
    return client.open(url + "?" + urlencode(params), method=method, headers=headers)


def footprint(path: str, store: Any, list_ids: list[int]) -> tuple[Any, ...]:
    db = sqlite3.connect(path)
    try:
        counts = tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES)
    finally:
        db.close()
    return counts + tuple(repr(store.properties(list_id)) for list_id in list_ids)


@pytest.mark.parametrize("path, method, way, code, command", CASES)
def test_another_users_list_is_indistinguishable_from_none(store, path, method, way, code, command):
    alice, bob = make_account(store, "alice"), make_account(store, "bob")
    store.create_custom_field(bob.list_id, "Bob's field", field_id=1)  # a field of bob's list: alice's CustomField1 must not reach it
    client = Client(create_app(store=store))
    # Bob's list holds data: a leak would show it, a write would change it.
    assert call(client, EVENT, "POST", "body-apikey", bob.api_key, bob.list_id).status_code == 200
    secret = store.create_session(alice.user_id, ttl=60) if way == "body-session" else alice.api_key
    if way.startswith("tracker"):
        secret = store.create_tracker(alice.list_id, [SITE])[1]

    before = footprint(store.path, store, [alice.list_id, bob.list_id])
    on_bobs = call(client, path, method, way, secret, bob.list_id, command)
    on_none = call(client, path, method, way, secret, NO_SUCH_LIST, command)
    after = footprint(store.path, store, [alice.list_id, bob.list_id])

    reliability.count("tenant_cases")
    reliability.count("tenant_writes", after != before)
    assert on_bobs.status_code == on_none.status_code == 422
    assert on_bobs.get_data() == on_none.get_data()
    assert dict(on_bobs.headers) == dict(on_none.headers)
    if method != "HEAD":
        assert [error["Code"] for error in on_bobs.get_json()["Errors"]] == [code]
    assert after == before
    # The same credential on Alice's own list works: the refusal above is about the list, not the credential.
    assert call(client, path, method, way, secret, alice.list_id, command).status_code == 200


@pytest.mark.parametrize("path, method, way", OWN_ONLY)
def test_a_route_without_a_list_shows_only_the_callers_own(store, path, method, way):
    alice, bob = make_account(store, "alice"), make_account(store, "bob")
    client = Client(create_app(store=store))
    # Bob's request is refused (a missing event name): his journal holds it.
    assert client.post("/api/v1/event", json={"APIKey": bob.api_key, "ListID": bob.list_id}).status_code == 422
    secret = store.create_session(alice.user_id, ttl=60) if way == "body-session" else alice.api_key
    headers = {"Authorization": f"Bearer {secret}"} if way == "bearer" else {}
    params = {} if way == "bearer" else {"APIKey" if way == "body-apikey" else "SessionID": secret}
    url = "/api/v1" + path
    if method == "POST":
        answer = client.post(url, json=params, headers=headers)
    else:
        answer = client.open(url + "?" + urlencode(params), method=method, headers=headers)
    assert answer.status_code == 200
    if method != "HEAD":
        assert answer.get_json() == {"Rejected": []}
    bobs = client.get(url, headers={"Authorization": f"Bearer {bob.api_key}"}).get_json()["Rejected"]
    assert [r["Route"] for r in bobs] == ["/event"]  # it is there, for Bob


@pytest.mark.parametrize("way", WAYS["secret"] + WAYS["tracker"])
def test_a_batch_item_naming_another_users_list_answers_as_one_naming_none(store, way):
    alice, bob = make_account(store, "alice"), make_account(store, "bob")
    client = Client(create_app(store=store))
    assert call(client, EVENT, "POST", "body-apikey", bob.api_key, bob.list_id).status_code == 200
    secret = store.create_session(alice.user_id, ttl=60) if way == "body-session" else alice.api_key
    if way.startswith("tracker"):
        secret = store.create_tracker(alice.list_id, [SITE])[1]

    def item_answer(list_id: int) -> Any:
        answer = call(client, BATCH, "POST", way, secret, alice.list_id)  # a valid default: the batch passes
        assert answer.status_code == 200
        body = {"Events": [{"Event": "pageView", "ListID": list_id, "ID": "v"}], "ListID": alice.list_id}
        headers = {"Authorization": f"Bearer {secret}"} if way == "bearer" else {}
        url = "/api/v1" + BATCH
        if way.startswith("tracker"):
            headers["Origin"] = SITE
            url += "?" + urlencode({"TrackerKey": secret})
        elif way != "bearer":
            body["APIKey" if way == "body-apikey" else "SessionID"] = secret
        return client.post(url, json=body, headers=headers).get_json()["Events"][0]

    before = footprint(store.path, store, [bob.list_id])
    on_bobs, on_none = item_answer(bob.list_id), item_answer(NO_SUCH_LIST)
    assert on_bobs == on_none and [error["Code"] for error in on_bobs["Errors"]] == [4]
    assert footprint(store.path, store, [bob.list_id])[:1] != before[:1]  # alice's own probes were stored...
    assert store.count_events(bob.list_id) == 1  # ...and nothing reached bob's list
