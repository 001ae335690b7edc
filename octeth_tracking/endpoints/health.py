"""``GET /health``: for load balancers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StoreUnavailable
from . import Answer, json_response

if TYPE_CHECKING:
    from ..app import Call, TrackingApp


def health(app: TrackingApp, call: Call) -> Answer:
    """``GET /health``, for load balancers: 200 if the store can take a write now (within its
    ``health_timeout``, half a second), else 503 with ``Retry-After``; the rate limiter's state too."""
    store_ok = app.store.ping()
    return json_response({
        "status": "ok" if store_ok else "unavailable",
        "store": "ok" if store_ok else "unavailable",
        "rate_limiter": app.rate_limiter.status(),
    }, status=200 if store_ok else 503, headers=None if store_ok else StoreUnavailable().headers())
