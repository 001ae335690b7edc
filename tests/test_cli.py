"""The command line, and the real server it starts, over real HTTP."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata

import pytest

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


@pytest.mark.parametrize("argv, environ, chosen", [
    pytest.param(["create-user", "ann", "--db", "given.db"], {}, "given.db", id="after-the-command"),
    pytest.param(["--db", "given.db", "create-user", "ann"], {}, "given.db", id="before-the-command"),
    pytest.param(["create-user", "ann"], {"OCTETH_TRACKING_DB": "env.db"}, "env.db", id="from-the-environment"),
    pytest.param(["--db", "given.db", "create-user", "ann"], {"OCTETH_TRACKING_DB": "env.db"}, "given.db",
                 id="the-option-wins-over-the-environment"),
    pytest.param(["create-user", "ann"], {}, "octeth_tracking.db", id="default"),
])
def test_the_database_is_the_one_named_wherever_it_is_named(capsys, monkeypatch, tmp_path, argv, environ, chosen):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OCTETH_TRACKING_DB", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert run(capsys, *argv)[0] == 0
    assert sorted(path.name for path in tmp_path.glob("*.db")) == [chosen]


@pytest.mark.parametrize("make, said", [
    pytest.param(lambda tmp: tmp / "missing" / "events.db", "no directory {tmp}/missing", id="no-directory"),
    pytest.param(lambda tmp: (tmp / "text.db").write_text("not a database" * 100) and tmp / "text.db",
                 "file is not a database", id="not-a-database"),
])
def test_a_database_that_cannot_be_opened_is_one_line_and_status_1(capsys, tmp_path, make, said):
    db = make(tmp_path)
    assert main(["create-user", "ann", "--db", str(db)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"octeth-tracking: cannot use the SQLite database {db}: {said.format(tmp=tmp_path)}\n"


def test_serve_takes_its_options_before_the_command_and_its_prefix_from_the_environment(tmp_path):
    server = Server(tmp_path, "--db", "before.db", "--port", "0", "serve", env={"OCTETH_TRACKING_PREFIX": "/elsewhere"})
    try:
        assert server.url.endswith("/elsewhere")
        assert server.request("/health", method="GET")[0] == 200
        assert (tmp_path / "before.db").exists() and not (tmp_path / "octeth_tracking.db").exists()
    finally:
        server.stop()


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


@pytest.mark.parametrize("setting, value, said", [
    pytest.param("MAX_BODY_SIZE", "-1", "max_body_size must be an integer, 1 or more, not -1", id="body-size"),
    pytest.param("WRITE_TIMEOUT", "0", "write_timeout must be a number of seconds above 0, not 0", id="write-timeout"),
    pytest.param("LOG_FORMAT", "xml", "log_format must be 'text' or 'json', not 'xml'", id="log-format"),
    pytest.param("METRICS_TOKEN", "short", "metrics_token must be text of 16 printable characters or more, or None,"
                 " not a str of 5 characters", id="metrics-token-not-repeated"),
])
@pytest.mark.parametrize("command", [pytest.param(["serve", "--port", "0"], id="serve"), pytest.param(["--port", "0"], id="quick-start")])
def test_a_wrong_setting_is_one_line_and_status_2_before_any_worker_or_file(tmp_path, setting, value, said, command):
    done = subprocess.run([sys.executable, "-m", "octeth_tracking", *command, "--db", str(tmp_path / "s.db")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, f"OCTETH_TRACKING_{setting}": value})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"octeth-tracking: {said} (the setting OCTETH_TRACKING_{setting})\n"
    assert list(tmp_path.iterdir()) == []  # no store made, no user created


def test_version_and_plain_text_help(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"octeth-tracking {metadata.version('octeth-tracking')}\n"
    for argv in (["--help"], ["serve", "--help"], ["revoke-session", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        shown = capsys.readouterr().out
        assert shown.startswith("usage: octeth-tracking")
        assert not re.search(r"``|:class:|:mod:|:param", shown), shown  # no reST markup


def test_a_second_start_says_how_to_get_a_key_that_works(tmp_path):
    Server(tmp_path, "--port", "0").stop()  # the first start made the user
    server = Server(tmp_path, "--port", "0")
    try:
        said = [server.process.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert said[0] == "The store has a user already. Get an API key for user 1 with:\n"
        done = subprocess.run(shlex.split(said[1]), cwd=tmp_path, capture_output=True, text=True, timeout=30)
        key = json.loads(done.stdout)["api_key"]
        status, _ = server.post("/event", json.dumps({"APIKey": key, "ListID": 1, "Event": "pageView"}).encode())
        assert status == 200
    finally:
        server.stop()
