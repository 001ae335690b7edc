"""The tracker-key commands: create-tracker, trackers, revoke-tracker, snippet; and a running server's view of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_account
from octeth_tracking import SQLiteStore
from octeth_tracking.browser import snippet
from octeth_tracking.cli import main
from octeth_tracking.storage.base import digest
from servers import Server

SITE = "https://shop.example"


@pytest.fixture
def db(tmp_path: Path) -> str:
    store = SQLiteStore(tmp_path / "events.db")
    make_account(store)  # list 1
    store.close()
    return str(tmp_path / "events.db")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_create_list_and_revoke(capsys, db):
    status, out, err = run(capsys, "create-tracker", "--list-id", "1", "--origin", "https://Shop.Example/",
                           "--origin", "https://*.example.com", "--db", db)
    created = json.loads(out)
    assert status == 0 and err == ""
    assert created.keys() == {"tracker_key", "tracker_id", "list_id", "origins", "server_side", "created_at"}
    assert (created["tracker_id"], created["list_id"], created["origins"], created["server_side"]) == (
        1, 1, ["https://*.example.com", "https://shop.example"], False)
    assert created["tracker_key"].startswith("otk_")
    status, out, _ = run(capsys, "create-tracker", "--list-id", "1", "--server-side", "--db", db)
    server_side = json.loads(out)
    assert status == 0 and server_side["server_side"] is True and server_side["origins"] == []

    status, out, _ = run(capsys, "trackers", "--db", db)
    listed = json.loads(out)["trackers"]
    assert [(t["tracker_id"], t["revoked_at"]) for t in listed] == [(1, None), (2, None)]
    assert "tracker_key" not in listed[0] and created["tracker_key"] not in out  # only its digest is kept

    assert run(capsys, "revoke-tracker", created["tracker_key"], "--db", db)[:2] == (0, '{"revoked":true}\n')
    assert run(capsys, "revoke-tracker", created["tracker_key"], "--db", db)[:2] == (1, '{"revoked":false}\n')
    assert run(capsys, "revoke-tracker", "--id", "2", "--db", db)[:2] == (0, '{"revoked":true}\n')
    assert run(capsys, "revoke-tracker", "--id", "7", "--db", db)[:2] == (1, '{"revoked":false}\n')
    status, out, _ = run(capsys, "trackers", "--list-id", "1", "--db", db)
    assert all(t["revoked_at"] for t in json.loads(out)["trackers"])
    assert run(capsys, "trackers", "--list-id", "9", "--db", db)[1] == '{"trackers":[]}\n'


@pytest.mark.parametrize("args, said", [
    pytest.param(["--list-id", "9", "--origin", SITE], "no list with id 9", id="no-such-list"),
    pytest.param(["--list-id", "1", "--origin", "shop.example"], "'shop.example' is not an origin", id="not-an-origin"),
    pytest.param(["--list-id", "1", "--origin", f"{SITE}/cart"], "no path", id="a-path"),
    pytest.param(["--list-id", "1"], "needs an origin", id="nothing-to-use-it-from"),
])
def test_create_refusals_are_one_line_on_stderr(capsys, db, args, said):
    status, out, err = run(capsys, "create-tracker", *args, "--db", db)
    assert (status, out) == (1, "")
    assert err.startswith("octeth-tracking: ") and said in err and err.count("\n") == 1
    store = SQLiteStore(db)
    assert store.trackers() == []
    store.close()


def test_revoke_needs_a_key_or_an_id(capsys, db):
    with pytest.raises(SystemExit) as exited:
        main(["revoke-tracker", "--db", db])
    assert exited.value.code == 2 and "one of the arguments KEY --id is required" in capsys.readouterr().err


def test_snippet_points_at_the_public_url(capsys, db, monkeypatch):
    key = json.loads(run(capsys, "create-tracker", "--list-id", "1", "--origin", SITE, "--db", db)[1])["tracker_key"]
    status, out, err = run(capsys, "snippet", "--tracker", key, "--url", "https://track.example.com/api/v1", "--db", db)
    assert (status, out, err) == (0, snippet("https://track.example.com/api/v1", key, 1), "")
    monkeypatch.setenv("OCTETH_TRACKING_PUBLIC_URL", "https://from-env.example/t")
    assert run(capsys, "snippet", "--tracker", key, "--db", db)[1] == snippet("https://from-env.example/t", key, 1)
    status, out, err = run(capsys, "snippet", "--tracker", key, "--respect-privacy", "--db", db)
    assert "respectPrivacy: true" in out
    monkeypatch.delenv("OCTETH_TRACKING_PUBLIC_URL")
    status, out, err = run(capsys, "snippet", "--tracker", key, "--db", db)
    assert out == snippet("http://127.0.0.1:8000/api/v1", key, 1) and "OCTETH_TRACKING_PUBLIC_URL" in err


def revoked_key(store: SQLiteStore) -> str:
    tracker_id, key = store.create_tracker(1, [SITE])
    assert store.revoke_tracker(tracker_id)
    return key


@pytest.mark.parametrize("make_key", [
    pytest.param(lambda store: "otk_never-issued", id="unknown"),
    pytest.param(revoked_key, id="revoked"),
])
def test_snippet_refuses_a_key_that_would_not_work(capsys, db, make_key):
    store = SQLiteStore(db)
    key = make_key(store)
    store.close()
    status, out, err = run(capsys, "snippet", "--tracker", key, "--db", db)
    assert (status, out) == (1, "") and "no such tracker key" in err


def test_a_running_server_takes_the_key_then_refuses_it_once_revoked(tmp_path, db):
    done = subprocess.run([sys.executable, "-m", "octeth_tracking", "create-tracker", "--list-id", "1",
                           "--origin", SITE, "--db", db], capture_output=True, text=True, timeout=30, check=True)
    key = json.loads(done.stdout)["tracker_key"]
    at_rest = b"".join(path.read_bytes() for path in (Path(db), Path(db + "-wal")) if path.exists())
    assert key.encode() not in at_rest and digest(key).encode() in at_rest
    server = Server(tmp_path, "serve", "--port", "0", "--db", db, env={"OCTETH_TRACKING_AUTH_CACHE_TTL": "0"})
    body = json.dumps({"ListID": 1, "Event": "pageView", "ID": "v1"}).encode()
    headers = {"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"}
    try:
        assert server.request("/event?TrackerKey=" + key, body, headers=headers)[0] == 200
        assert server.request("/event?TrackerKey=" + key, body, headers={**headers, "Origin": "https://evil.example"}) == (
            403, {"Errors": [{"Code": 40, "Message": "Origin is not allowed for this tracker key."}]})
        revoke = subprocess.run([sys.executable, "-m", "octeth_tracking", "revoke-tracker", key, "--db", db],
                                capture_output=True, text=True, timeout=30)
        assert (revoke.returncode, revoke.stdout) == (0, '{"revoked":true}\n')
        assert server.request("/event?TrackerKey=" + key, body, headers=headers)[0] == 401
    finally:
        server.stop()
    store = SQLiteStore(db)
    assert store.count_events(1) == 1
    store.close()
