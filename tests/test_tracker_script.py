"""``GET {mount}/tracker.js``: the script as the package ships it, compressed, cached, small; and the snippet."""

from __future__ import annotations

import gzip
import importlib.metadata
import re

import pytest
from werkzeug.test import Client

from octeth_tracking import create_app
from octeth_tracking.browser import SCRIPT, snippet

SOURCE = SCRIPT.read_bytes()


@pytest.fixture
def client(store):
    return Client(create_app(store=store))


def test_served_plain_with_its_caching_headers(client):
    response = client.get("/api/v1/tracker.js")
    assert response.status_code == 200 and response.get_data() == SOURCE
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert re.fullmatch(r'"[0-9a-f]{20}"', response.headers["ETag"])
    assert response.headers["Vary"] == "Accept-Encoding" and "Content-Encoding" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


@pytest.mark.parametrize("accept, compressed", [
    pytest.param("gzip, deflate, br, zstd", True, id="chromium"),
    pytest.param("gzip;q=0.5", True, id="with-a-quality"),
    pytest.param("*", True, id="anything"),
    pytest.param("gzip;q=0, br", False, id="gzip-refused"),
    pytest.param("br", False, id="other-encodings-only"),
    pytest.param("", False, id="none"),
])
def test_gzip_for_a_browser_that_takes_it(client, accept, compressed):
    response = client.get("/api/v1/tracker.js", headers={"Accept-Encoding": accept})
    assert (response.headers.get("Content-Encoding") == "gzip") is compressed
    body = response.get_data()
    assert (gzip.decompress(body) if compressed else body) == SOURCE
    assert response.headers["ETag"].endswith('-gzip"') is compressed  # each form its own strong tag


@pytest.mark.parametrize("accept", ["gzip", ""])
def test_a_browser_that_has_it_gets_304(client, accept):
    etag = client.get("/api/v1/tracker.js", headers={"Accept-Encoding": accept}).headers["ETag"]
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}'):
        again = client.get("/api/v1/tracker.js", headers={"If-None-Match": if_none_match, "Accept-Encoding": accept})
        assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    assert client.get("/api/v1/tracker.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_head_and_any_mount_point(store):
    for prefix in ("/api/v1", "/t", ""):
        client = Client(create_app(store=store, prefix=prefix))
        head = client.head(prefix + "/tracker.js")
        assert head.status_code == 200 and head.get_data() == b"" and head.headers["Content-Length"] == str(len(SOURCE))
        assert client.get(prefix + "/tracker.js").get_data() == SOURCE
    assert Client(create_app(store=store)).post("/api/v1/tracker.js").status_code == 405


def test_it_is_small():
    # Served as written (readable, comments and all), gzip-compressed: what a page downloads.
    assert len(gzip.compress(SOURCE, 9)) < 5 * 1024
    assert len(SOURCE) < 14 * 1024  # and no vendored library hides in it


def test_it_depends_on_nothing_and_names_its_version():
    text = SOURCE.decode()
    assert not re.search(r"\b(import|require)\s*\(|<script|https?://", text.split("*/", 1)[1])
    assert f'var VERSION = "{importlib.metadata.version("octeth-tracking")}";' in text


def test_the_snippet_queues_calls_and_loads_the_script():
    html = snippet("https://track.example.com/api/v1/", "otk_KEY", 3)
    assert '{key: "otk_KEY", listId: 3, api: "https://track.example.com/api/v1", q: []}' in html
    assert html.rstrip().endswith('<script async src="https://track.example.com/api/v1/tracker.js"></script>')
    for name in ("eventP", "eventI", "eventT", "eventC"):
        assert f'"{name}"' in html


def test_the_snippet_cannot_be_broken_out_of():
    html = snippet("https://t.example/</script><script>alert(1)</script>", "otk_<b>", 3, {"visitorCookie": "a&b"})
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "\\u003c/script\\u003e" in html and "\\u0026" in html
