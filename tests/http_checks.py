"""The one set of HTTP-level checks that standalone, Flask and Django must all pass, byte for byte.

A :class:`Site` is the API mounted at ``/api/v1`` somewhere, behind that framework's own test
client, with a way to provision an account in that site's own user records. Each test module
runs :data:`CASES` through :func:`check` against its site; passing the same expectations (status,
``Content-Type``, ``Allow``, ``Retry-After``, body bytes) makes the three answers identical.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import urlencode

import pytest
import zstandard

from octeth_tracking.errors import json_body

PREFIX = "/api/v1"
UUID = "6f3c1c9e-8a2b-4c1d-9e0f-123456789abc"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


ORIGIN = "https://shop.example"  # the site on every account's tracker key


@dataclass
class Account:
    api_key: str
    list_id: int
    tracker_key: str  # of list_id, for ORIGIN


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive, as each framework's own headers are
    body: bytes


class Site(Protocol):
    def account(self, name: str) -> Account:
        """A new user of the site, with an API key, a list and its tracker key for ORIGIN, in the site's own records."""
        ...

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer: ...


# A body or an expected answer is data, or a function of the two accounts (alice, bob).
Template = Callable[[Account, Account], Any]


@dataclass
class Request:
    method: str
    path: str | Callable[[Account, Account], str]
    body: Any = b""  # bytes as they are; anything else is sent as JSON
    headers: Mapping[str, str] | Callable[[Account, Account], Mapping[str, str]] = field(default_factory=lambda: JSON)
    prefix: str = PREFIX  # "" for the site's root (Octeth's legacy /api.php)


@dataclass
class Case:
    request: Request
    status: int
    expected: Any  # the JSON the body must serialise to, exactly as the app writes it (bytes: the body itself)
    headers: Mapping[str, str | re.Pattern[str]] = field(default_factory=dict)  # a pattern must fullmatch; unnamed: absent
    content_type: str | None = "application/json"
    options: Mapping[str, Any] = field(default_factory=dict)  # TrackingApp arguments, as settings
    before: tuple[Request, ...] = ()  # sent first, each must answer 200


def _fill(value: Any, alice: Account, bob: Account) -> Any:
    return value(alice, bob) if callable(value) else value


def _bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _send(site: Site, request: Request, alice: Account, bob: Account) -> Answer:
    body = _bytes(_fill(request.body, alice, bob))
    return site.send(request.method, request.prefix + _fill(request.path, alice, bob), body,
                     _fill(request.headers, alice, bob))


def check(site: Site, case: Case) -> None:
    alice, bob = site.account("alice"), site.account("bob")
    for request in case.before:
        assert _send(site, request, alice, bob).status == 200
    answer = _send(site, case.request, alice, bob)
    assert answer.status == case.status, answer.body
    assert answer.headers.get("Content-Type") == case.content_type
    for name in CHECKED_HEADERS:
        value, expected = answer.headers.get(name), case.headers.get(name)
        if isinstance(expected, re.Pattern):
            assert value is not None and expected.fullmatch(value), (name, value)
        else:
            assert value == expected, name
    expected = _fill(case.expected, alice, bob)
    if case.request.method == "HEAD":
        assert answer.body == b""
    else:
        body = _OCCURRED_AT.sub(b'"occurred_at":"%s"' % OCCURRED_AT.encode(), answer.body)
        assert body == (expected if isinstance(expected, bytes) else json_body(expected))


CHECKED_HEADERS = ("Allow", "Retry-After", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                   "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Expose-Headers", "Vary",
                   "ETag", "Cache-Control")


def errors(*items: tuple[int, str] | tuple[int, str, str]) -> dict[str, Any]:
    """An error answer: (code, message), or (code, message, detail) for a 422's item."""
    return {"Errors": [{"Code": item[0], "Message": item[1], **({"Detail": item[2]} if len(item) > 2 else {})}
                       for item in items]}


CONVERSION_NEEDS = '%s is required in Properties when Event is "conversion"'
LISTID_RULE = "ListID must be a whole number from 1 to 18 digits, or a string of those digits"
AUTH = errors((99998, "Authentication failure or session expired"))
NOT_FOUND = errors((22, "Not found."))


