"""The naive peers' one view: what a user would otherwise write, kept honest.

``json.loads`` the body, validate it with a ``jsonschema`` validator built from the same
schema file, then ``insert`` one row and commit, durable before the 200. ``peer.py`` inserts
with ``sqlite3`` (c), ``peer_pg.py`` with psycopg (d).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Callable

import jsonschema
from flask import Flask, jsonify, request

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "event.schema.json").read_text())
validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def make_app(api_key: str, insert: Callable[[dict[str, Any], str], None]) -> Flask:
    """A Flask app answering ``POST /api/v1/event``; ``insert(body, uuid)`` stores one event and commits."""
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
        if body.get("apikey") != api_key:
            return jsonify(error="authentication failed"), 401
        errors = [error.message for error in validator.iter_errors(body)]
        if errors:
            return jsonify(errors=errors), 422
        event_uuid = body.get("uuid") or str(uuid.uuid4())
        insert(body, event_uuid)
        return jsonify(status="success", uuid=event_uuid, external_id=str(body.get("id", "")))

    return app


def row(body: dict[str, Any], event_uuid: str) -> tuple[Any, ...]:
    """(list_id, uuid, external_id, event, email, properties): the peers' one row."""
    return (int(body["listid"]), event_uuid, str(body.get("id", "")), body["event"], body.get("email"),
            json.dumps(body.get("properties", {})))
