"""The handlers of the route table (:data:`octeth_tracking.app.ROUTES`), one module per subject,
and the answers they share.

A handler is called once the checks its row asks for have passed (credentials, rate
limit, schema, list ownership), with the app and the :class:`~octeth_tracking.app.Call`
they filled in; it returns the answer.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Union

from werkzeug.wrappers import Response

from ..errors import json_body

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


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


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer that also serves GET and HEAD (werkzeug leaves out a HEAD's body)."""
    return Response(json_body(body), status=status, headers=headers, mimetype="application/json")


@lru_cache(maxsize=4096)  # a page's or a batch's events share a few times
def iso_time(seconds: float) -> str:
    """A time as the API writes it: ISO 8601, UTC, to the nearest millisecond (``2026-12-04T20:15:03.120Z``),
    as an event's own time is kept (event_time.EventTime): a receive time and an event time of one moment read alike."""
    moment = datetime.fromtimestamp(round(seconds * 1000) / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
