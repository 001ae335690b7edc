"""The command line, and the real server it starts, over real HTTP."""

from __future__ import annotations

import json
import shlex
import subprocess

from octeth_tracking.cli import main
from servers import Server


def run(capsys, *argv):
    status = main(list(argv))
    out = capsys.readouterr().out
    return status, out


def test_create_commands_print_one_json_object_each(capsys, tmp_path):
    db = str(tmp_path / "cli.db")
    status, out = run(capsys, "create-user", "ann", "--db", db)
    created = json.loads(out)
    assert status == 0 and created.keys() == {"user_id", "api_key"}
    user = str(created["user_id"])
    status, out = run(capsys, "create-list", "--user-id", user, "Newsletter", "--db", db)
    assert status == 0 and json.loads(out) == {"list_id": 1}
    status, out = run(capsys, "create-api-key", "--user-id", user, "--db", db)
    assert status == 0 and json.loads(out).keys() == {"api_key"}
    status, out = run(capsys, "create-session", "--user-id", user, "--ttl", "60", "--db", db)
    assert status == 0 and json.loads(out).keys() == {"session_id"}
    status, out = run(capsys, "properties", "--list-id", "1", "--db", db)
    assert status == 0 and out == '{"ListID":"1","Properties":{}}\n'  # the endpoint's own bytes
    status, out = run(capsys, "revoke-api-key", created["api_key"], "--db", db)
    assert status == 0 and json.loads(out) == {"revoked": True}


def test_errors_go_to_stderr_with_nonzero_status(capsys, tmp_path):
    db = str(tmp_path / "cli.db")
    assert main(["create-list", "--user-id", "7", "x", "--db", db]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no user with id 7" in captured.err
    assert main(["properties", "--list-id", "7", "--db", db]) == 1
    assert json.loads(capsys.readouterr().out)["Errors"][0]["Code"] == 3


def test_no_arguments_creates_an_account_and_prints_a_curl_that_works(tmp_path):
    server = Server(tmp_path, "--port", "0")
    try:
        printed = [server.process.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        curl = printed[2].strip()
        assert curl.startswith("curl ") and server.url + "/event" in curl
        done = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=30)
        answer = json.loads(done.stdout)
        assert answer["status"] == "success" and answer["external_id"] == "visitor-1"
        body = json.loads(shlex.split(curl)[-1])
        status, answer = server.post("/website_events.properties", json.dumps(
            {"APIKey": body["APIKey"], "ListID": body["ListID"]}).encode())
        assert (status, answer["Properties"]) == (200, {"pageView": ["url"]})
    finally:
        log = server.stop()
    # One line per request, and never the key.
    assert log.count("POST /api/v1/event 200") == 1
    assert body["APIKey"] not in log
    assert (tmp_path / "octeth_tracking.db").exists()


def test_real_server_answers_errors_as_json(tmp_path):
    server = Server(tmp_path, "serve", "--port", "0", "--prefix", "/elsewhere")
    try:
        assert server.post("/event", b"{}")[0] == 401
        assert server.post("/event", b"nope") == (400, {"Errors": [{"Code": 20, "Message": "Request body is not valid JSON."}]})
        assert server.post("/event", b"", method="GET")[0] == 405
        assert server.post("/nothing", b"{}")[0] == 404
        assert server.post("/event", b"{" + b" " * 70_000 + b"}")[0] == 413
    finally:
        server.stop()


def test_a_new_key_never_starts_with_a_dash_so_commands_accept_it(monkeypatch, capsys, tmp_path):
    drawn = iter(["-looks-like-an-option", "plain-key"])
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: next(drawn))
    db = str(tmp_path / "cli.db")
    status, out = run(capsys, "create-user", "ann", "--db", db)
    assert status == 0 and json.loads(out)["api_key"] == "plain-key"
    status, out = run(capsys, "revoke-api-key", "plain-key", "--db", db)
    assert (status, json.loads(out)) == (0, {"revoked": True})
