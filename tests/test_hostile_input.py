"""Nothing a client sends makes the API fail: property-based tests against both endpoints.

Every example goes through the whole WSGI app in process, as a raw environ (so the body,
``Content-Type`` and ``Content-Length`` can lie). For every one: no 5xx, a JSON answer
in the ``Errors`` shape or the endpoint's success shape, and a rejected request leaves
every table of the database exactly as it was. Most examples carry a valid account's
credentials, so they get past 401 into parsing and validation.
"""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

import reliability
from conftest import Account, make_account
from octeth_tracking import SQLiteStore, create_app

# How many examples: the run's scale (tests/reliability.py), split 6:3:2 between the three tests
# (1,100 in all for a plain pytest, 100,100 for the report's full scale).
SHARE = reliability.scale().hostile_examples / 11
# Big, slow examples are the point here: the health checks that flag them would only make CI flaky.
HOSTILE = settings(max_examples=round(6 * SHARE), deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example, HealthCheck.filter_too_much])
TABLES = ("events", "event_types", "event_properties", "subscribers", "visitor_links",
          "users", "lists", "api_keys", "sessions", "custom_fields", "subscriber_fields")
PATHS = {"event": "/api/v1/event", "properties": "/api/v1/website_events.properties"}


@dataclass
class World:
    app: Any
    db: sqlite3.Connection
    alice: Account
    bob: Account
    session_id: str

    def footprint(self) -> tuple[int, ...]:
        """Row counts of every table: a rejected request must leave them all unchanged."""
        return tuple(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("hostile") / "events.db"
    store = SQLiteStore(path)
    alice, bob = make_account(store, "alice"), make_account(store, "bob")
    store.create_custom_field(alice.list_id, "First name", "First-Name", unique_identifier=True)
    session_id = store.create_session(alice.user_id, ttl=3600)
    db = sqlite3.connect(path, isolation_level=None)
    # Rate limits off: thousands of examples from one user must reach validation, not 429.
    yield World(create_app(store=store, event_rate_limit=0, properties_rate_limit=0), db, alice, bob, session_id)
    db.close()
    store.close()


# -- strategies --

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)

# Raw JSON value texts that json.dumps would never produce.
raw_literals = st.sampled_from([
    "NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 5000, "9" * 400 + ".5",
    '"\\ud800"', '"\\udfff\\ud800"', '"\x00"', '"\\u0000"', '"a\x01b"', "tru", "nul", "01", "1.", ".5",
    '"' + "x" * 70_000 + '"', "[" * 5000, "{" * 3000, '{"a":' * 100 + "1" + "}" * 100,
])


def name_casings(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper(), name.swapcase()])


@st.composite
def parameters(draw: st.DrawFn, world: World, endpoint: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """A body's (name, raw JSON value) pairs, and request headers: mostly plausible, often wrong."""
    pairs: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    alice, bob = world.alice, world.bob

    def value(*plausible: Any) -> str:
        """Mostly a plausible value, often any JSON value, now and then a literal that is not JSON."""
        # Hypothesis favours small draws: 0 must be the valid value, so examples reach validation.
        roll = draw(st.integers(0, 19))
        if roll <= 7:
            return json.dumps(plausible[0])  # the first plausible value is a valid one
        if roll <= 13:
            return json.dumps(draw(st.sampled_from(plausible)))
        if roll <= 18:
            return draw(json_values.map(json.dumps))
        return draw(raw_literals)

    credential = draw(st.sampled_from(["apikey"] * 4 + ["session", "bearer"] * 2 + ["bob", "wrong", "none"]))
    if credential == "apikey":
        pairs.append((draw(name_casings("APIKey")), json.dumps(alice.api_key)))
    elif credential == "session":
        pairs.append((draw(name_casings("SessionID")), json.dumps(world.session_id)))
    elif credential == "bearer":
        headers["Authorization"] = draw(st.sampled_from(["Bearer ", "bearer ", "BEARER  "])) + alice.api_key
    elif credential == "bob":
        pairs.append(("APIKey", json.dumps(bob.api_key)))
    elif credential == "wrong":
        pairs.append((draw(st.sampled_from(["APIKey", "SessionID"])), value(alice.api_key + "x", "", None)))
        if draw(st.booleans()):
            headers["Authorization"] = draw(st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t))

    if draw(st.integers(0, 9)) < 9:
        pairs.append((draw(name_casings("ListID")), value(alice.list_id, str(alice.list_id), bob.list_id, 9999, 0, -1)))
    if endpoint == "event":
        if draw(st.integers(0, 9)) < 9:
            pairs.append((draw(name_casings("Event")), value("pageView", "identify", "conversion", "x" * 256, "")))
        for name, plausible in [
            ("Email", ("a@example.com", "not-an-email", "", "A@Example.COM")),
            ("UUID", ("13f8e79a-f063-4b80-10e4-b65a699a2f56", "13F8E79A-F063-4B80-10E4-B65A699A2F56", "nope")),
            ("ID", ("visitor-1", 42, "", "v" * 256, "ab" * 32)),
            ("IdentifyProperties", ({"First-Name": "Jo"}, {"customfield1": 2, "x": None}, {"a": {"b": 1}}, [], "x")),
        ]:
            if draw(st.booleans()):
                pairs.append((draw(name_casings(name)), value(*plausible)))
        if draw(st.booleans()):
            properties = draw(st.one_of(
                st.dictionaries(st.text(max_size=20), json_values, max_size=6),
                st.fixed_dictionaries({"isTest": st.just(True)}, optional={"k": json_values}),
                st.fixed_dictionaries({"conversion-id": json_values, "conversion-name": json_values,
                                       "conversion-value": json_values}),
            ))
            pairs.append((draw(name_casings("Properties")), value(properties)))
    pairs += [(k, json.dumps(v)) for k, v in draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3)).items()]
    if pairs and draw(st.integers(0, 4)) == 4:
        pairs.append(draw(st.sampled_from(pairs)))  # a duplicate key (the last one wins in Python's json)
    return draw(st.permutations(pairs)), headers


