"""``POST /events.batch``: many events under one set of credentials (the rules: :mod:`octeth_tracking.batch`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import batch
from . import Answer, JSONAnswer

if TYPE_CHECKING:
    from ..app import Call, Route, TrackingApp


def track_batch(app: TrackingApp, call: Call) -> Answer:
    """Store a batch's valid events (one ``record`` call) and answer every item by its index."""
    return JSONAnswer(batch.track(app, call))


def rate_costs(app: TrackingApp, route: Route, call: Call) -> list[tuple[str, int, int]]:
    """The limiter keys, limits and costs of a batch (:func:`octeth_tracking.batch.rate_costs`)."""
    return batch.rate_costs(app, route, call)
