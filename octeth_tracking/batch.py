"""Batches (``POST {mount}/events.batch``): many ``/event`` bodies under one set of credentials.

- The body: the credentials once (an API key, a session or a tracker key, as on ``/event``), an
  optional default ``ListID``, and ``Events`` (1 to ``max_batch_events`` objects), within
  ``max_batch_body_size`` bytes once decompressed. Its own rules (codes 54, 55) are in
  ``schemas/events.batch.schema.json``; a refusal of the batch itself is one answer, as on ``/event``.
- Each item is an ``/event`` body: lower-cased names, nulls dropped, the default ``ListID`` when it
  names none, then :meth:`TrackingApp.validate` with ``/event``'s schema and the caller's lists (a
  tracker key: its own list only) and :func:`~octeth_tracking.endpoints.events.prepare_event`,
  the one path ``/event`` takes too. An item that is not an object (code 55) or carries credentials (code 56:
  the batch's decide) is refused alone.
- Items are independent: the valid ones are stored in one ``record`` call (one transaction, in
  order, so a later item sees an earlier item's identify), and the answer lists every item by
  ``Index``, in order: ``/event``'s answer plus ``duplicate``, or ``Errors`` plus ``Retryable``
  (false: an item refused for what it holds fails the same way again).
- A store that cannot commit fails the whole batch (503, nothing stored): retrying it whole is
  exact for items with a ``UUID``; an item without one gets a new server UUID each time, so a
  retry may store it twice. Clients should send UUIDs.
- Rate limits count events: see :func:`rate_costs`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .body import parameter_names
from .endpoints.events import Prepared, event_answer, prepare_event, store_prepared
from .errors import InvalidParameters

if TYPE_CHECKING:
    from .app import Call, Route, TrackingApp

CREDENTIAL_NAMES = ("apikey", "sessionid", "trackerkey")


def rate_costs(app: TrackingApp, route: Route, call: Call) -> list[tuple[str, int, int]]:
    """What a batch counts against, in order: the batch route's own requests (``batch_rate_limit``,
    one per request), then ``/event``'s budgets at one per event, under the very keys ``/event``
    uses (an API key's user; a tracker key's visitors by ``ID``, then the key): N events cost the
    same whether sent one by one or in one batch. A batch over ``max_batch_events`` costs no
    events: it is refused whole."""
    assert call.credential is not None
    owner = f"tracker {call.tracker.id}" if call.tracker is not None else str(call.user)
    costs = [(f"{owner}:{route.name}", app.rate_limits.get(route.name, 0), 1)]
    events = call.params.get("events")
    if not isinstance(events, list) or len(events) > app.max_batch_events:
        return costs
    event_route = app.routes["/event"]
    if call.tracker is None:  # a secret's budget is the user's, whoever the visitors: no need to read them
        visitors = Counter({"": len(events)})
    else:
        visitors = Counter(str(parameter_names(item).get("id") or "") if isinstance(item, dict) else "" for item in events)
    budgets: dict[str, list[int]] = {}  # key -> [limit, cost]
    for visitor, count in visitors.items():
        one = replace(call, params={**call.params, "id": visitor})
        for key, limit in call.credential.rate_limits(app, event_route, one):
            budgets.setdefault(key, [limit, 0])[1] += count
    return costs + [(key, limit, cost) for key, (limit, cost) in budgets.items()]


def item_parameters(item: dict[str, Any], default_list: int | None) -> dict[str, Any]:
    """An item's parameters as ``/event`` sees its body's: the default ``ListID`` if it names none."""
    params = parameter_names(item)
    if "listid" not in params and default_list is not None:
        params["listid"] = default_list
    return params


def item_error(app: TrackingApp, code: int) -> InvalidParameters:
    """A refusal of one item by a rule of the batch's own schema (``x-octeth-item-errors``)."""
    schema = app.schemas["events.batch"]
    return InvalidParameters([(code, schema.messages[code], schema.schema["properties"]["events"]["x-octeth-item-errors"][str(code)])])


def track(app: TrackingApp, call: Call) -> dict[str, Any]:
    """The batch's answer: every item by ``Index``, stored or refused, and the counts."""
    received = app.clock()
    schema = app.schemas["event"]
    results: list[dict[str, Any] | Prepared] = []
    for item in call.params["events"]:
        try:
            if not isinstance(item, dict):
                raise item_error(app, 55)
            params = item_parameters(item, call.list_id)
            if any(name in params for name in CREDENTIAL_NAMES):
                raise item_error(app, 56)
            list_id = app.validate(schema, call, params)
            assert list_id is not None  # the event schema requires a ListID
            results.append(prepare_event(app, params, list_id, received))
        except InvalidParameters as error:
            results.append({"Errors": error.items(), "Retryable": False})
    prepared = [result for result in results if isinstance(result, Prepared)]
    receipts = iter(store_prepared(app, prepared))  # one record call; a StorageError: 503, nothing stored
    answers = []
    stored = duplicates = 0
    for index, result in enumerate(results):
        if isinstance(result, Prepared):
            receipt = next(receipts)
            duplicates += receipt.duplicate
            stored += not receipt.duplicate
            answers.append({"Index": index, **event_answer(result, receipt), "duplicate": receipt.duplicate})
        else:
            answers.append({"Index": index, **result})
    return {"status": "success", "Stored": stored, "Duplicates": duplicates,
            "Refused": len(results) - len(prepared), "Events": answers}
