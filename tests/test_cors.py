"""Tracker keys over HTTP: origins, server-side use, CORS headers, preflights, their rate limits.

In process, through ``create_app`` and werkzeug's test client; the real browser is in test_browser.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, TestResponse

from conftest import Account, make_account
from octeth_tracking import SQLiteStore, MemoryRateLimiter, StoreAuthenticator, create_app

SITE = "https://shop.example"
CORS = {"Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"}


@dataclass
class Tracking:
    client: Client
    store: Any
    alice: Account
    key: str  # Alice's, for SITE and https://*.shop.example
    server_key: str  # Alice's, server-side only
    limiter: MemoryRateLimiter

    def event(self, body: dict[str, Any] | bytes, key: str | None = None, origin: str | None = SITE,
              content_type: str = "text/plain;charset=UTF-8", headers: dict[str, str] | None = None) -> TestResponse:
        query = "?" + urlencode({"TrackerKey": key}) if key else ""
        data = body if isinstance(body, bytes) else json.dumps(body)
        sent = {**({"Origin": origin} if origin else {}), **(headers or {})}
        return self.client.post("/api/v1/event" + query, data=data, content_type=content_type, headers=sent)

    def page_view(self, **fields: Any) -> dict[str, Any]:
        return {"ListID": self.alice.list_id, "Event": "pageView", "ID": "visitor-1", **fields}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build(store: Any, **options: Any) -> Tracking:
    alice = make_account(store)
    key = store.create_tracker(alice.list_id, [SITE, "https://*.shop.example"])[1]
    server_key = store.create_tracker(alice.list_id, [], server_side=True)[1]
    limiter = MemoryRateLimiter(clock=Clock())
    return Tracking(Client(create_app(store=store, rate_limiter=limiter, **options)), store, alice, key, server_key, limiter)


@pytest.fixture
def tracking(store: Any) -> Tracking:
    return build(store)


def cors_of(response: TestResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("Access-Control") or name == "Vary"}


def readable_by(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"}


# (what is sent, status, code, stored, readable by): each sends one pageView of Alice's list unless it says otherwise.
REQUESTS = [
    pytest.param(lambda t: t.event(t.page_view(TrackerKey=t.key)), 200, None, 1, SITE, id="key-in-body"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key), 200, None, 1, SITE, id="key-in-query"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key, content_type="application/json"), 200, None, 1, SITE,
                 id="json-content-type"),
    pytest.param(lambda t: t.event(t.page_view(trackerkey=t.key), content_type=""), 200, None, 1, SITE,
                 id="no-content-type-lower-case-name"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key, origin="https://a.b.shop.example"), 200, None, 1,
                 "https://a.b.shop.example", id="wildcard-subdomain"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key, origin="https://evil.example"), 403, 40, 0, None,
                 id="origin-not-on-the-list"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key, origin="https://shop.example:8443"), 403, 40, 0, None,
                 id="another-port-is-another-origin"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key, origin="null"), 403, 40, 0, None, id="null-origin"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.key, origin=None), 403, 41, 0, None, id="no-origin-browser-key"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.server_key, origin=None), 200, None, 1, None,
                 id="no-origin-server-side-key"),
    pytest.param(lambda t: t.event(t.page_view(), key=t.server_key), 403, 40, 0, None,
                 id="server-side-key-from-a-page-not-on-its-list"),
    pytest.param(lambda t: t.event(t.page_view(), key="otk_unknown"), 401, 99998, 0, None, id="unknown-key"),
    pytest.param(lambda t: t.event(t.page_view(TrackerKey=12345)), 401, 99998, 0, None, id="key-not-a-string"),
    pytest.param(lambda t: t.event(t.page_view(APIKey=t.key)), 401, 99998, 0, None, id="tracker-key-as-api-key"),
    pytest.param(lambda t: t.event(t.page_view(APIKey="", SessionID=""), key=t.key), 200, None, 1, SITE,
                 id="empty-secrets-beside-a-tracker-key"),
    pytest.param(lambda t: t.event(t.page_view(ListID=t.alice.list_id + 1), key=t.key), 422, 4, 0, SITE,
                 id="another-list-as-an-unknown-one"),
    pytest.param(lambda t: t.event(t.page_view(Event="identify", Email="Ann@Example.com"), key=t.key), 200, None, 1, SITE,
                 id="identify"),
    pytest.param(lambda t: t.event(t.page_view(Event="conversion"), key=t.key), 422, 8, 0, SITE, id="invalid-conversion"),
]


@pytest.mark.parametrize("send, status, code, stored, origin", REQUESTS)
def test_tracker_key_requests(tracking, send, status, code, stored, origin):
    response = send(tracking)
    assert response.status_code == status, response.get_data()
    if code is not None:
        assert code in [error["Code"] for error in response.get_json()["Errors"]]
    assert tracking.store.count_events() == stored
    assert cors_of(response) == (readable_by(origin) if origin else {})


def test_an_identify_from_a_page_links_the_visitor(tracking):
    tracking.event(tracking.page_view(), key=tracking.key)
    response = tracking.event(tracking.page_view(Event="identify", Email="Ann@Example.com"), key=tracking.key)
    assert response.get_json()["identify_event_sent"] is True
    assert tracking.store.subscriber_email(tracking.alice.list_id, "visitor-1") == "ann@example.com"


@pytest.mark.parametrize("send", [
    pytest.param(lambda t, key: t.event({"APIKey": key, "ListID": t.alice.list_id, "Event": "x"}), id="stored"),
    pytest.param(lambda t, key: t.event({"APIKey": key, "ListID": t.alice.list_id, "Event": "x"}, key=t.key),
                 id="stored-with-a-tracker-key-in-the-query-too"),
    pytest.param(lambda t, key: t.event({"APIKey": key, "ListID": t.alice.list_id, "Event": "x", "TrackerKey": t.key}),
                 id="stored-with-a-tracker-key-in-the-body-too"),
    pytest.param(lambda t, key: t.event({"ListID": t.alice.list_id, "Event": "x"},
                                        headers={"Authorization": f"Bearer {key}"}), id="bearer"),
    pytest.param(lambda t, key: t.event({"APIKey": key, "ListID": 987654, "Event": "x"}), id="refused-422"),
    pytest.param(lambda t, key: t.event({"APIKey": "not-" + key, "ListID": 1, "Event": "x"}, key=t.key),
                 id="refused-401"),
    pytest.param(lambda t, key: t.client.get("/api/v1/website_events.properties?" + urlencode(
        {"APIKey": key, "ListID": t.alice.list_id, "TrackerKey": t.key}), headers={"Origin": SITE}), id="properties"),
])
def test_answers_to_a_secret_key_are_never_readable_by_a_page(tracking, send):
    response = send(tracking, tracking.alice.api_key)
    assert response.status_code in (200, 401, 422)
    assert cors_of(response) == {}


@pytest.mark.parametrize("request_", [
    pytest.param(lambda t: t.client.get("/api/v1/website_events.properties?" + urlencode(
        {"TrackerKey": t.key, "ListID": t.alice.list_id}), headers={"Origin": SITE}), id="properties-get"),
    pytest.param(lambda t: t.client.post("/api/v1/website_events.properties", headers={"Origin": SITE},
                                         data=json.dumps({"TrackerKey": t.key, "ListID": t.alice.list_id})),
                 id="properties-post"),
])
def test_a_tracker_key_cannot_read_properties(tracking, request_):
    response = request_(tracking)
    assert response.status_code == 401 and response.get_json()["Errors"][0]["Code"] == 99998
    assert cors_of(response) == {}


@pytest.mark.parametrize("body, key_in_query, origin, status, readable", [
    pytest.param(b'{"ListID": ', True, SITE, 400, True, id="not-json-readable"),
    pytest.param(b"{" + b" " * 70_000 + b"}", True, SITE, 413, True, id="too-large-readable"),
    pytest.param(b'{"ListID": ', False, SITE, 400, False, id="no-key-in-the-query-not-readable"),
    pytest.param(b'{"ListID": ', True, "https://evil.example", 400, False, id="other-origin-not-readable"),
])
def test_an_answer_before_the_credentials_is_readable_for_a_query_key(tracking, body, key_in_query, origin, status,
                                                                      readable):
    response = tracking.event(body, key=tracking.key if key_in_query else None, origin=origin)
    assert response.status_code == status
    assert cors_of(response) == (readable_by(origin) if readable else {})


def preflight(tracking: Tracking, key: str | None, origin: str | None = SITE, path: str = "/api/v1/event",
              method: str | None = "POST") -> TestResponse:
    headers = {**({"Origin": origin} if origin else {}),
               **({"Access-Control-Request-Method": method} if method else {}),
               "Access-Control-Request-Headers": "content-type"}
    return tracking.client.open(path + ("?" + urlencode({"TrackerKey": key}) if key else ""), method="OPTIONS",
                                headers=headers)


def test_a_preflight_from_an_allowed_origin_is_answered(tracking):
    response = preflight(tracking, tracking.key)
    assert response.status_code == 204 and response.get_data() == b""
    assert dict(response.headers) == {
        "Access-Control-Allow-Origin": SITE, "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "7200",
        "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin",
    }


@pytest.mark.parametrize("key, origin, path, method, status, code", [
    pytest.param("key", "https://evil.example", "/api/v1/event", "POST", 403, 40, id="origin-not-on-the-list"),
    pytest.param(None, SITE, "/api/v1/event", "POST", 403, 42, id="no-key-in-the-query"),
    pytest.param("otk_unknown", SITE, "/api/v1/event", "POST", 401, 99998, id="unknown-key"),
    pytest.param("key", SITE, "/api/v1/website_events.properties", "GET", 405, 23, id="properties-never"),
])
def test_other_preflights_are_refused_without_cors_headers(tracking, key, origin, path, method, status, code):
    response = preflight(tracking, tracking.key if key == "key" else key, origin, path, method)
    assert response.status_code == status
    assert response.get_json()["Errors"][0]["Code"] == code
    assert cors_of(response) == {}


def test_a_plain_options_request_gets_allow_and_nothing_of_cors(tracking):
    response = preflight(tracking, None, origin=None, method=None)
    assert response.status_code == 204 and dict(response.headers) == {"Allow": "OPTIONS, POST"}


def test_a_revoked_tracker_key_gets_401_at_once_though_the_authenticator_remembers_it(store, tmp_path):
    clock = Clock()
    alice = make_account(store)
    tracker_id, key = store.create_tracker(alice.list_id, [SITE])
    authenticator = StoreAuthenticator(store, cache_ttl=5.0, clock=clock)
    client = Client(create_app(store=store, authenticator=authenticator))

    def status() -> int:
        return client.post("/api/v1/event?TrackerKey=" + key, headers={"Origin": SITE},
                           data=json.dumps({"ListID": alice.list_id, "Event": "pageView"})).status_code

    assert status() == 200
    assert status() == 200  # remembered now: no look-up
    other_process = SQLiteStore(store.path)  # revoke-tracker from the command line, say
    assert other_process.revoke_tracker(tracker_id)
    other_process.close()
    assert status() == 401  # the revocation generation moved: nothing remembered is trusted


class HostWithoutTrackers:
    """A host's accounts that know nothing of tracker keys (no ``tracker_key`` method)."""

    def authenticate(self, api_key, session_id):
        return None

    def can_use_list(self, user_id, list_id):
        return False


