"""``serve --micro``: a real server that a test suite in any language can track into and ask
what it tracked (good), what was refused (bad), and reset; modelled on Snowplow Micro."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from servers import ROOT


class Micro:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "octeth_tracking", "serve", "--micro", "--port", "0", *args],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started = json.loads(self.process.stdout.readline())
        self.url = self.started["url"]

    def call(self, path: str, body: dict | None = None, method: str | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data else "GET"),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def micro():
    server = Micro("--api-key", "micro-key")
    yield server
    server.stop()


def test_it_prints_its_credentials_and_answers_the_api(micro):
    assert micro.started["api_key"] == "micro-key" and micro.url.startswith("http://127.0.0.1:")
    status, answer = micro.call("/event", {"APIKey": "micro-key", "ListID": micro.started["list_id"],
                                           "Event": "signup", "ID": "v1"})
    assert status == 200 and answer["external_id"] == "v1"
    assert micro.call("/micro/all") == (200, {"total": 1, "good": 1, "bad": 0})
    status, good = micro.call("/micro/good")
    assert status == 200 and [(e["Event"], e["ID"]) for e in good["Events"]] == [("signup", "v1")]


def test_bad_keeps_every_refusal_even_without_a_caller_and_reset_forgets(micro):
    list_id = micro.started["list_id"]
    assert micro.call("/event", {"APIKey": "micro-key", "ListID": list_id})[0] == 422
    assert micro.call("/event", {"APIKey": "wrong", "ListID": list_id, "Event": "x"})[0] == 401
    for _ in range(3):  # production's properties limit is 100 a minute: a test server has none
        assert micro.call("/event", {"APIKey": "micro-key", "ListID": list_id, "Event": "ok"})[0] == 200
    status, bad = micro.call("/micro/bad")
    assert status == 200
    assert [(r["Status"], r["Errors"][0]["Code"]) for r in bad["Rejected"]] == [(401, 99998), (422, 5)]
    assert "wrong" not in json.dumps(bad) and "micro-key" not in json.dumps(bad)
    assert micro.call("/micro/all")[1] == {"total": 5, "good": 3, "bad": 2}
    assert micro.call("/micro/reset", method="POST") == (200, {"status": "reset", "events": 3, "rejected": 2})
    assert micro.call("/micro/all")[1] == {"total": 0, "good": 0, "bad": 0}
    assert micro.call("/event", {"APIKey": "micro-key", "ListID": list_id, "Event": "again"})[0] == 200  # the account stays


def test_a_production_server_has_no_micro_routes(tmp_path):
    from werkzeug.test import Client

    from octeth_tracking import SQLiteStore, create_app

    store = SQLiteStore(tmp_path / "p.db")
    response = Client(create_app(store=store)).get("/api/v1/micro/all")
    assert response.status_code == 404 and response.get_json()["Errors"][0]["Code"] == 22
    store.close()
