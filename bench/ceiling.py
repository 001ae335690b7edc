"""(b) The ceiling: a bare WSGI app that reads the body and answers a constant 200 JSON.

Whatever the server does per request is all it costs; nothing of ours can be faster.
"""

from __future__ import annotations

ANSWER = b'{"status": "success", "uuid": "00000000-0000-4000-8000-000000000000", "external_id": "x", "identify_event_sent": false}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]


def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", HEADERS)
    return [ANSWER]