def event(**fields: Any) -> Template:
    """An event body for alice's list, with her key, plus ``fields`` (``None`` removes one)."""
    def body(alice: Account, bob: Account) -> dict[str, Any]:
        base = {"APIKey": alice.api_key, "ListID": alice.list_id, "ID": "visitor-1", "UUID": UUID, "Event": "pageView"}
        return {k: v for k, v in {**base, **fields}.items() if v is not None}
    return body


OCCURRED_AT = "<occurred_at>"  # the receive time differs by run: check() puts this in its place
_OCCURRED_AT = re.compile(rb'"occurred_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')


def success(external_id: str = "visitor-1", identify: bool = False) -> dict[str, Any]:
    return {"status": "success", "uuid": UUID, "external_id": external_id, "identify_event_sent": identify,
            "occurred_at": OCCURRED_AT}


def from_page(key: str = "tracker_key", **fields: Any) -> Template:
    """A pageView of alice's list as the script sends it: ``text/plain``, no secret."""
    def body(alice: Account, bob: Account) -> dict[str, Any]:
        base = {"ListID": alice.list_id, "ID": "visitor-1", "UUID": UUID, "Event": "pageView"}
        return {k: v for k, v in {**base, **fields}.items() if v is not None}
    return body


def tracker_path(path: str = "/event") -> Callable[[Account, Account], str]:
    return lambda alice, bob: f"{path}?TrackerKey={alice.tracker_key}"


PAGE = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}
READABLE = {"Access-Control-Allow-Origin": ORIGIN, "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"}
SCRIPT = (Path(__file__).parent.parent / "octeth_tracking" / "static" / "tracker.js").read_bytes()
def form(command: str | None, **fields: Any) -> Template:
    """A form body for ``/api.php`` with alice's key and list, then ``fields`` (pairs already in bracket notation)."""
    def body(alice: Account, bob: Account) -> bytes:
        base = {"Command": command, "APIKey": alice.api_key, "ListID": str(alice.list_id)}
        pairs = {k: v(alice, bob) if callable(v) else v for k, v in {**base, **fields}.items() if v is not None}
        return urlencode(pairs).encode()
    return body


def api_php(body: Template, status: int, expected: Any, root: bool = False, **headers: str) -> Case:
    return Case(Request("POST", "/api.php", body, {**FORM, **headers}, prefix="" if root else PREFIX), status, expected)


IDENTIFY_FORM = {"Event": "identify", "Email": "jane@example.com", "ID": "visitor-1", "UUID": UUID,
                 "IdentifyProperties[First-Name]": "Jane", "IdentifyProperties[CustomField734]": "Gold"}


def own_list(alice: Account, bob: Account) -> dict[str, Any]:
    return {"APIKey": alice.api_key, "ListID": alice.list_id}


def properties(found: dict[str, list[str]]) -> Template:
    return lambda alice, bob: {"ListID": str(alice.list_id), "Properties": found}


def compressed(encode: Callable[[bytes], bytes], body: Template) -> Template:
    """``body`` (JSON, or bytes as they are) compressed by ``encode``."""
    return lambda alice, bob: encode(_bytes(_fill(body, alice, bob)))


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


def encoded(name: str) -> Mapping[str, str]:
    return {**JSON, "Content-Encoding": name}


BOMB = gzip.compress(b'{"Properties": {"a": "' + b" " * 10_000_000 + b'"}}')  # 10 MB, about 10 kB compressed
TOO_LARGE = errors((24, "Request body is too large."))
BATCH_ANSWER = {"status": "success", "Stored": 1, "Duplicates": 0, "Refused": 1, "Events": [
    {"Index": 0, **success(), "duplicate": False},
    {"Index": 1, "Errors": [{"Code": 5, "Message": "Missing event parameter.", "Detail": "Event must not be empty"}],
     "Retryable": False}]}