def render(pairs: list[tuple[str, str]]) -> bytes:
    text = "{" + ", ".join(f"{json.dumps(name)}: {raw}" for name, raw in pairs) + "}"
    return text.encode("utf-8", "surrogatepass")


@st.composite
def corrupt(draw: st.DrawFn, body: bytes) -> bytes:
    """The body, or a damaged copy: truncated, or with bytes (invalid UTF-8, NUL, ...) spliced in."""
    how = draw(st.sampled_from(["none"] * 12 + ["truncate", "splice", "replace"]))
    if how == "none" or not body:
        return body
    at = draw(st.integers(0, len(body)))
    if how == "truncate":
        return body[:at]
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf", b"\\", b'"', b"}"])
                | st.binary(min_size=1, max_size=8))
    return body[:at] + junk + body[at + (len(junk) if how == "replace" else 0):]


content_types = st.sampled_from([
    "application/json", "application/json", "application/json; charset=latin-1", "text/plain",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "", None, "\x00/\x00",
])
# How CONTENT_LENGTH relates to the body actually sent: honest, absent, or lying either way.
length_lies = st.sampled_from(["honest"] * 12 + ["missing", "more", "fewer", "garbage"])


def send(world: World, method: str, path: str, body: bytes, content_type: str | None, length: str,
         headers: dict[str, str], query_string: str = "", delta: int = 1) -> tuple[int, dict[str, str], bytes]:
    environ = EnvironBuilder(path=path, method=method, headers=headers, query_string=query_string).get_environ()
    environ["wsgi.input"] = io.BytesIO(body)
    environ.pop("CONTENT_TYPE", None)
    environ.pop("CONTENT_LENGTH", None)
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    declared = {"honest": len(body), "more": len(body) + delta, "fewer": max(0, len(body) - delta),
                "garbage": "-1" if delta % 2 else "12abc", "missing": None}[length]
    if declared is not None:
        environ["CONTENT_LENGTH"] = str(declared)
    app_iter, status, response_headers = run_wsgi_app(world.app, environ, buffered=True)
    return int(status.split()[0]), dict(response_headers), b"".join(app_iter)


def check(world: World, endpoint: str, method: str, before: tuple[int, ...],
          status: int, headers: dict[str, str], payload: bytes) -> None:
    """The answer is well-formed; a rejected request wrote nothing."""
    reliability.count("hostile_requests")
    reliability.count("hostile_5xx", status >= 500)
    reliability.count("hostile_rejected", 400 <= status < 500)
    well_formed = headers.get("Content-Type") == "application/json" and (
        method == "HEAD" or (success_shape(endpoint, json.loads(payload)) if status == 200 else errors_shape(json.loads(payload), status))
    )
    reliability.count("hostile_bad_shape", not well_formed)
    after = world.footprint()
    reliability.count("hostile_rejected_writes", status != 200 and after != before)
    assert status < 500, payload
    assert status in (200, 400, 401, 404, 405, 413, 422), status
    assert well_formed, payload
    if status != 200:
        assert after == before, "a rejected request changed the database"


def errors_shape(body: Any, status: int) -> bool:
    """``{"Errors": [...]}``, codes ascending, each item a Code and Message (and, in a 422, a Detail)."""
    if not (isinstance(body, dict) and list(body) == ["Errors"] and isinstance(body["Errors"], list) and body["Errors"]):
        return False
    errors = body["Errors"]
    fields = ["Code", "Detail", "Message"] if status == 422 else ["Code", "Message"]
    if not all(isinstance(e, dict) and sorted(e) == fields and type(e["Code"]) is int
               and all(isinstance(e[text], str) and e[text] for text in fields[1:]) for e in errors):
        return False
    codes = [e["Code"] for e in errors]
    return codes == sorted(set(codes))


