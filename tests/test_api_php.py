"""POST /api.php: form bodies read as PHP reads them, answered exactly as the JSON routes answer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from conftest import make_account
from octeth_tracking import SQLiteStore, create_app
from octeth_tracking.errors import InvalidForm
from octeth_tracking.form import parse_form

FORM = "application/x-www-form-urlencoded"
UUID = "6f3c1c9e-8a2b-4c1d-9e0f-123456789abc"


@pytest.mark.parametrize("body, parsed", [
    pytest.param(b"Command=event.track&ListID=3", {"Command": "event.track", "ListID": "3"}, id="pairs-are-text"),
    pytest.param(b"Properties[url]=%2F&Properties[a][b]=c", {"Properties": {"url": "/", "a": {"b": "c"}}}, id="brackets-nest"),
    pytest.param(b"IdentifyProperties[First-Name]=Jane+Doe", {"IdentifyProperties": {"First-Name": "Jane Doe"}}, id="plus-is-space"),
    pytest.param(b"t[]=a&t[]=b&o[][k]=1&o[][k]=2", {"t": ["a", "b"], "o": [{"k": "1"}, {"k": "2"}]}, id="empty-brackets-append"),
    pytest.param(b"a=1&a=2", {"a": "2"}, id="a-repeated-name-the-last-wins"),
    pytest.param(b"a=1&a[b]=2", {"a": {"b": "2"}}, id="brackets-replace-a-value"),
    pytest.param(b"a[b]=2&a=1", {"a": "1"}, id="a-value-replaces-brackets"),
    pytest.param(b"a[b=1&c]d=2&[x]=3&e[f]g=4", {"a[b": "1", "c]d": "2", "[x]": "3", "e[f]g": "4"}, id="other-names-as-they-are"),
    pytest.param(b"Email=&ID&x=%E2%82%AC%00", {"Email": "", "ID": "", "x": "\u20ac\x00"}, id="blank-and-utf-8"),
    pytest.param(b"", {}, id="empty"),
])
def test_form_bodies_become_objects(body, parsed):
    assert parse_form(body) == parsed


@pytest.mark.parametrize("body", [b"a=%ff", b"a=%ED%A0%80", b"\xff=1", b"a[%C3]=1"])
def test_a_form_that_is_not_utf_8_is_code_73(body):
    with pytest.raises(InvalidForm):
        parse_form(body)


def form_pairs(value: Any, name: str) -> list[tuple[str, str]]:
    """``value`` as the form fields a PHP client would send under ``name``."""
    if isinstance(value, dict):
        return [pair for key, inner in value.items() for pair in form_pairs(inner, f"{name}[{key}]")]
    return [(name, value)]


def as_form(command: str, body: dict[str, Any]) -> bytes:
    return urlencode([("Command", command)] + [p for k, v in body.items() for p in form_pairs(v, k)]).encode()


class Site:
    """A fresh store with alice (whose list has First-Name and 734) and bob, and the app on top."""

    def __init__(self, path: Path, **options: Any) -> None:
        path.mkdir()
        self.store = SQLiteStore(path / "events.db")
        self.alice, self.bob = make_account(self.store, "alice"), make_account(self.store, "bob")
        self.store.create_custom_field(self.alice.list_id, "First name", "First-Name")
        self.store.create_custom_field(self.alice.list_id, "Plan", field_id=734)
        # One receive time for every site: the answers' occurred_at must match byte for byte.
        self.client = Client(create_app(store=self.store, **{"clock": lambda: 1_796_464_800.0, **options}))

    def contents(self) -> list[Any]:
        db = sqlite3.connect(self.store.path)
        try:
            return [db.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2").fetchall() for table, columns in [
                ("events", "list_id, uuid, external_id, event, email, properties, identify_sent"),
                ("subscriber_fields", "subscriber_id, field_id, value"), ("event_properties", "*")]]
        finally:
            db.close()


# (JSON route, Command, the body with every value as text, as a form must carry it)
SAME = [
    pytest.param("/event", "event.track", lambda a, b: {
        "APIKey": a.api_key, "ListID": str(a.list_id), "UUID": UUID, "Event": "pageView", "ID": "2006",
        "Properties": {"url": "/", "nested": {"a": {"b": "c"}}}}, id="event"),
    pytest.param("/event", "event.track", lambda a, b: {
        "APIKey": a.api_key, "ListID": str(a.list_id), "UUID": UUID, "Event": "identify", "Email": "Jane@Example.com", "ID": "v-1",
        "IdentifyProperties": {"First-Name": "Jane", "CustomField734": "Gold"}}, id="identify-with-fields"),
    pytest.param("/event", "event.track", lambda a, b: {
        "APIKey": a.api_key, "ListID": str(a.list_id), "UUID": UUID, "Event": "conversion", "ID": "v-1",
        "Properties": {"conversion-id": "o-1", "conversion-name": "purchase", "conversion-value": "290.50"}},
        id="conversion-value-as-text"),
    pytest.param("/event", "event.track", lambda a, b: {"APIKey": a.api_key, "ListID": str(a.list_id)}, id="missing-event-5"),
    pytest.param("/event", "event.track", lambda a, b: {"APIKey": a.api_key, "ListID": str(b.list_id), "Event": "x"},
                 id="another-users-list-4"),
    pytest.param("/event", "event.track", lambda a, b: {
        "APIKey": a.api_key, "ListID": "x", "Event": "identify", "Email": "nope", "Properties": "x",
        "IdentifyProperties": {"a": {"b": "1"}}}, id="several-codes"),
    pytest.param("/event", "event.track", lambda a, b: {"ListID": str(a.list_id), "Event": "x"}, id="no-credentials-401"),
    pytest.param("/website_events.properties", "website_events.properties",
                 lambda a, b: {"APIKey": a.api_key, "ListID": str(a.list_id)}, id="properties"),
    pytest.param("/website_events.properties", "website_events.properties", lambda a, b: {"APIKey": a.api_key},
                 id="properties-missing-list-1"),
]


@pytest.mark.parametrize("route, command, body", SAME)
def test_api_php_answers_and_stores_as_the_json_route_does(tmp_path, route, command, body):
    by_json, by_form = Site(tmp_path / "json"), Site(tmp_path / "form")
    sent, form_sent = body(by_json.alice, by_json.bob), body(by_form.alice, by_form.bob)  # each site's own keys
    answers = [
        by_json.client.post("/api/v1" + route, data=json.dumps(sent), content_type="application/json"),
        by_form.client.post("/api.php", data=as_form(command, form_sent), content_type=FORM),
        by_form.client.post("/api/v1/api.php", data=json.dumps({"Command": command, **form_sent}),
                            content_type="application/json"),
    ]
    assert len({(a.status_code, a.headers["Content-Type"], a.get_data()) for a in answers}) == 1, [a.get_data() for a in answers]
    assert by_json.contents() == by_form.contents()


def test_a_json_number_and_its_text_answer_alike(tmp_path):
    site = Site(tmp_path / "s")
    sent = {"APIKey": site.alice.api_key, "ListID": site.alice.list_id, "Event": "conversion", "ID": 2006,
            "Properties": {"conversion-id": "o-1", "conversion-name": "purchase", "conversion-value": 290.50}}
    as_json = site.client.post("/api/v1/event", json={**sent, "UUID": UUID}).get_json()
    as_form_ = site.client.post("/api.php", data=as_form("event.track", {**sent, "UUID": UUID.replace("6f", "7f"),
                                                                       "ListID": str(site.alice.list_id), "ID": "2006"})).get_json()
    assert {**as_json, "uuid": None} == {**as_form_, "uuid": None} == {
        "status": "success", "uuid": None, "external_id": "2006", "identify_event_sent": False,
        "occurred_at": "2026-12-05T10:00:00.000Z"}


@pytest.mark.parametrize("body, status, expected", [
    pytest.param(lambda k: {"APIKey": k, "ListID": "1"}, 422, (72, "Missing Command parameter."), id="no-command"),
    pytest.param(lambda k: {"APIKey": k, "Command": ""}, 422, (72, "Missing Command parameter."), id="empty-command"),
    pytest.param(lambda k: {"APIKey": k, "Command": "subscribers.get"}, 422, (71, "Invalid Command parameter."), id="unknown"),
    pytest.param(lambda k: {"APIKey": k, "Command": "Event.Track"}, 422, (71, "Invalid Command parameter."), id="case-matters"),
    pytest.param(lambda k: {"Command": "subscribers.get"}, 401, (99998, "Authentication failure or session expired"),
                 id="credentials-first"),
])
def test_the_command_chooses_the_endpoint(tmp_path, body, status, expected):
    site = Site(tmp_path / "s")
    response = site.client.post("/api.php", data=body(site.alice.api_key))
    (error,) = response.get_json()["Errors"]
    assert (response.status_code, error["Code"], error["Message"]) == (status, *expected)
    if status == 422:  # every 422 item says what was wrong
        assert error["Detail"].startswith("Command ")


def test_api_php_counts_against_the_rate_limit_of_the_endpoint_it_names(tmp_path):
    site = Site(tmp_path / "s", event_rate_limit=1)
    event = {"APIKey": site.alice.api_key, "ListID": str(site.alice.list_id), "Event": "x"}
    assert site.client.post("/api/v1/event", json=event).status_code == 200
    assert site.client.post("/api.php", data=as_form("event.track", event)).status_code == 429
    assert site.client.post("/api.php", data=as_form("website_events.properties", event)).status_code == 200


@pytest.mark.parametrize("options, env, at_root", [
    pytest.param({}, {}, True, id="default"),
    pytest.param({"api_php_at_root": False}, {}, False, id="argument"),
    pytest.param({}, {"OCTETH_TRACKING_API_PHP_AT_ROOT": "false"}, False, id="environment"),
    pytest.param({"api_php_at_root": True}, {"OCTETH_TRACKING_API_PHP_AT_ROOT": "false"}, True, id="argument-wins"),
])
def test_api_php_answers_at_the_site_root_beside_the_prefix(store, account, monkeypatch, options, env, at_root):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = Client(create_app(store=store, **options))
    body = {"Command": "website_events.properties", "APIKey": account.api_key, "ListID": str(account.list_id)}
    assert client.post("/api/v1/api.php", data=body).status_code == 200
    root = client.post("/api.php", data=body)
    assert (root.status_code, root.headers["Content-Type"]) == (200 if at_root else 404, "application/json")
    for path, status in [("/api.php/x", 404), ("/api.phpx", 404)]:
        assert client.post(path, data=body).status_code == status
    get = client.get("/api.php")
    assert (get.status_code, get.headers.get("Allow")) == ((405, "POST") if at_root else (404, None))


def test_a_bare_app_answers_api_php_at_its_root_and_a_bad_setting_fails_at_start(store, account, monkeypatch):
    body = {"Command": "website_events.properties", "APIKey": account.api_key, "ListID": str(account.list_id)}
    assert Client(create_app(store=store, prefix="")).post("/api.php", data=body).status_code == 200
    monkeypatch.setenv("OCTETH_TRACKING_API_PHP_AT_ROOT", "sometimes")
    with pytest.raises(ValueError, match="OCTETH_TRACKING_API_PHP_AT_ROOT must be true or false"):
        create_app(store=store)


@pytest.mark.parametrize("content_type, status", [
    pytest.param("multipart/form-data; boundary=zz", 400, id="multipart-is-refused"),
    pytest.param("text/plain", 200, id="any-other-type-is-a-form"),
    pytest.param(None, 200, id="no-type-is-a-form"),
    pytest.param("Application/JSON; charset=utf-8", 400, id="json-is-json"),  # the form is not valid JSON
])
def test_the_content_type_says_how_api_php_reads_a_body(store, account, content_type, status):
    body = as_form("website_events.properties", {"APIKey": account.api_key, "ListID": str(account.list_id)})
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = Client(create_app(store=store)).post("/api.php", data=body, headers=headers)
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["Errors"][0]["Code"] == (73 if "multipart" in content_type else 20)