CASES = [
    # Success, by each way of presenting an API key.
    pytest.param(Case(Request("POST", "/event", event()), 200, success()), id="event"),
    pytest.param(Case(Request("POST", "/event", event(Email="Ann@Example.com", Event="identify")),
                      200, success(identify=True)), id="event-identify"),
    pytest.param(Case(Request("POST", "/event", event(APIKey=None),
                              lambda a, b: {**JSON, "Authorization": f"Bearer {a.api_key}"}),
                      200, success()), id="event-bearer-header"),
    pytest.param(Case(Request("POST", "/event", lambda a, b: {
        "apikey": a.api_key, "LISTID": str(a.list_id), "event": "pageView", "id": "visitor-1", "uuid": UUID}),
        200, success()), id="event-lowercase-names"),
    # Authentication failures.
    pytest.param(Case(Request("POST", "/event", event(APIKey=None)), 401, AUTH), id="no-credentials"),
    pytest.param(Case(Request("POST", "/event", event(APIKey="not-a-key")), 401, AUTH), id="unknown-api-key"),
    pytest.param(Case(Request("POST", "/event", event(APIKey=None, SessionID="nosuchsession0000000000000000000")),
                      401, AUTH), id="unknown-session"),
    pytest.param(Case(Request("POST", "/event", event(APIKey=None), {**JSON, "Authorization": "Bearer nope"}),
                      401, AUTH), id="unknown-bearer"),
    pytest.param(Case(Request("POST", "/website_events.properties", {"ListID": 1}), 401, AUTH),
                 id="properties-no-credentials"),
    # Validation (422): codes from the schemas, several at once, another user's list.
    pytest.param(Case(Request("POST", "/event", lambda a, b: event(ListID=b.list_id)(a, b)),
                      422, errors((4, "Invalid ListID parameter", "ListID names none of your lists"))), id="event-others-list"),
    pytest.param(Case(Request("POST", "/event", event(Event=None)), 422, errors((5, "Missing event parameter.", "Event is required"))),
                 id="event-missing-event"),
    pytest.param(Case(Request("POST", "/event", event(Event="identify")), 422, errors((6, "Missing email parameter.", 'Email is required when Event is "identify" (or an ID that is an email hash: 64 hexadecimal characters)'))),
                 id="identify-without-email"),
    pytest.param(Case(Request("POST", "/event", event(Email="not an address")), 422,
                      errors((7, "Invalid email parameter.",
                             "Email is not a valid address: An email address must have an @-sign."))), id="invalid-email"),
    pytest.param(Case(Request("POST", "/event", event(Event="conversion", UUID="nope", Properties={})), 422, errors(
        (8, "Missing conversion-id event property.", CONVERSION_NEEDS % "conversion-id"),
        (9, "Missing conversion-name event property.", CONVERSION_NEEDS % "conversion-name"),
        (10, "Missing conversion-value event property.", CONVERSION_NEEDS % "conversion-value"),
        (11, "Invalid UUID parameter.", "UUID must be a string of hexadecimal digits grouped 8-4-4-4-12"))), id="several-codes"),
    # Bodies that are not a JSON object.
    pytest.param(Case(Request("POST", "/event", b'{"APIKey": '), 400, errors((20, "Request body is not valid JSON."))),
                 id="bad-json"),
    pytest.param(Case(Request("POST", "/website_events.properties", b"[]"), 400,
                      errors((21, "Request body must be a JSON object."))), id="json-array"),
    # Routing under the prefix: the API's JSON, never the host's page, redirect or CSRF refusal.
    pytest.param(Case(Request("POST", "/nope", b"{}"), 404, NOT_FOUND), id="post-unknown-path"),
    pytest.param(Case(Request("GET", "/nope/deeper"), 404, NOT_FOUND), id="get-unknown-path"),
    pytest.param(Case(Request("POST", "/event/", event()), 404, NOT_FOUND), id="trailing-slash"),
    pytest.param(Case(Request("GET", "/"), 404, NOT_FOUND), id="prefix-root"),
    pytest.param(Case(Request("GET", "/event"), 405, errors((23, "Method not allowed.")), {"Allow": "OPTIONS, POST"}),
                 id="get-event-405"),
    pytest.param(Case(Request("DELETE", "/website_events.properties"), 405, errors((23, "Method not allowed.")),
                      {"Allow": "GET, HEAD, POST"}), id="delete-properties-405"),
    pytest.param(Case(Request("POST", "/event", b"{" + b" " * 70_000 + b"}"), 413,
                      errors((24, "Request body is too large."))), id="body-over-default-limit"),
    pytest.param(Case(Request("POST", "/event", event(Properties={"note": "x" * 200})), 413,
                      errors((24, "Request body is too large.")), options={"max_body_size": 100}),
                 id="body-over-configured-limit"),
    pytest.param(Case(Request("POST", "/event", event()), 422, errors((12, "Event parameter is too long.", "Event must be at most 3 characters")),
                      options={"max_event_length": 3}), id="configured-event-length"),
    # The properties endpoint.
    pytest.param(Case(Request("POST", "/website_events.properties", own_list), 200, properties({})),
                 id="properties-empty"),
    pytest.param(Case(Request("POST", "/website_events.properties", own_list), 200,
                      properties({"pageView": ["b", "url"], "signup": []}),
                      before=(Request("POST", "/event", event(Properties={"url": "/", "b": 1})),
                              Request("POST", "/event", event(Event="signup", UUID=None)))),
                 id="properties-after-events"),
    pytest.param(Case(Request("GET", lambda a, b: f"/website_events.properties?APIKey={a.api_key}&ListID={a.list_id}"),
                      200, properties({})), id="properties-get-query"),
    pytest.param(Case(Request("HEAD", lambda a, b: f"/website_events.properties?APIKey={a.api_key}&ListID={a.list_id}"),
                      200, properties({})), id="properties-head"),
    pytest.param(Case(Request("POST", "/website_events.properties", lambda a, b: {"APIKey": a.api_key}), 422,
                      errors((1, "Missing ListID parameter", "ListID is required"))), id="properties-missing-list"),
    pytest.param(Case(Request("POST", "/website_events.properties", lambda a, b: {"APIKey": a.api_key, "ListID": "x"}),
                      422, errors((2, "Invalid ListID parameter", LISTID_RULE))), id="properties-invalid-list"),
    pytest.param(Case(Request("POST", "/website_events.properties", lambda a, b: {"APIKey": a.api_key, "ListID": b.list_id}),
                      422, errors((3, "List not found", "ListID names none of your lists"))), id="properties-others-list"),
    pytest.param(Case(Request("POST", "/website_events.properties", own_list), 429, errors((25, "Rate limit exceeded.")),
                      {"Retry-After": re.compile(r"99\d|1000")}, options={"properties_rate_limit": 1, "rate_limit_window": 1000},
                      before=(Request("POST", "/website_events.properties", own_list),)), id="rate-limited"),
    # Web pages, with the list's tracker key: readable by its origin only, never with a secret.
    pytest.param(Case(Request("POST", tracker_path(), from_page(), PAGE), 200, success(), READABLE),
                 id="tracker-key-in-the-query"),
    pytest.param(Case(Request("POST", "/event", lambda a, b: from_page(TrackerKey=a.tracker_key)(a, b), PAGE),
                      200, success(), READABLE), id="tracker-key-in-the-body"),
    pytest.param(Case(Request("POST", tracker_path(), lambda a, b: from_page(ListID=b.list_id)(a, b), PAGE),
                      422, errors((4, "Invalid ListID parameter", "ListID names none of your lists")), READABLE), id="tracker-key-others-list"),
    pytest.param(Case(Request("POST", tracker_path(), from_page(), {**PAGE, "Origin": "https://evil.example"}),
                      403, errors((40, "Origin is not allowed for this tracker key."))), id="tracker-key-other-origin"),
    pytest.param(Case(Request("POST", tracker_path(), from_page(), {"Content-Type": "text/plain"}), 403,
                      errors((41, "This tracker key is for web pages only: the request has no Origin."))),
                 id="tracker-key-no-origin"),
    pytest.param(Case(Request("POST", "/event", event(), {**JSON, "Origin": ORIGIN}), 200, success()),
                 id="api-key-from-a-page-not-readable"),
    pytest.param(Case(Request("OPTIONS", tracker_path(), b"", {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}),
                      204, b"", {**READABLE, "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers":
                                 "Content-Type", "Access-Control-Max-Age": "7200"}, content_type=None), id="preflight"),
    pytest.param(Case(Request("OPTIONS", "/event", b"", {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}),
                      403, errors((42, "A preflight request must name its TrackerKey in the query string."))),
                 id="preflight-without-key"),
    pytest.param(Case(Request("GET", "/tracker.js", b"", {}), 200, SCRIPT, {
        "ETag": f'"{hashlib.sha256(SCRIPT).hexdigest()[:20]}"', "Cache-Control": "public, max-age=3600",
        "Vary": "Accept-Encoding"}, content_type="text/javascript; charset=utf-8"), id="tracker-script"),
    # Command on the /api/v1 routes: optional, and if present it names the route.
    pytest.param(Case(Request("POST", "/event", event(Command="event.track")), 200, success()), id="event-command"),
    pytest.param(Case(Request("POST", "/event", event(Command="website_events.properties")), 422,
                      errors((71, "Invalid Command parameter.", 'Command, if given, must be "event.track" on this endpoint'))), id="event-command-mismatch"),
    pytest.param(Case(Request("POST", "/event", event(Event="identify", Email="a@example.com", IdentifyProperties=["x"])),
                      422, errors((70, "Invalid IdentifyProperties parameter.", "IdentifyProperties must be an object"))), id="identify-properties-not-an-object"),
    pytest.param(Case(Request("POST", "/event", event(Event="identify", ID="ab" * 32)), 200, success("ab" * 32)),
                 id="identify-by-an-email-hash-that-matches-nobody"),
    # POST /api.php: form bodies, answered as the JSON routes answer; under the prefix and at the site root.
    pytest.param(api_php(form("event.track", Event="pageView", ID="visitor-1", UUID=UUID, **{"Properties[url]": "/"}),
                         200, success()), id="api-php-event"),
    pytest.param(api_php(form("event.track", **IDENTIFY_FORM), 200, success(identify=True), root=True),
                 id="api-php-identify-at-root"),
    pytest.param(api_php(form("website_events.properties"), 200, properties({}), root=True), id="api-php-properties-at-root"),
    pytest.param(api_php(form("event.track", Event="pageView", ListID=lambda a, b: str(b.list_id)), 422,
                         errors((4, "Invalid ListID parameter", "ListID names none of your lists"))), id="api-php-others-list"),
    pytest.param(api_php(form(None), 422, errors((72, "Missing Command parameter.", "Command is required on /api.php: event.track or website_events.properties"))), id="api-php-no-command"),
    pytest.param(api_php(form("subscribers.get"), 422, errors((71, "Invalid Command parameter.", "Command must name an endpoint: event.track or website_events.properties")), root=True),
                 id="api-php-unknown-command"),
    pytest.param(api_php(form("event.track", APIKey=None), 401, AUTH), id="api-php-no-credentials"),
    pytest.param(api_php(lambda a, b: b"Command=event.track&x=%ff", 400, errors((73, "Request body is not a valid form."))),
                 id="api-php-not-utf-8"),
    pytest.param(api_php(lambda a, b: event()(a, b) | {"Command": "event.track"}, 200, success(), **JSON), id="api-php-json"),
    pytest.param(Case(Request("GET", "/api.php", prefix=""), 405, errors((23, "Method not allowed.")), {"Allow": "POST"}),
                 id="api-php-get-405"),
    # Compressed bodies (compression.py): every POST route, JSON and forms; the limit is the decompressed size's.
    pytest.param(Case(Request("POST", "/event", compressed(gzip.compress, event()), encoded("gzip")), 200, success()),
                 id="gzip"),
    pytest.param(Case(Request("POST", "/event", compressed(zlib.compress, event()), encoded("deflate")), 200, success()),
                 id="deflate"),
    pytest.param(Case(Request("POST", "/event", compressed(raw_deflate, event()), encoded("Deflate")), 200, success()),
                 id="raw-deflate"),
    pytest.param(Case(Request("POST", "/event", compressed(zstandard.compress, event()), encoded("zstd")), 200, success()),
                 id="zstd"),
    pytest.param(Case(Request("POST", "/event", compressed(gzip.compress, event()), encoded("identity, gzip")), 200,
                      success()), id="identity-then-gzip"),
    pytest.param(Case(Request("POST", "/website_events.properties", compressed(gzip.compress, own_list), encoded("gzip")),
                      200, properties({})), id="gzip-properties"),
    pytest.param(api_php(compressed(gzip.compress, form("event.track", Event="pageView", ID="visitor-1", UUID=UUID)),
                         200, success(), **{"Content-Encoding": "gzip"}), id="gzip-api-php-form"),
    pytest.param(Case(Request("POST", "/event", compressed(gzip.compress, event()), encoded("br")), 415,
                      errors((30, "Unsupported Content-Encoding."))), id="unknown-encoding-415"),
    pytest.param(Case(Request("POST", "/event", lambda a, b: gzip.compress(_bytes(event()(a, b)))[:-9], encoded("gzip")),
                      400, errors((31, "Request body could not be decompressed."))), id="truncated-gzip-400"),
    pytest.param(Case(Request("POST", "/event", b"not deflate at all", encoded("deflate")), 400,
                      errors((31, "Request body could not be decompressed."))), id="corrupt-deflate-400"),
    pytest.param(Case(Request("POST", "/event", BOMB, encoded("gzip")), 413, TOO_LARGE), id="gzip-bomb-413"),
    pytest.param(Case(Request("POST", "/event", compressed(gzip.compress, event(Properties={"note": "x" * 200})),
                      encoded("gzip")), 413, TOO_LARGE, options={"max_body_size": 200}), id="gzip-decompressed-past-limit-413"),
    # POST /events.batch (batch.py): the same answers through every adapter.
    pytest.param(Case(Request("POST", "/events.batch", lambda a, b: {"APIKey": a.api_key, "ListID": a.list_id, "Events": [
        {"Event": "pageView", "ID": "visitor-1", "UUID": UUID}, {"Event": ""}]}), 200, BATCH_ANSWER), id="batch"),
    pytest.param(Case(Request("POST", "/events.batch", compressed(gzip.compress, lambda a, b: {
        "APIKey": a.api_key, "ListID": a.list_id, "Events": [{"Event": "pageView", "ID": "visitor-1", "UUID": UUID},
                                                             {"Event": ""}]}), encoded("gzip")), 200, BATCH_ANSWER),
                 id="batch-gzip"),
    pytest.param(Case(Request("POST", tracker_path("/events.batch"), lambda a, b: {
        "ListID": a.list_id, "Events": [{"Event": "pageView", "ID": "visitor-1", "UUID": UUID}, {"Event": ""}]}, PAGE),
        200, BATCH_ANSWER, READABLE), id="batch-tracker-key"),
    pytest.param(Case(Request("OPTIONS", tracker_path("/events.batch"), b"", {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}),
                      204, b"", {**READABLE, "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers":
                                 "Content-Type", "Access-Control-Max-Age": "7200"}, content_type=None), id="batch-preflight"),
    pytest.param(Case(Request("POST", "/events.batch", lambda a, b: {"APIKey": a.api_key, "ListID": a.list_id}), 422,
                      errors((54, "Missing Events parameter.", "Events is required"))), id="batch-no-events-422"),
    pytest.param(Case(Request("POST", "/events.batch", lambda a, b: {"APIKey": a.api_key, "Events": [{"Event": "x"}] * 3}),
                      422, errors((55, "Invalid Events parameter.", "Events must hold at most 2 items")),
                      options={"max_batch_events": 2}), id="batch-too-many-422"),
    pytest.param(Case(Request("POST", "/events.batch", lambda a, b: {"APIKey": a.api_key, "Events": [{"Event": "x" * 200}]}),
                      413, TOO_LARGE, options={"max_batch_body_size": 100}), id="batch-body-413"),
]
