"""CORS: which answers a web page of another origin may read, and the preflights that ask first.

Only a request authenticated by a tracker key, from an origin on that key's allowlist, gets
``Access-Control-Allow-Origin`` (that origin, never ``*``), so the tracker script can read its
result and retry only what failed. A request authenticated by a secret API key or session
never does, whatever its ``Origin``: a browser page that holds such a secret cannot read what
it gets back. A request that failed before its credentials were read (a body too large, not
JSON) is readable when the ``TrackerKey`` of its query string allows its origin: the script
puts it there, so that it can tell such an answer from a network failure.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) carries no body,
so it is answered for the ``TrackerKey`` in its query string: 204 and the CORS headers for an
origin on that key's list; 403 (code 40) for another origin, 403 (code 42) with no key, 401
for an unknown or revoked key. The script's requests need none: their body is ``text/plain``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from . import origins
from .credentials import TRACKER, query_value
from .errors import AuthenticationFailed, OriginNotAllowed, PreflightWithoutKey

if TYPE_CHECKING:
    from .app import Call, TrackingApp

MAX_AGE = 7200  # seconds a browser may reuse a preflight's answer (Chromium's own cap); each request is checked anyway
ALLOWED_HEADERS = "Content-Type"  # never Authorization: a secret has no business in a page


def preflight(app: TrackingApp, call: Call) -> Response:
    """The answer to ``OPTIONS`` on a route whose row accepts tracker keys."""
    assert call.route is not None
    environ = call.environ
    methods = ", ".join(sorted(call.route.methods))
    origin = environ.get("HTTP_ORIGIN")
    if origin is None or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in environ:
        return _empty({"Allow": methods})  # a plain OPTIONS, not a preflight
    key = query_value(call, TRACKER.parameter)
    if not key:
        raise PreflightWithoutKey()
    tracker = TRACKER.find(app, key)
    if tracker is None:
        raise AuthenticationFailed()
    if not origins.allowed(tracker.origins, origin):
        raise OriginNotAllowed()
    call.cors_origin = origin
    return _empty({
        "Access-Control-Allow-Methods": ", ".join(m for m in sorted(call.route.methods) if m != "OPTIONS"),
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(MAX_AGE),
    })


def _empty(headers: dict[str, str]) -> Response:
    """A 204 with these headers and no body (so no ``Content-Type`` either)."""
    response = Response(status=204, headers=headers)
    del response.headers["Content-Type"]
    return response


def readable_origin(app: TrackingApp, call: Call) -> str | None:
    """The origin that may read this answer, if any (see the module's rules)."""
    if call.cors_origin is not None or call.credential is not None:
        return call.cors_origin  # the credentials decided (a secret never sets it)
    route, origin = call.route, call.environ.get("HTTP_ORIGIN")
    if route is None or origin is None or TRACKER not in route.credentials:
        return None
    try:
        tracker = TRACKER.find(app, query_value(call, TRACKER.parameter))
    except Exception:  # the answer is an error already; a store that fails here only costs the header
        return None
    return origin if tracker is not None and origins.allowed(tracker.origins, origin) else None


def headers(origin: str) -> list[tuple[str, str]]:
    """What an answer readable by ``origin`` carries: ``Retry-After`` too, for the script's back-off."""
    return [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", "Retry-After"),
            ("Vary", "Origin")]