def test_an_authenticator_without_tracker_keys_refuses_them(store):
    alice = make_account(store)
    key = store.create_tracker(alice.list_id, [SITE])[1]
    client = Client(create_app(store=store, authenticator=HostWithoutTrackers()))
    response = client.post("/api/v1/event?TrackerKey=" + key, headers={"Origin": SITE},
                           data=json.dumps({"ListID": alice.list_id, "Event": "pageView"}))
    assert response.status_code == 401 and store.count_events() == 0


LIMITED = {"Errors": [{"Code": 25, "Message": "Rate limit exceeded."}]}


def test_per_visitor_then_per_key_limits(store):
    tracking = build(store, tracker_visitor_rate_limit=2, tracker_rate_limit=4, rate_limit_window=60)

    def send(visitor: str) -> TestResponse:
        return tracking.event(tracking.page_view(ID=visitor), key=tracking.key)

    assert [send("runaway").status_code for _ in range(5)] == [200, 200, 429, 429, 429]
    over = send("runaway")
    assert over.get_json() == LIMITED and over.headers["Retry-After"] == "60"
    assert cors_of(over) == readable_by(SITE)  # so the script can read Retry-After
    # The runaway visitor's refused requests spent nothing of the key's budget: two more visitors fit.
    assert [send("b").status_code, send("c").status_code, send("d").status_code] == [200, 200, 429]
    assert store.count_events() == 4
    # Another key of the same list, and the owner's API key, count apart.
    other_key = store.create_tracker(tracking.alice.list_id, [SITE])[1]
    assert tracking.event(tracking.page_view(ID="e"), key=other_key).status_code == 200
    owner = tracking.event({"APIKey": tracking.alice.api_key, "ListID": tracking.alice.list_id, "Event": "x"})
    assert owner.status_code == 200
    tracking.limiter.clock.now += 60  # type: ignore[attr-defined]
    assert send("runaway").status_code == 200


