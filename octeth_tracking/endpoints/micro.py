"""A micro server's routes (``serve --micro``): what a test suite asks of the events it caused.

Modelled on Snowplow Micro's ``/micro/all``, ``/micro/good``, ``/micro/bad`` and ``/micro/reset``. No
credentials: a micro server holds one test account, in memory, on loopback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from ..storage.reads import EventQuery
from . import Answer, json_response
from .journal import rejected_answer
from .reads import event_answer

if TYPE_CHECKING:
    from ..app import Call, TrackingApp
    from ..storage import Rejection, Store

MOST = 10_000  # events or rejections a micro route reads at once


def _store(app: TrackingApp) -> Store:
    return app.store  # type: ignore[return-value]  # a micro server's store is a whole Store


def _bad(app: TrackingApp) -> list[Rejection]:
    return _store(app).rejections(None, MOST)


def counts(app: TrackingApp, call: Call) -> Answer:
    """How many events were stored (good) and how many requests refused (bad)."""
    good, bad = _store(app).count_events(), len(_bad(app))
    return json_response({"total": good + bad, "good": good, "bad": bad})


def good(app: TrackingApp, call: Call) -> Answer:
    """Every stored event, newest first, as ``website_events.list`` gives them; ``?Event=`` and
    ``?ID=`` (either case) keep only those of that name, or of that visitor."""
    params = {key.lower(): value for key, value in parse_qsl(call.environ.get("QUERY_STRING", ""))}
    page = _store(app).read_events(EventQuery(None, external_id=params.get("id"), event=params.get("event"), limit=MOST))
    return json_response({"Events": [event_answer(event) for event in page.events]})


def bad(app: TrackingApp, call: Call) -> Answer:
    """Every refused request, newest first (any caller, known or not)."""
    return json_response(rejected_answer(_bad(app)))


def reset(app: TrackingApp, call: Call) -> Answer:
    """Forget every event and refusal; the test account stays."""
    store = _store(app)
    return json_response({"status": "reset", "events": store.delete_all_events(), "rejected": store.clear_rejections()})
