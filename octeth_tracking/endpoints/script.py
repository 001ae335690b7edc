"""``GET /tracker.js``: the browser tracker (see :mod:`octeth_tracking.browser`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.http import parse_accept_header, parse_etags
from werkzeug.wrappers import Response

from ..browser import script
from . import Answer

if TYPE_CHECKING:
    from ..app import Call, TrackingApp

# An hour before a browser asks again (with If-None-Match: a 304 when nothing changed), so a
# new version reaches every page within the hour.
CACHE_CONTROL = "public, max-age=3600"


def tracker_js(app: TrackingApp, call: Call) -> Answer:
    """The script, gzip-compressed for a browser that takes it; 304 for a browser that has it."""
    environ = call.environ
    found = script()
    gzipped = parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING")).quality("gzip") > 0
    etag = found.gzip_etag if gzipped else found.etag
    headers = {
        "ETag": f'"{etag}"', "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding",
        "Cross-Origin-Resource-Policy": "cross-origin",  # so that a page isolated by COEP may load it too
    }
    if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(etag):
        return Response(status=304, headers=headers)
    headers["X-Content-Type-Options"] = "nosniff"
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(found.gzipped if gzipped else found.plain, headers=headers, content_type="text/javascript; charset=utf-8")