def test_tracker_limits_are_off_with_0(store):
    tracking = build(store, tracker_visitor_rate_limit=0, tracker_rate_limit=0)
    assert {tracking.event(tracking.page_view(), key=tracking.key).status_code for _ in range(150)} == {200}


def test_default_tracker_limits(store):
    from test_ratelimit import SpyLimiter

    spy = SpyLimiter()
    alice = make_account(store)
    key = store.create_tracker(alice.list_id, [SITE])[1]
    client = Client(create_app(store=store, rate_limiter=spy))
    client.post("/api/v1/event?TrackerKey=" + key, headers={"Origin": SITE},
                data=json.dumps({"ListID": alice.list_id, "Event": "pageView", "ID": "v" * 255}))
    (visitor, per_visitor, window), (per_key_name, per_key, _) = spy.asked
    assert (per_visitor, per_key, window) == (120, 5000, 60.0)
    assert len(visitor) < 100 and "v" * 30 not in visitor  # a digest of the ID, whatever its length
    assert per_key_name.startswith("tracker ") and visitor.startswith(per_key_name)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from octeth_tracking import SQLiteStore

    store = SQLiteStore(tmp_path_factory.mktemp("cors") / "events.db")
    yield build(store, tracker_visitor_rate_limit=0, tracker_rate_limit=0)
    store.close()


