"""The handlers of the route table (:data:`octeth_tracking.app.ROUTES`).

A handler is called once the checks its row asks for have passed (credentials, rate
limit, schema, list ownership), with the app and the :class:`~octeth_tracking.app.Call`
they filled in; it returns the answer.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import TYPE_CHECKING, Any, Iterable, Union

from werkzeug.wrappers import Response

from .errors import json_body
from .schemas import normalize_email
from .storage import Event, Receipt, sends_identify

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .app import Call, TrackingApp


class JSONAnswer:
    """A 200 JSON answer to a POST, without the machinery of werkzeug's ``Response`` (the hot path).

    :param body: the JSON object to send.
    """

    status_code = 200

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json_body(body)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))])
        return [self.body]


Answer = Union[Response, JSONAnswer]


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON answer that also serves GET and HEAD (werkzeug leaves out a HEAD's body)."""
    return Response(json_body(body), status=status, mimetype="application/json")


def external_id(value: str | int | float | None) -> str:
    """The visitor id as text: an integral number such as ``42`` or ``42.0`` (the schema's
    "integer" takes both) is written ``"42"``."""
    if value is None or isinstance(value, str):
        return value or ""
    return str(int(value))


def track_event(app: TrackingApp, call: Call) -> Answer:
    """``POST /event``: store one event (or, with ``Properties.isTest``, answer as if stored)."""
    params = call.params
    assert call.list_id is not None  # the schema requires a ListID
    properties = params.get("properties", {})
    email = params.get("email")
    event = Event(
        list_id=call.list_id,
        uuid=str(params.get("uuid") or uuid_module.uuid4()).lower(),
        external_id=external_id(params.get("id")) or str(uuid_module.uuid4()),
        event=params["event"],
        email=normalize_email(email) if email else None,
        properties=properties,
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


def health(app: TrackingApp, call: Call) -> Answer:
    """``GET /health``, for load balancers: 200 if the store answers, else 503; the rate limiter's state too."""
    store_ok = app.store.ping()
    return json_response({
        "status": "ok" if store_ok else "unavailable",
        "store": "ok" if store_ok else "unavailable",
        "rate_limiter": app.rate_limiter.status(),
    }, status=200 if store_ok else 503)
