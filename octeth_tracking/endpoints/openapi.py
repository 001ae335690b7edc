"""``GET /openapi.json``: the app's OpenAPI 3.1 document, as configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import openapi
from . import Answer, json_response

if TYPE_CHECKING:
    from ..app import Call, TrackingApp


def document(app: TrackingApp, call: Call) -> Answer:
    """This API's OpenAPI 3.1 document: every route, its parameters, answers and codes."""
    return json_response(openapi.document(app, server=call.environ.get("SCRIPT_NAME", "")))
