"""Every size limit: configurable, with a default, exact at its edge; names are data, never code."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from typing import Any, Callable

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

import reliability
from conftest import API, codes
from octeth_tracking import create_app
from octeth_tracking.schemas import schema_limits

DEFAULTS = schema_limits("event")


def nested(depth: int) -> dict[str, Any]:
    """``Properties`` that are ``depth`` levels deep (the object itself is level 1)."""
    value: Any = 1
    for level in range(depth - 1):
        value = {"a": value} if level % 2 else [value]
    return {"a": value}


# (TrackingApp argument, Properties or Event of size n, the code past the edge)
LIMITS = [
    pytest.param("max_event_length", lambda n: {"Event": "e" * n}, 12, id="event-name"),
    pytest.param("max_properties", lambda n: {"Properties": {f"p{i}": i for i in range(n)}}, 15, id="key-count"),
    pytest.param("max_property_name_length", lambda n: {"Properties": {"k" * n: 1}}, 16, id="key-length"),
    pytest.param("max_properties_depth", lambda n: {"Properties": nested(n)}, 14, id="depth"),
    pytest.param("max_string_length", lambda n: {"Properties": {"s": "v" * n}}, 17, id="string-length"),
    pytest.param("max_string_length", lambda n: {"Properties": {"s": [{"t": ["v" * n]}]}}, 17, id="nested-string-length"),
]


def test_defaults_are_the_documented_ones():
    assert DEFAULTS == {"max_event_length": 255, "max_properties": 200, "max_property_name_length": 255,
                        "max_properties_depth": 8, "max_string_length": 8192}


@pytest.mark.parametrize("configured", [pytest.param(True, id="configured"), pytest.param(False, id="default")])
@pytest.mark.parametrize("option, build, code", LIMITS)
def test_limit_holds_at_its_edge_and_refuses_one_past_it(store, account, option: str,
                                                          build: Callable[[int], dict[str, Any]], code: int, configured: bool):
    # A configured value on either side of the default: a smaller one, and for the name a larger one.
    limit = {"max_property_name_length": 300, "max_properties_depth": 3}.get(option, 5) if configured else DEFAULTS[option]
    api = API(create_app(store=store, **({option: limit} if configured else {})))
    base = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"}
    at_edge = api.event({**base, **build(limit)})
    assert at_edge.status_code == 200, at_edge.get_json()
    stored = store.count_events()
    past_edge = api.event({**base, **build(limit + 1)})
    assert (past_edge.status_code, codes(past_edge)) == (422, [code])
    assert store.count_events() == stored
    reliability.count("limit_cases", 2)


def send_raw(app: Any, stream: io.RawIOBase, content_length: str | None) -> tuple[int, dict[str, Any]]:
    environ = EnvironBuilder(path="/api/v1/event", method="POST").get_environ()
    environ["wsgi.input"] = stream
    environ.pop("CONTENT_LENGTH", None)
    if content_length is None:
        environ["wsgi.input_terminated"] = True  # a chunked body: the server says where it ends
    else:
        environ["CONTENT_LENGTH"] = content_length
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(body))


class Endless(io.RawIOBase):
    """A body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[:] = b" " * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


@pytest.mark.parametrize(
    "content_length, status, most_read",
    [
        pytest.param(None, 413, 1001 + 64 * 1024, id="chunked-endless"),
        pytest.param(str(10**12), 413, 0, id="declared-huge"),
        pytest.param("1001", 413, 0, id="declared-one-past"),
        pytest.param("50", 400, 50, id="declared-small-lie"),
    ],
)
def test_endless_body_is_never_read_past_the_limit(store, content_length, status, most_read):
    stream = Endless()
    got, answer = send_raw(create_app(store=store, max_body_size=1000), stream, content_length)
    assert (got, answer["Errors"][0]["Code"]) == (status, 24 if status == 413 else 20)
    assert stream.read_bytes <= most_read
    reliability.count("limit_cases")


class Trickle(io.RawIOBase):
    """A chunked body that arrives a few bytes per read, as a slow client's would."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece, self.data = self.data[:min(7, len(buffer))], self.data[min(7, len(buffer)):]
        buffer[:len(piece)] = piece
        return len(piece)


def send_body(app: Any, body: str, chunked: bool) -> tuple[int, dict[str, Any]]:
    if chunked:
        return send_raw(app, Trickle(body.encode()), None)
    response = API(app).event(body)
    return response.status_code, response.get_json()


@pytest.mark.parametrize("chunked", [pytest.param(False, id="content-length"), pytest.param(True, id="chunked-trickle")])
@pytest.mark.parametrize("limit", [pytest.param(300, id="configured"), pytest.param(64 * 1024, id="default")])
def test_body_size_edge(store, account, limit, chunked):
    app = create_app(store=store) if limit == 64 * 1024 else create_app(store=store, max_body_size=limit)
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})
    padded = body[:-1] + " " * (limit - len(body)) + "}"  # JSON whitespace: the body stays valid
    assert len(padded) == limit and send_body(app, padded, chunked)[0] == 200
    status, answer = send_body(app, " " + padded, chunked)
    assert (status, answer["Errors"][0]["Code"]) == (413, 24)
    assert store.count_events() == 1
    reliability.count("limit_cases", 2)


HOSTILE_NAMES = [
    pytest.param('"); DROP TABLE events;--', id="sql-injection"),
    pytest.param("' OR '1'='1", id="sql-quote"),
    pytest.param("$__proto__", id="dollar-proto"),
    pytest.param("__proto__", id="proto"),
    pytest.param("constructor", id="constructor"),
    pytest.param("\u0000", id="nul"),
    pytest.param("a\u0000b", id="embedded-nul"),
    pytest.param("<script>alert(1)</script>", id="markup"),
    pytest.param("${jndi:ldap://127.0.0.1/a}", id="template"),
    pytest.param("%s%n%x", id="format-string"),
    pytest.param("\u202eevil", id="bidi-override"),
    pytest.param("\U0001f4a5", id="astral"),
    pytest.param("a.b[0]", id="path-syntax"),
    pytest.param("", id="empty"),
    pytest.param("x" * 10_000, id="10000-characters"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_round_trip_exactly(store, account, name):
    api = API(create_app(store=store, max_property_name_length=10_000))
    # Top-level names answer to max_property_name_length; values and nested names to max_string_length.
    properties = {name: name[:8192], "nested": {name[:8192]: [name[:8192]]}}
    event_uuid = str(uuid.uuid4())
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, "UUID": event_uuid,
                          "Event": name[:255] or "x", "Properties": properties})
    assert response.status_code == 200, response.get_json()
    listed = api.properties({"APIKey": account.api_key, "ListID": account.list_id}).get_json()["Properties"]
    assert listed == {name[:255] or "x": sorted([name, "nested"])}
    db = sqlite3.connect(store.path)  # type: ignore[attr-defined]
    try:
        row = db.execute("SELECT event, properties FROM events WHERE uuid = ?", (event_uuid,)).fetchone()
        assert row[0] == (name[:255] or "x") and json.loads(row[1]) == properties
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    reliability.count("name_cases")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_under_the_default_limit_round_trip_or_get_16(api, store, account, name):
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x", "Properties": {name: 1}})
    if len(name) <= DEFAULTS["max_property_name_length"]:
        assert response.status_code == 200
        listed = api.properties({"APIKey": account.api_key, "ListID": account.list_id}).get_json()["Properties"]
        assert listed == {"x": [name]}
    else:
        assert (response.status_code, codes(response)) == (422, [16])
        assert store.count_events() == 0
    reliability.count("name_cases")