latin1 = st.text(st.characters(max_codepoint=255, blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(origin=st.one_of(st.none(), latin1, st.sampled_from([SITE, "null", "https://a.shop.example", "https://[::1]",
                                                            "https://*.shop.example", "https://shop.example:"])),
       query=st.one_of(latin1, st.sampled_from(["TrackerKey=", "trackerkey=%00", "TrackerKey=a&TrackerKey=b", "%ff=1"])),
       key_first=st.booleans(), method=st.sampled_from(["POST", "OPTIONS"]), preflight=st.booleans())
def test_no_origin_or_query_string_makes_it_fail(hostile, origin, query, key_first, method, preflight):
    before = hostile.store.count_events()
    if key_first:
        query = f"TrackerKey={hostile.key}&{query}"
    environ = {**({"HTTP_ORIGIN": origin} if origin is not None else {}),  # raw: a header the client would refuse too
               **({"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"} if preflight else {}), "QUERY_STRING": query}
    body = json.dumps({"ListID": hostile.alice.list_id, "Event": "pageView"})
    response = hostile.client.open("/api/v1/event", method=method, data=body, environ_overrides=environ)
    assert response.status_code < 500, response.get_data()
    readable = response.headers.get("Access-Control-Allow-Origin")
    assert readable is None or (readable == origin and (origin == SITE or origin.endswith(".shop.example")))
    assert hostile.store.count_events() - before == (1 if response.status_code == 200 and method == "POST" else 0)
