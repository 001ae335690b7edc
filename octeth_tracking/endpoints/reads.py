"""``GET|POST /website_events.list`` and ``POST /website_events.forget``: events back out, and erasure."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameters, NotFound
from ..schemas import normalize_email
from ..storage.reads import EventQuery, EventReader, InvalidCursor, StoredEvent, decode_cursor
from ..times import parse_time
from . import Answer, iso_time, json_response
from .events import external_id

if TYPE_CHECKING:
    from ..app import Call, TrackingApp

log = logging.getLogger("octeth_tracking")


def event_answer(event: StoredEvent) -> dict[str, Any]:
    """One event as the API (and ``export``) writes it."""
    return {
        "UUID": event.uuid, "ListID": str(event.list_id), "ID": event.external_id, "Event": event.event,
        "Email": event.email, "Properties": event.properties, "IdentifyEventSent": event.identify_sent,
        "OccurredAt": iso_time(event.occurred_at), "ReceivedAt": iso_time(event.received_at),
    }


def _reader(app: TrackingApp) -> EventReader:
    if not hasattr(app.store, "read_events"):  # a store of a site's own that keeps events write-only
        raise NotFound()
    return app.store  # type: ignore[return-value]


def _checked(app: TrackingApp, call: Call) -> tuple[float | None, float | None]:
    """Since and Until in seconds, once they and the Cursor pass what the schema cannot check."""
    schema, found, errors = app.schemas["website_events.list"], [], []
    for name in ("since", "until"):
        try:
            found.append(None if call.params.get(name) is None else parse_time(call.params[name]))
        except (ValueError, OverflowError):  # well-formed for the schema, but no time (a 13th month)
            errors.append(schema.parameter_error(name))
    if call.params.get("cursor") is not None:
        try:
            decode_cursor(call.params["cursor"])
        except InvalidCursor:
            errors.append(schema.parameter_error("cursor"))
    if errors:
        raise InvalidParameters(errors)
    return found[0], found[1]


def list_events(app: TrackingApp, call: Call) -> Answer:
    """The list's events newest first, filtered, a page at a time (``NextCursor``: the next page)."""
    params = call.params
    assert call.list_id is not None  # the schema requires a ListID
    since, until = _checked(app, call)
    query = EventQuery(
        list_id=call.list_id,
        external_id=external_id(params["id"]) if "id" in params else None,
        email=normalize_email(params["email"]) if "email" in params else None,
        event=params.get("event"),
        since=since,
        until=until,
        limit=int(params.get("limit", 100)),
        cursor=params.get("cursor"),
    )
    try:
        page = _reader(app).read_events(query)
    except InvalidCursor:  # decodes, but holds what this store never wrote
        raise InvalidParameters([app.schemas["website_events.list"].parameter_error("cursor")]) from None
    return json_response({"ListID": str(call.list_id), "Events": [event_answer(e) for e in page.events],
                          "NextCursor": page.cursor})


def forget(app: TrackingApp, call: Call) -> Answer:
    """Erase a visitor's or a subscriber's events, links (and subscriber) in one list; idempotent."""
    params = call.params
    assert call.list_id is not None
    if "id" in params:
        erased = _reader(app).forget(call.list_id, external_id=external_id(params["id"]))
        whom = "a visitor"
    else:
        erased = _reader(app).forget(call.list_id, email=normalize_email(params["email"]))
        whom = "a subscriber"
    # Never the email or the visitor id: this line is the record that they were forgotten.
    log.info("erased %s of list %d: %d events, %d links, %d subscribers", whom, call.list_id,
             erased.events, erased.links, erased.subscribers)
    return json_response({"ListID": str(call.list_id), "Erased": {
        "Events": erased.events, "Links": erased.links, "Subscribers": erased.subscribers}})
