"""JSON log lines: one object a line for access and error lines, with no secret in any of them."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from werkzeug.test import Client

from conftest import make_account
from octeth_tracking import JSONFormatter, SQLiteStore, create_app
from servers import Server


def test_access_and_error_records_format_as_one_json_object_each(store, account, caplog):
    caplog.set_level(logging.INFO)
    client = Client(create_app(store=store))
    client.get("/api/v1/website_events.properties?" + urlencode({"ListID": account.list_id, "APIKey": account.api_key}))

    def broken(events):
        raise RuntimeError("store exploded")

    store.record = broken
    client.post("/api/v1/event", json={"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})
    lines = [JSONFormatter().format(record) for record in caplog.records]
    assert all("\n" not in line for line in lines)  # a traceback too stays on its line
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == "octeth_tracking.access"]
    assert [(e["method"], e["path"], e["status"], e["route"]) for e in access] == [
        ("GET", "/api/v1/website_events.properties", 200, "properties"), ("POST", "/api/v1/event", 500, "event")]
    assert all(isinstance(e["duration_ms"], float) and e["time"].endswith("Z") and e["level"] == "INFO" for e in access)
    (error,) = [e for e in entries if e["level"] == "ERROR"]
    assert error["logger"] == "octeth_tracking" and "RuntimeError: store exploded" in error["exception"]
    assert account.api_key not in "".join(lines)


def test_a_server_with_json_logs_writes_only_json_lines_without_secrets(tmp_path):
    db = tmp_path / "events.db"
    store = SQLiteStore(db)
    account = make_account(store)
    store.close()
    server = Server(tmp_path, "serve", "--port", "0", "--db", str(db), "--log-format", "json")
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    try:
        assert server.event(body)[0] == 200
        assert server.event({**body, "APIKey": "wrong-key-that-must-not-be-logged"})[0] == 401
        assert server.request("/website_events.properties?" + urlencode(
            {"ListID": account.list_id, "APIKey": account.api_key}), method="GET")[0] == 200
    finally:
        log = server.stop()
    lines = [line for line in log.splitlines() if not line.startswith("Serving the Event Tracking API")]
    entries = [json.loads(line) for line in lines]  # every line is a JSON object
    assert [(e["method"], e["status"]) for e in entries if e["logger"] == "octeth_tracking.access"] == [
        ("POST", 200), ("POST", 401), ("GET", 200)]
    assert account.api_key not in log and "wrong-key-that-must-not-be-logged" not in log


def test_the_setting_gives_an_embedded_app_json_lines_without_touching_the_root_logger(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OCTETH_TRACKING_LOG_FORMAT", "json")
    root_handlers = list(logging.getLogger().handlers)
    ours = logging.getLogger("octeth_tracking")
    before = (list(ours.handlers), ours.level, ours.propagate)
    try:
        app = create_app(db=str(tmp_path / "e.db"))
        Client(app).post("/api/v1/event", json={})
        (line,) = capsys.readouterr().err.splitlines()
        assert json.loads(line)["status"] == 401
        assert logging.getLogger().handlers == root_handlers
    finally:
        ours.handlers, ours.level, ours.propagate = before
        app.mounts["/api/v1"].store.close()
