"""A micro server's routes (``serve --micro``): what a test suite asks of the events it caused.

Modelled on Snowplow Micro's ``/micro/all``, ``/micro/bad`` and ``/micro/reset``. No
credentials: a micro server holds one test account, in memory, on loopback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import Answer, json_response
from .journal import rejected_answer

if TYPE_CHECKING:
    from ..app import Call, TrackingApp
    from ..storage import Rejection, Store

MOST = 10_000  # rejections a micro route reads at once


def _store(app: TrackingApp) -> Store:
    return app.store  # type: ignore[return-value]  # a micro server's store is a whole Store


def _bad(app: TrackingApp) -> list[Rejection]:
    return _store(app).rejections(None, MOST)


def counts(app: TrackingApp, call: Call) -> Answer:
    """How many events were stored (good) and how many requests refused (bad)."""
    good, bad = _store(app).count_events(), len(_bad(app))
    return json_response({"total": good + bad, "good": good, "bad": bad})


def bad(app: TrackingApp, call: Call) -> Answer:
    """Every refused request, newest first (any caller, known or not)."""
    return json_response(rejected_answer(_bad(app)))


def reset(app: TrackingApp, call: Call) -> Answer:
    """Forget every event and refusal; the test account stays."""
    store = _store(app)
    return json_response({"status": "reset", "events": store.delete_all_events(), "rejected": store.clear_rejections()})
