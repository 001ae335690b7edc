"""``GET|POST /website_events.rejected``: the caller's own journal of rejected requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import Answer, iso_time, json_response

if TYPE_CHECKING:
    from ..app import Call, TrackingApp
    from ..storage import Rejection


def rejected_answer(rejections: list[Rejection]) -> dict[str, Any]:
    return {"Rejected": [{"Time": iso_time(r.at), "Route": r.route, "Status": r.status, "Errors": r.errors,
                          "Body": r.body} for r in rejections]}


def list_rejected(app: TrackingApp, call: Call) -> Answer:
    """The caller's rejected requests, newest first: when, where, why, and what was sent (redacted)."""
    limit = int(call.params.get("limit", 100))
    rejections = app.journal.read(call.user, limit) if app.journal is not None and call.user is not None else []
    return json_response(rejected_answer(rejections))
