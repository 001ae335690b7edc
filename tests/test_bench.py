"""The benchmark's own correctness: its bodies, the naive peer, acknowledged == stored.

No timing here: only that what the benchmark compares is what it claims to compare.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from octeth_tracking.schemas import BodySchema

BENCH = Path(__file__).parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import bodies  # noqa: E402
import run  # noqa: E402


def test_bodies_are_valid_realistic_and_distinct():
    templates = bodies.templates("key", 7)
    schema = BodySchema("event")
    made = [json.loads(head + bodies.make_uuid(3, 1, n) + tail) for n, (head, tail) in enumerate(templates)]
    assert len({body["UUID"] for body in made}) == len(made)
    for body in made:
        assert schema.errors({k.lower(): v for k, v in body.items()}) == []
        assert 5 <= len(body["Properties"]) <= 30
        assert ("Email" in body) == (body["Event"] == "identify")  # one acknowledged event = one stored row
    events = {body["Event"] for body in made}
    assert {"pageView", "identify", "conversion"} <= events and len(events) > 3


@pytest.fixture
def peer(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_PEER_DB", str(tmp_path / "peer.db"))
    monkeypatch.setenv("BENCH_API_KEY", "secret")
    module = importlib.reload(importlib.import_module("peer")) if "peer" in sys.modules else importlib.import_module("peer")
    return module.app.test_client(), tmp_path / "peer.db"


VALID = {"APIKey": "secret", "ListID": 1, "ID": "v-1", "Event": "pageView", "Properties": {"url": "https://x.test/"}}


@pytest.mark.parametrize("body, status", [
    pytest.param(b"{nope", 400, id="not-json"),
    pytest.param(b"[]", 400, id="not-an-object"),
    pytest.param(json.dumps({**VALID, "APIKey": "wrong"}).encode(), 401, id="wrong-key"),
    pytest.param(json.dumps({k: v for k, v in VALID.items() if k != "Event"}).encode(), 422, id="no-event"),
    pytest.param(json.dumps({**VALID, "ListID": "x"}).encode(), 422, id="bad-list-id"),
    pytest.param(json.dumps({**VALID, "Event": "conversion"}).encode(), 422, id="conversion-without-properties"),
    pytest.param(json.dumps({**VALID, "Event": "identify"}).encode(), 422, id="identify-without-email"),
])
def test_peer_rejects_invalid_bodies_and_stores_nothing(peer, body, status):
    client, db = peer
    assert client.post("/api/v1/event", data=body, content_type="application/json").status_code == status
    assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_peer_stores_a_valid_body_once(peer):
    client, db = peer
    response = client.post("/api/v1/event", json={**VALID, "UUID": bodies.make_uuid(1, 1, 1)})
    assert response.status_code == 200 and response.get_json()["uuid"] == bodies.make_uuid(1, 1, 1)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_short_real_run_stores_exactly_what_was_acknowledged(tmp_path):
    # The harness itself, under gunicorn, with the generator that waits for every answer.
    args = Namespace(connections=4, warmup=0.3, rounds=1, duration=0.7, generator="python")
    summary = run.bench_server("gunicorn", args, tmp_path, log=lambda text: None)
    for target in ("a", "c"):
        row = summary[target]
        assert row["acknowledged"] > 0
        assert row["stored"] == row["acknowledged"], target
        assert run.durable_check(row, target, args.connections, runs=2)[0]
    assert summary["a"]["events_per_commit"] >= 1
    assert summary["b"]["rps"] > 0 and summary["b"]["errors"] == 0


def test_cost_measures_what_it_says_each_request_answered_and_each_event_stored(tmp_path):
    cost = importlib.import_module("cost")
    assert cost.request_path(tmp_path, requests=40, repeat=1) > 0  # raises unless every answer was a 200
    cpu, wall = cost.commit_cost(tmp_path, batch=4, events=8, repeat=2)  # raises unless every event was stored
    assert cpu > 0 and wall > 0


def test_the_report_states_the_cpu_budget_from_the_runs_own_figures():
    report_module = importlib.import_module("report")
    cost = {"path": 40.0, "write": {1: 200.0, 4: 80.0, 16: 40.0, 64: 30.0}}
    assert report_module._per_event_write(cost, 10.0) == pytest.approx(60.0)  # between 4 and 16
    assert report_module._per_event_write(cost, 0.5) == 200.0 and report_module._per_event_write(cost, 99) == 30.0
    rows = {"a": {"rps": 1000.0, "events_per_commit": 4.0}, "b": {"rps": 4000.0}}
    (_, line) = report_module._budget({"cost": cost, "cores": 2, "servers": {"gunicorn": rows}})
    # The server's own cost: 2 cores / 4000 req/s = 500 µs; a/b >= 0.8 leaves 0.25 x 500 = 125 µs;
    # ours in process 40 + 80 = 120 µs; served, (a) took (4000/1000 - 1) x 500 = 1500 µs more.
    assert "500 µs per request" in line and "leaves our code 125 µs" in line
    assert "cost 120 µs" in line and "1500 µs per request more" in line
    assert "waiting for the turn" in line
    # When (a) served costs no more than our code alone, the report does not blame waiting.
    rows["a"]["rps"] = 3600.0  # (4000/3600 - 1) x 500 = 56 µs < 120 µs
    (_, line) = report_module._budget({"cost": cost, "cores": 2, "servers": {"gunicorn": rows}})
    assert "waiting for the turn" not in line
