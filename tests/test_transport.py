"""Requests that are not what the API expects, mounting, and settings."""

from __future__ import annotations

import io
import json

import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from octeth_tracking import TrackingApp, create_app
from conftest import API, codes


@pytest.mark.parametrize(
    "body, status, code",
    [
        pytest.param(b"", 400, 20, id="empty"),
        pytest.param(b"APIKey=x&ListID=1", 400, 20, id="form-encoded"),
        pytest.param(b"{'a': 1}", 400, 20, id="python-not-json"),
        pytest.param(b'{"a": 1', 400, 20, id="truncated"),
        pytest.param(b"\xff\xfe{}", 400, 20, id="not-utf8"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}', 400, 20, id="bom"),
        pytest.param(b'{"a": NaN}', 400, 20, id="nan"),
        pytest.param(b'{"a": -Infinity}', 400, 20, id="infinity"),
        pytest.param(b'{"a": 1e400}', 400, 20, id="float-overflow"),
        pytest.param(b'{"a": ' + b"9" * 5000 + b"}", 400, 20, id="int-too-long"),
        pytest.param(b'{"a": "\\ud800"}', 400, 20, id="lone-surrogate"),
        pytest.param(b'{"\\udfff": 1}', 400, 20, id="lone-surrogate-key"),
        pytest.param(b"[" * 20000 + b"]" * 20000, 400, 20, id="deep-nesting"),
        pytest.param(b"[]", 400, 21, id="array"),
        pytest.param(b'"text"', 400, 21, id="string"),
        pytest.param(b"null", 400, 21, id="null"),
    ],
)
@pytest.mark.parametrize("endpoint", ["event", "properties"])
def test_unreadable_bodies_get_400(api, store, body, status, code, endpoint):
    response = getattr(api, endpoint)(body)
    assert response.status_code == status
    assert codes(response) == [code]
    assert store.count_events() == 0


def test_escaped_surrogate_pair_is_fine(api, account):
    body = '{"APIKey": "%s", "ListID": %d, "Event": "\\ud83d\\udca5"}' % (account.api_key, account.list_id)
    response = api.event(body)
    assert response.status_code == 200


def test_400_comes_before_401(api):
    assert api.event(b"nope").status_code == 400


def test_body_over_limit_gets_413_from_content_length_without_reading(store):
    app = create_app(store=store, max_body_size=100)

    class Unreadable(io.RawIOBase):
        def read(self, n=-1):
            raise AssertionError("the body must not be read")

    environ = EnvironBuilder(path="/api/v1/event", method="POST").get_environ()
    environ.update({"wsgi.input": Unreadable(), "CONTENT_LENGTH": "101"})
    body, status, headers = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413") and json.loads(b"".join(body))["Errors"][0]["Code"] == 24


def test_chunked_body_over_limit_gets_413(store):
    app = create_app(store=store, max_body_size=100)
    environ = EnvironBuilder(path="/api/v1/event", method="POST").get_environ()
    environ.update({"wsgi.input": io.BytesIO(b"{" + b" " * 500 + b"}"), "wsgi.input_terminated": True})
    environ.pop("CONTENT_LENGTH", None)
    response = Client(app).open(environ)
    assert response.status_code == 413


@pytest.mark.parametrize("terminated", [pytest.param(False, id="stream"), pytest.param(True, id="server-terminated")])
@pytest.mark.parametrize("declared, sent", [
    pytest.param("\u00b2", b"", id="superscript-two-is-no-length"),  # "²".isdigit() is True; int("²") fails
    pytest.param("\u0661\u0660", b"", id="arabic-indic-digits-are-no-length"),
    pytest.param("500", b"BODY", id="fewer-bytes-than-declared"),  # the client went away mid-body
])
def test_a_content_length_that_lies_gets_400_and_stores_nothing(store, account, terminated, declared, sent):
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"}).encode()
    environ = EnvironBuilder(path="/api/v1/event", method="POST").get_environ()
    environ.update({"wsgi.input": io.BytesIO(sent.replace(b"BODY", body)), "CONTENT_LENGTH": declared,
                    "wsgi.input_terminated": terminated})
    answer, status, headers = run_wsgi_app(create_app(store=store), environ, buffered=True)
    assert (status, json.loads(b"".join(answer))["Errors"][0]["Code"]) == ("400 BAD REQUEST", 20)
    assert store.count_events() == 0


