"""``POST /event`` and ``GET|POST /website_events.properties``: the two endpoints of Octeth's reference."""

from __future__ import annotations

import uuid as uuid_module
from typing import TYPE_CHECKING

from ..schemas import normalize_email
from ..storage import Event, Receipt, sends_identify
from . import Answer, JSONAnswer, json_response
from .identify import identified

if TYPE_CHECKING:
    from ..app import Call, TrackingApp


def external_id(value: str | int | float | None) -> str:
    """The visitor id as text: an integral number such as ``42`` or ``42.0`` (the schema's
    "integer" takes both) is written ``"42"``."""
    if value is None or isinstance(value, str):
        return value or ""
    return str(int(value))


def track_event(app: TrackingApp, call: Call) -> Answer:
    """``POST /event``: store one event (or, with ``Properties.isTest``, answer as if stored).

    Whom it identifies, and an identify's custom fields, come from :func:`.identify.identified`.
    """
    params = call.params
    assert call.list_id is not None  # the schema requires a ListID
    properties = params.get("properties", {})
    visitor = external_id(params.get("id")) or str(uuid_module.uuid4())
    email = normalize_email(params["email"]) if params.get("email") else None
    email, fields = identified(app, call.list_id, params, visitor, email)
    event = Event(
        list_id=call.list_id,
        uuid=str(params.get("uuid") or uuid_module.uuid4()).lower(),
        external_id=visitor,
        event=params["event"],
        email=email,
        properties=properties,
        fields=fields,
    )
    if properties.get("isTest") is True:
        linked = app.store.subscriber_email(event.list_id, event.external_id) if event.email else None
        receipt = Receipt(event.uuid, event.external_id, sends_identify(event, linked))
    else:
        (receipt,) = app.store.record([event])
    return JSONAnswer({
        "status": "success",
        "uuid": receipt.uuid,
        "external_id": receipt.external_id,
        "identify_event_sent": receipt.identify_event_sent,
    })


def list_properties(app: TrackingApp, call: Call) -> Answer:
    """``GET|POST /website_events.properties``: every event name of the list with its property names."""
    assert call.list_id is not None  # the schema requires a ListID
    return json_response({"ListID": str(call.list_id), "Properties": app.store.properties(call.list_id)})
