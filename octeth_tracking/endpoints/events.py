"""``POST /event`` and ``GET|POST /website_events.properties``: the two endpoints of Octeth's reference."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ..schemas import normalize_email
from ..storage import Event, Receipt, sends_identify
from ..uuids import uuid7
from . import Answer, JSONAnswer, iso_time, json_response
from .identify import identified

if TYPE_CHECKING:
    from ..app import Call, TrackingApp


def external_id(value: str | int | float | None) -> str:
    """The visitor id as text: an integral number such as ``42`` or ``42.0`` (the schema's
    "integer" takes both) is written ``"42"``."""
    if value is None or isinstance(value, str):
        return value or ""
    return str(int(value))


@dataclass(frozen=True)
class Prepared:
    """An event ready for the store, and what its answer needs beside the store's receipt."""

    event: Event
    adjusted: str | None = None  # the bound that moved its time (event_time.FUTURE), if one did
    test: bool = False  # Properties.isTest: answered as if stored, never stored


def prepare_event(app: TrackingApp, params: dict[str, Any], list_id: int, received: float) -> Prepared:
    """The one path from an ``/event`` body's parameters (checked by its schema, ``list_id`` the
    caller's) to its event: ``/event`` and every item of ``/events.batch`` come through here.

    Whom it identifies, and an identify's custom fields, come from :func:`.identify.identified`;
    its time from :mod:`~octeth_tracking.event_time` (422 for a bad or too old one).
    """
    when = app.time_rules.decide(app.schemas["event"], params, received)
    properties = params.get("properties", {})
    visitor = external_id(params.get("id")) or str(uuid_module.uuid4())
    email = normalize_email(params["email"]) if params.get("email") else None
    email, fields = identified(app, list_id, params, visitor, email)
    event = Event(
        list_id=list_id,
        uuid=str(params.get("uuid") or uuid7()).lower(),  # a client's UUID of any version, as sent
        external_id=visitor,
        event=params["event"],
        email=email,
        properties=properties,
        fields=fields,
        occurred_at=when.occurred_at,
    )
    return Prepared(event, when.adjusted, properties.get("isTest") is True)


def store_prepared(app: TrackingApp, prepared: Sequence[Prepared]) -> list[Receipt]:
    """Receipts for prepared events, in order: one ``record`` call for all that are not tests
    (one transaction, each event seeing the links of those before it)."""
    stored = iter(app.store.record([p.event for p in prepared if not p.test]) if any(not p.test for p in prepared) else [])
    receipts = []
    for item in prepared:
        if item.test:
            event = item.event
            linked = app.store.subscriber_email(event.list_id, event.external_id) if event.email else None
            receipts.append(Receipt(event.uuid, event.external_id, sends_identify(event, linked)))
        else:
            receipts.append(next(stored))
    return receipts


def event_answer(prepared: Prepared, receipt: Receipt) -> dict[str, Any]:
    """``/event``'s answer: Octeth's four names, then the stored time (and the bound that moved it)."""
    answer: dict[str, Any] = {
        "status": "success",
        "uuid": receipt.uuid,
        "external_id": receipt.external_id,
        "identify_event_sent": receipt.identify_event_sent,
        "occurred_at": iso_time(receipt.occurred_at if receipt.occurred_at is not None else prepared.event.occurred_at or 0.0),
    }
    if prepared.adjusted and not receipt.duplicate:
        answer["time_adjusted"] = prepared.adjusted
    return answer


def track_event(app: TrackingApp, call: Call) -> Answer:
    """``POST /event``: store one event (or, with ``Properties.isTest``, answer as if stored)."""
    assert call.list_id is not None  # the schema requires a ListID
    prepared = prepare_event(app, call.params, call.list_id, app.clock())
    (receipt,) = store_prepared(app, [prepared])
    return JSONAnswer(event_answer(prepared, receipt))


def list_properties(app: TrackingApp, call: Call) -> Answer:
    """``GET|POST /website_events.properties``: every event name of the list with its property names."""
    assert call.list_id is not None  # the schema requires a ListID
    return json_response({"ListID": str(call.list_id), "Properties": app.store.properties(call.list_id)})
