"""(c) The naive peer: the Flask view a user would otherwise write, kept honest.

``json.loads`` the body, validate it with a ``jsonschema`` validator built from the same
schema file, insert one row with ``sqlite3`` and commit (``synchronous=FULL`` in WAL
mode, like ours: durable before the 200). Settings come from the environment:
``BENCH_PEER_DB`` (the SQLite file) and ``BENCH_API_KEY`` (the one key it accepts).
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

import jsonschema
from flask import Flask, jsonify, request

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "event.schema.json").read_text())
validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
DB = os.environ.get("BENCH_PEER_DB", "peer.db")
API_KEY = os.environ.get("BENCH_API_KEY", "")

with sqlite3.connect(DB) as setup:
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, list_id INTEGER, uuid TEXT UNIQUE,"
                  " external_id TEXT, event TEXT, email TEXT, properties TEXT)")

app = Flask(__name__)


@app.post("/api/v1/event")
def track_event():
    try:
        body = json.loads(request.get_data())
    except ValueError:
        return jsonify(error="invalid JSON"), 400
    if not isinstance(body, dict):
        return jsonify(error="not an object"), 400
    body = {key.lower(): value for key, value in body.items()}
    if body.get("apikey") != API_KEY:
        return jsonify(error="authentication failed"), 401
    errors = [error.message for error in validator.iter_errors(body)]
    if errors:
        return jsonify(errors=errors), 422
    event_uuid = body.get("uuid") or str(uuid.uuid4())
    conn = sqlite3.connect(DB, timeout=5)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "INSERT INTO events (list_id, uuid, external_id, event, email, properties) VALUES (?, ?, ?, ?, ?, ?)",
            (int(body["listid"]), event_uuid, str(body.get("id", "")), body["event"], body.get("email"),
             json.dumps(body.get("properties", {}))),
        )
        conn.commit()
    finally:
        conn.close()
    return jsonify(status="success", uuid=event_uuid, external_id=str(body.get("id", "")))