@pytest.mark.parametrize("declared", [pytest.param("500", id="more-than-sent"), pytest.param("70000", id="over-the-limit")])
def test_a_chunked_body_is_framed_by_its_chunks_not_a_content_length(store, account, declared):
    # werkzeug's development server passes both on; RFC 9112: Transfer-Encoding wins.
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"}).encode()
    environ = EnvironBuilder(path="/api/v1/event", method="POST").get_environ()
    environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": declared, "HTTP_TRANSFER_ENCODING": "chunked",
                    "wsgi.input_terminated": True})
    answer, status, headers = run_wsgi_app(create_app(store=store), environ, buffered=True)
    assert status == "200 OK", b"".join(answer)
    assert store.count_events() == 1


def test_body_at_limit_is_read(store, account):
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})
    api = API(create_app(store=store, max_body_size=len(body)))
    assert api.event(body).status_code == 200
    api = API(create_app(store=store, max_body_size=len(body) - 1))
    assert api.event(body).status_code == 413


def test_413_comes_before_400_and_401(store):
    api = API(create_app(store=store, max_body_size=10))
    assert api.event(b"not json at all, and long").status_code == 413


@pytest.mark.parametrize(
    "method, path, status, allow",
    [
        pytest.param("GET", "/api/v1/event", 405, "OPTIONS, POST", id="get-event"),
        pytest.param("PUT", "/api/v1/event", 405, "OPTIONS, POST", id="put-event"),
        pytest.param("DELETE", "/api/v1/website_events.properties", 405, "GET, HEAD, POST", id="delete-properties"),
        pytest.param("POST", "/api/v1/events", 404, None, id="unknown-path"),
        pytest.param("POST", "/api/v1/event/", 404, None, id="trailing-slash"),
        pytest.param("POST", "/api/v1", 404, None, id="mount-root"),
        pytest.param("GET", "/", 404, None, id="outside-mount"),
        pytest.param("POST", "/event", 404, None, id="unmounted-path"),
    ],
)
def test_routing_errors(api, method, path, status, allow):
    response = api.client.open(path, method=method, data=b"{}")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert codes(response) == [22 if status == 404 else 23]
    assert response.headers.get("Allow") == allow


def test_405_comes_before_413(store):
    api = API(create_app(store=store, max_body_size=1))
    assert api.client.put("/api/v1/event", data=b"x" * 100).status_code == 405


@pytest.mark.parametrize("prefix", ["/tracking", "/a/b/c", ""])
def test_any_mount_prefix(store, account, prefix):
    api = API(create_app(store=store, prefix=prefix), prefix=prefix)
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})
    assert response.status_code == 200
    assert api.client.post("/api/v1/event", data="{}").status_code == 404


def test_bare_app_honours_script_name(store, account):
    app = TrackingApp(store=store)
    body = json.dumps({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})
    response = Client(app).post("/event", data=body, environ_overrides={"SCRIPT_NAME": "/somewhere"})
    assert response.status_code == 200


def test_settings_come_from_environment(monkeypatch, tmp_path):
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("OCTETH_TRACKING_DB", str(db))
    monkeypatch.setenv("OCTETH_TRACKING_PREFIX", "/t")
    monkeypatch.setenv("OCTETH_TRACKING_MAX_BODY_SIZE", "10")
    app = create_app()
    assert db.exists()
    response = Client(app).post("/t/event", data=b"{" + b" " * 20 + b"}")
    assert response.status_code == 413
    # An argument beats the environment.
    assert Client(create_app(max_body_size=1000)).post("/t/event", data=b"{" + b" " * 20 + b"}").status_code == 401


def test_responses_are_never_html(api):
    for response in (api.client.get("/"), api.client.get("/api/v1/event"), api.event(b"x")):
        assert response.mimetype == "application/json"
        assert "Errors" in response.get_json()