def success_shape(endpoint: str, body: Any) -> bool:
    if endpoint == "event":
        return (isinstance(body, dict) and sorted(body) == ["external_id", "identify_event_sent", "occurred_at", "status", "uuid"]
                and body["status"] == "success" and isinstance(body["uuid"], str) and isinstance(body["external_id"], str)
                and isinstance(body["identify_event_sent"], bool))
    return (isinstance(body, dict) and sorted(body) == ["ListID", "Properties"] and str(body["ListID"]).isdigit()
            and isinstance(body["Properties"], dict)
            and all(isinstance(v, list) and all(isinstance(p, str) for p in v) for v in body["Properties"].values()))


@HOSTILE
@given(data=st.data(), endpoint=st.sampled_from(["event", "properties"]), content_type=content_types,
       length=length_lies, delta=st.integers(1, 100))
def test_json_bodies_with_wrong_parameters(world: World, data: st.DataObject, endpoint: str,
                                           content_type: str | None, length: str, delta: int) -> None:
    pairs, headers = data.draw(parameters(world, endpoint))
    body = data.draw(corrupt(render(pairs)))
    before = world.footprint()
    status, response_headers, payload = send(world, "POST", PATHS[endpoint], body, content_type, length, headers, delta=delta)
    check(world, endpoint, "POST", before, status, response_headers, payload)


@settings(HOSTILE, max_examples=round(3 * SHARE))
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
       endpoint=st.sampled_from(["event", "properties"]), method=st.sampled_from(["POST", "POST", "PUT", "GET"]),
       content_type=content_types, length=length_lies, delta=st.integers(1, 100_000))
def test_arbitrary_bytes(world: World, body: bytes, endpoint: str, method: str, content_type: str | None,
                         length: str, delta: int) -> None:
    before = world.footprint()
    status, headers, payload = send(world, method, PATHS[endpoint], body, content_type, length, {}, delta=delta)
    check(world, endpoint, method, before, status, headers, payload)


@settings(HOSTILE, max_examples=round(2 * SHARE))
@given(data=st.data(), method=st.sampled_from(["GET", "HEAD"]))
def test_query_strings_on_properties(world: World, data: st.DataObject, method: str) -> None:
    pairs, headers = data.draw(parameters(world, "properties"))
    # Query values are text: strip one level of JSON quoting when there is one, else send the raw text.
    fields = [(name.encode("utf-8", "surrogatepass"), raw[1:-1].encode("utf-8", "surrogatepass")
               if raw.startswith('"') and raw.endswith('"') else raw.encode("utf-8", "surrogatepass")) for name, raw in pairs]
    fields += data.draw(st.lists(st.tuples(st.binary(max_size=6), st.binary(max_size=12)), max_size=3))
    query = "&".join(quote_from_bytes(k) + "=" + quote_from_bytes(v) for k, v in fields)
    if data.draw(st.booleans()):
        query += data.draw(st.sampled_from(["&", "&&=", "%", "%zz", "%ff%fe", "%00", "=x", "+" * 5]))
    before = world.footprint()
    status, response_headers, payload = send(world, method, PATHS["properties"], b"", None, "missing", headers, query)
    check(world, "properties", method, before, status, response_headers, payload)


def form_fields(name: str, value: Any) -> list[tuple[str, str]]:
    """A JSON value as a PHP client's form fields: objects in brackets, lists with [], scalars as text."""
    if isinstance(value, dict):
        return [pair for key, inner in value.items() for pair in form_fields(f"{name}[{key}]", inner)]
    if isinstance(value, list):
        return [pair for inner in value for pair in form_fields(f"{name}[]", inner)]
    return [(name, value if isinstance(value, str) else json.dumps(value))]


@settings(HOSTILE, max_examples=400)
@given(data=st.data(), endpoint=st.sampled_from(["event", "properties"]),
       command=st.sampled_from(["event.track", "website_events.properties"] * 4 + ["", "nope", "EVENT.TRACK"]),
       content_type=st.sampled_from(["application/x-www-form-urlencoded"] * 6 + ["", None, "text/plain",
                                    "multipart/form-data; boundary=zz", "application/json"]),
       length=length_lies, delta=st.integers(1, 100))
def test_form_bodies_on_api_php(world: World, data: st.DataObject, endpoint: str, command: str,
                                content_type: str | None, length: str, delta: int) -> None:
    pairs, headers = data.draw(parameters(world, endpoint))
    fields: list[tuple[str, str]] = [("Command", command)]
    for name, raw in pairs:
        try:
            fields += form_fields(name, json.loads(raw))
        except (ValueError, RecursionError):
            fields.append((name, raw))  # a literal that is not JSON (or too deep to read): sent as its text
    body = urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in fields]).encode()
    if data.draw(st.booleans()):
        body += data.draw(st.sampled_from([b"&", b"&&=", b"%", b"%zz", b"%ff%fe", b"%00", b"=x", b"[", b"a[b][=1", b"c[]]=2"]))
    body = data.draw(corrupt(body))
    before = world.footprint()
    status, response_headers, payload = send(world, "POST", "/api/v1/api.php", body, content_type, length, headers, delta=delta)
    check(world, "event" if command == "event.track" else "properties", "POST", before, status, response_headers, payload)
