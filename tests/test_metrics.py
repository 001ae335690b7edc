"""``GET {mount}/metrics``: off by default, behind its own token, and its counts add up, in one
process and across two workers (granian's and gunicorn's, in prometheus_client's multi-process mode)."""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from conftest import make_account
from octeth_tracking import SQLiteStore, create_app
from servers import Server

TOKEN = "scrape-token-0123456789abcdef"
NEEDS_TOKEN = {"Errors": [{"Code": 60, "Message": "Metrics token is missing or wrong."}]}


def samples(page: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a metrics page: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(page) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_off_by_default_the_path_is_not_there(store):
    client = Client(create_app(store=store))
    for method in ("GET", "POST"):
        response = client.open("/api/v1/metrics", method=method, headers={"Authorization": f"Bearer {TOKEN}"})
        assert (response.status_code, response.get_json()["Errors"][0]["Code"]) == (404, 22)


@pytest.mark.parametrize("authorization", [
    pytest.param(None, id="none"),
    pytest.param("Bearer wrong-token-0123456789abcdef", id="wrong"),
    pytest.param(f"Bearer {TOKEN}x", id="longer"),
    pytest.param(f"Basic {TOKEN}", id="not-bearer"),
])
def test_without_its_token_the_page_is_refused(store, caplog, authorization):
    client = Client(create_app(store=store, metrics_token=TOKEN))
    response = client.get("/api/v1/metrics", headers={"Authorization": authorization} if authorization else {})
    assert (response.status_code, response.get_json()) == (401, NEEDS_TOKEN)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert TOKEN not in caplog.text


def test_a_token_too_short_to_be_one_is_refused_without_repeating_it(store):
    with pytest.raises(ValueError, match=r"^metrics_token must be text of 16 printable characters or more, or None,"
                                         r" not a str of 5 characters \(the setting OCTETH_TRACKING_METRICS_TOKEN\)$"):
        create_app(store=store, metrics_token="short")


def test_without_prometheus_client_it_says_what_to_install(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"metrics_token needs prometheus_client: pip install 'octeth-tracking\[metrics\]'"):
        create_app(store=store, metrics_token=TOKEN)


def traffic(send: Any, account: Any) -> dict[str, int]:
    """A known mix of answers; how many of each."""
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    repeated = str(uuid.uuid4())
    sent = {"stored": 0, "duplicates": 0, "bad_json": 0, "bad_key": 0, "invalid": 0, "unmatched": 0, "health": 0}
    for n in range(12):
        assert send("/event", {**body, "UUID": str(uuid.uuid4()), "ID": f"v{n}"})[0] == 200
        sent["stored"] += 1
    assert send("/event", {**body, "UUID": repeated})[0] == 200
    sent["stored"] += 1
    for _ in range(3):
        assert send("/event", {**body, "UUID": repeated})[0] == 200
        sent["duplicates"] += 1
    for _ in range(2):
        assert send("/event", b"{nope")[0] == 400
        sent["bad_json"] += 1
    assert send("/event", {**body, "APIKey": "nobody"})[0] == 401
    sent["bad_key"] += 1
    assert send("/event", {**body, "ListID": "x", "Event": ""})[0] == 422  # codes 4 and 5
    sent["invalid"] += 1
    assert send("/nowhere", {})[0] == 404
    sent["unmatched"] += 1
    assert send("/health", None)[0] == 200
    sent["health"] += 1
    return sent


def check_counts(found: dict, sent: dict[str, int]) -> None:
    events = sent["stored"] + sent["duplicates"]
    assert value(found, "octeth_tracking_requests_total", route="event", status="200") == events
    assert value(found, "octeth_tracking_requests_total", route="event", status="400") == sent["bad_json"]
    assert value(found, "octeth_tracking_requests_total", route="event", status="401") == sent["bad_key"]
    assert value(found, "octeth_tracking_requests_total", route="event", status="422") == sent["invalid"]
    assert value(found, "octeth_tracking_requests_total", route="unmatched", status="404") == sent["unmatched"]
    assert value(found, "octeth_tracking_requests_total", route="health", status="200") == sent["health"]
    assert value(found, "octeth_tracking_request_seconds_count", route="event") == events + sent["bad_json"] + sent["bad_key"] + sent["invalid"]
    for code, times in (("20", sent["bad_json"]), ("99998", sent["bad_key"]), ("4", sent["invalid"]),
                        ("5", sent["invalid"]), ("22", sent["unmatched"])):
        assert value(found, "octeth_tracking_rejected_total", code=code) == times, code
    assert value(found, "octeth_tracking_events_stored_total") == sent["stored"]
    assert value(found, "octeth_tracking_events_duplicate_total") == sent["duplicates"]
    assert value(found, "octeth_tracking_commit_events_sum") == events  # every event went through a commit
    assert 1 <= value(found, "octeth_tracking_commit_events_count") <= events
    assert value(found, "octeth_tracking_commit_seconds_count") == value(found, "octeth_tracking_commit_events_count")
    assert value(found, "octeth_tracking_store_up") == 1


def test_in_one_process_the_counts_add_up_on_every_store(any_store):
    account = make_account(any_store)
    client = Client(create_app(store=any_store, metrics_token=TOKEN))

    def send(path: str, body: Any) -> tuple[int, Any]:
        if body is None:
            response = client.get("/api/v1" + path)
        else:
            response = client.post("/api/v1" + path, data=body if isinstance(body, bytes) else json.dumps(body))
        return response.status_code, response.get_data()

    sent = traffic(send, account)
    page = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(page.get_data(as_text=True))
    check_counts(found, sent)
    assert value(found, "octeth_tracking_rate_limiter_up", kind="memory") == 1


def scrape(url: str) -> dict:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return samples(response.read().decode())


def workers_that_counted(folder: Path) -> int:
    """How many processes' counter files hold a request."""
    return sum(any(key.startswith('["octeth_tracking_requests"') and count > 0
                   for key, count, _, _ in MmapedDict.read_all_values_from_file(str(path)))
               for path in folder.glob("counter_*.db"))


def start(kind: str, tmp_path: Path, db: Path, folder: Path) -> Server:
    env = {"OCTETH_TRACKING_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    if kind == "granian":  # serve: granian's workers
        return Server(tmp_path, "serve", "--port", "0", "--db", str(db), "--workers", "2", env=env)
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", "127.0.0.1:0",
               "--no-control-socket", "octeth_tracking:create_app()"]
    return Server(tmp_path, command=command, env={**env, "OCTETH_TRACKING_DB": str(db)}, prefix="/api/v1")


@pytest.mark.parametrize("kind", ["granian", "gunicorn"])
def test_a_scrape_of_two_workers_adds_up_both(tmp_path, kind):
    db, folder = tmp_path / "events.db", tmp_path / "metrics"
    folder.mkdir()
    store = SQLiteStore(db)
    account = make_account(store)
    server = start(kind, tmp_path, db, folder)
    try:
        def send(path: str, body: Any) -> tuple[int, Any]:
            data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
            return server.request(path, data, method="GET" if data is None else "POST")

        # Several connections at once, in rounds until both workers have answered some.
        totals: list[dict[str, int]] = []
        for round_ in range(10):
            threads = [threading.Thread(target=lambda: totals.append(traffic(send, account))) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            if workers_that_counted(folder) == 2:
                break
        assert len(totals) == 8 * (round_ + 1)
        sent = {name: sum(t[name] for t in totals) for name in totals[0]}
        found = scrape(server.url)
        check_counts(found, sent)
        assert workers_that_counted(folder) == 2
        assert store.count_events(account.list_id) == sent["stored"]
    finally:
        log = server.stop()
        store.close()
    assert "Traceback" not in log and TOKEN not in log
