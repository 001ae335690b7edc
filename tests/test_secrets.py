"""Secrets: only digests at rest, revocation bites at once, nothing secret in any log, sessions expire."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

import reliability
from conftest import make_account
from octeth_tracking import StoreAuthenticator, SQLiteStore, create_app
from octeth_tracking.cli import main
from octeth_tracking.storage.base import digest
from servers import Server

FAILURE = {"Errors": [{"Code": 99998, "Message": "Authentication failure or session expired"}]}
WRONG_KEY = "wrong-key-that-must-not-be-logged"


def exercise(client: Client, api_key: str, session_id: str, list_id: int) -> list[int]:
    """A full request cycle with every way a secret travels; the statuses it got."""
    body = {"ListID": list_id, "Event": "pageView"}
    bearer = {"Authorization": f"Bearer {api_key}"}
    responses = [
        client.post("/api/v1/event", json={**body, "APIKey": api_key}),
        client.post("/api/v1/event", json={**body, "SessionID": session_id}),
        client.post("/api/v1/event", json=body, headers=bearer),
        client.post("/api/v1/event", json={**body, "APIKey": api_key, "Event": ""}),  # 422
        client.post("/api/v1/event", json={**body, "APIKey": WRONG_KEY}),  # 401
        client.post("/api/v1/website_events.properties", json={"ListID": list_id, "APIKey": api_key}),
        client.get("/api/v1/website_events.properties?" + urlencode({"ListID": list_id, "APIKey": api_key})),
        client.get("/api/v1/website_events.properties?" + urlencode({"ListID": list_id, "SessionID": session_id})),
        client.head("/api/v1/website_events.properties?" + urlencode({"ListID": list_id, "APIKey": WRONG_KEY})),
        client.get("/api/v1/website_events.properties?ListID=%d" % list_id, headers=bearer),
    ]
    return [response.status_code for response in responses]


def test_only_digests_are_at_rest(tmp_path):
    path = tmp_path / "events.db"
    store = SQLiteStore(path)
    account = make_account(store)
    session_id = store.create_session(account.user_id, ttl=60)
    revoked = store.create_api_key(account.user_id)
    store.revoke_api_key(revoked)
    exercise(Client(create_app(store=store)), account.api_key, session_id, account.list_id)
    # Read while the store is open: recent writes may still sit in the -wal file.
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    at_rest = b"".join(p.read_bytes() for p in files)
    store.close()
    for secret in (account.api_key, session_id, revoked):
        assert secret.encode() not in at_rest
        assert digest(secret).encode() in at_rest  # the scan does see the accounts' data
    reliability.count("secret_checks", 3)


def test_logs_of_a_full_request_cycle_hold_no_secret(store, account, caplog):
    caplog.set_level(logging.DEBUG)
    session_id = store.create_session(account.user_id, ttl=60)
    statuses = exercise(Client(create_app(store=store)), account.api_key, session_id, account.list_id)
    assert statuses == [200, 200, 200, 422, 401, 200, 200, 200, 401, 200]

    # An unexpected failure logs a traceback: that must not carry the body either.
    def broken(events):
        raise RuntimeError("store exploded")

    store.record = broken
    response = Client(create_app(store=store)).post(
        "/api/v1/event", json={"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})
    assert response.status_code == 500
    assert len([r for r in caplog.records if r.name == "octeth_tracking.access"]) == 11  # logging is on
    assert "store exploded" in caplog.text
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in (account.api_key, session_id, WRONG_KEY):
        assert secret not in logged
    reliability.count("secret_checks", 3)


def test_revoke_from_the_command_line_locks_out_a_running_server_and_its_logs_hold_no_secret(tmp_path):
    db = tmp_path / "events.db"
    store = SQLiteStore(db)
    account = make_account(store)
    session_id = store.create_session(account.user_id, ttl=60)
    store.close()
    # With the key cache on (its default): the revocation must show at once all the same.
    server = Server(tmp_path, "serve", "--port", "0", "--db", str(db))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    try:
        query = urlencode({"ListID": account.list_id, "APIKey": account.api_key})
        assert server.request("/website_events.properties?" + query, method="GET")[0] == 200
        assert server.request("/event", json.dumps({**body, "APIKey": None}).encode(),
                              headers={"Authorization": f"Bearer {account.api_key}"})[0] == 200
        assert server.event({**body, "APIKey": None, "SessionID": session_id})[0] == 200
        assert server.event({**body, "APIKey": WRONG_KEY})[0] == 401
        assert server.event(body)[0] == 200

        revoke = [sys.executable, "-m", "octeth_tracking", "revoke-api-key", account.api_key, "--db", str(db)]
        done = subprocess.run(revoke, capture_output=True, text=True, timeout=30)
        assert (done.returncode, json.loads(done.stdout)) == (0, {"revoked": True})
        assert server.event(body) == (401, FAILURE)
        again = subprocess.run(revoke, capture_output=True, text=True, timeout=30)
        assert (again.returncode, json.loads(again.stdout)) == (1, {"revoked": False})
    finally:
        log = server.stop()
    assert log.count("POST /api/v1/event") == 5 and "GET /api/v1/website_events.properties 200" in log
    for secret in (account.api_key, session_id, WRONG_KEY):
        assert secret not in log
    reliability.count("secret_checks", 2)


# (--ttl, seconds that pass, status)
EXPIRY = [
    pytest.param(-5, 0, 401, id="negative-ttl"),
    pytest.param(0, 0, 401, id="zero-ttl"),
    pytest.param(60, 0, 200, id="fresh"),
    pytest.param(60, 59, 200, id="just-before-expiry"),
    pytest.param(60, 61, 401, id="just-after-expiry"),
]


@pytest.mark.parametrize("ttl, later, status", EXPIRY)
def test_sessions_expire(tmp_path, capsys, ttl, later, status):
    db = tmp_path / "events.db"
    store = SQLiteStore(db)
    account = make_account(store)
    store.close()
    assert main(["create-session", "--user-id", str(account.user_id), "--ttl", str(ttl), "--db", str(db)]) == 0
    session_id = json.loads(capsys.readouterr().out)["session_id"]
    store = SQLiteStore(db, clock=lambda: time.time() + later)  # the store's clock moves on; no sleeping
    try:
        response = Client(create_app(store=store)).post(
            "/api/v1/event", json={"SessionID": session_id, "ListID": account.list_id, "Event": "x"})
    finally:
        store.close()
    assert response.status_code == status
    if status == 401:
        assert response.get_json() == FAILURE
    reliability.count("secret_checks")


def test_a_key_revoked_through_the_store_is_refused_at_once_behind_its_back_within_the_ttl(store):
    account = make_account(store)
    spare = store.create_api_key(account.user_id)
    now = [1000.0]
    authenticator = StoreAuthenticator(store, cache_ttl=5.0, clock=lambda: now[0])
    assert authenticator.authenticate(account.api_key, None) == authenticator.authenticate(spare, None) == account.user_id
    store.revoke_api_key(account.api_key)
    assert authenticator.authenticate(account.api_key, None) is None  # the generation moved: not trusted
    assert authenticator.authenticate(spare, None) == account.user_id
    # A change the store is not told of (a SQL shell) is bounded by the ttl alone.
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE api_keys SET revoked_at = 1 WHERE digest = ?", (digest(spare),))
    now[0] += 4.9
    assert authenticator.authenticate(spare, None) == account.user_id  # still remembered
    now[0] += 0.2
    assert authenticator.authenticate(spare, None) is None
    reliability.count("secret_checks", 2)
