"""``GET /metrics``: Prometheus' text format, behind its own token (see :mod:`octeth_tracking.metrics`)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from ..errors import MetricsUnauthorized
from . import Answer

if TYPE_CHECKING:
    from ..app import Call, TrackingApp

# Prometheus' text format as every Prometheus reads it (our names need none of version 1.0.0's escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(app: TrackingApp, call: Call) -> Answer:
    """``GET /metrics``: the page, for a request bearing ``Authorization: Bearer <metrics_token>``."""
    metrics = app.metrics
    assert metrics is not None  # the route is there only with a token set
    authorization = call.environ.get("HTTP_AUTHORIZATION", "")
    given = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), metrics.token):
        raise MetricsUnauthorized()
    return Response(metrics.page(app), content_type=CONTENT_TYPE)
