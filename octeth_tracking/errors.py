"""Every failure the API reports, and the one place that turns it into a response.

A raised :class:`APIError` is itself a WSGI response (as werkzeug's ``HTTPException``
is): :meth:`APIError.get_response` gives ``{"Errors": [{"Code": N, "Message": "..."}]}``
with the error's HTTP status. Codes 1-18, 70 and 71 belong to request bodies and are declared,
with their messages, in ``schemas/``; the codes below belong to the transport (71 again:
``/api.php`` reads ``Command`` before any schema).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Iterable

import orjson
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def json_body(obj: object) -> bytes:
    """Every JSON answer of the API is written by this one function: compact, UTF-8."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # an integer past 64 bits (the OpenAPI document's bounds): the json module writes it
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class APIError(Exception):
    """A request the API refuses; carries one or more (code, message) pairs."""

    status = 500
    code = 0
    message = ""

    def __init__(self, errors: Iterable[tuple[int, str]] | None = None) -> None:
        self.errors = sorted(dict(errors).items()) if errors else [(self.code, self.message)]
        super().__init__(self.errors)

    @property
    def codes(self) -> list[int]:
        return [code for code, _ in self.errors]

    def headers(self) -> dict[str, str]:
        return {}

    detail = ""  # a 422's own words on what was wrong (every 422 item has a Detail; see InvalidParameters)

    def items(self) -> list[dict[str, object]]:
        """The ``Errors`` items of the answer."""
        if self.detail:
            return [{"Code": code, "Message": message, "Detail": self.detail} for code, message in self.errors]
        return [{"Code": code, "Message": message} for code, message in self.errors]

    def get_response(self) -> Response:
        body = {"Errors": self.items()}
        return Response(
            json_body(body), status=self.status, headers=self.headers(), mimetype="application/json"
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.get_response()(environ, start_response)


class InvalidParameters(APIError):
    """The body breaks rules of its JSON Schema (HTTP 422); codes, messages and each item's
    ``Detail`` (what the rule asked for) come from the schema.

    :param errors: (code, message, detail) triples, each code once.
    """

    status = 422

    def __init__(self, errors: Iterable[tuple[int, str, str]]) -> None:
        found = list(errors)
        super().__init__((code, message) for code, message, _ in found)
        self.details = {code: detail for code, _, detail in found}

    def items(self) -> list[dict[str, object]]:
        return [{**item, "Detail": self.details[item["Code"]]} for item in super().items()]  # type: ignore[index]


class AuthenticationFailed(APIError):
    """No credentials, or unknown, revoked or expired ones (Octeth's own code)."""

    status = 401
    code = 99998
    message = "Authentication failure or session expired"


class InvalidJSON(APIError):
    """The body is not UTF-8 JSON (or holds NaN, Infinity or a number out of range)."""

    status = 400
    code = 20
    message = "Request body is not valid JSON."


class NotAnObject(APIError):
    """The body is JSON but not an object."""

    status = 400
    code = 21
    message = "Request body must be a JSON object."


class InvalidForm(APIError):
    """A form body (``/api.php``) that is not UTF-8 once its percent-escapes are decoded."""

    status = 400
    code = 73
    message = "Request body is not a valid form."


class InvalidCommand(APIError):
    """``/api.php``: a ``Command`` that names no endpoint (the same code as a ``Command`` that
    names another endpoint on an ``/api/v1`` route, which the schemas give)."""

    status = 422
    code = 71
    message = "Invalid Command parameter."
    detail = "Command must name an endpoint: event.track or website_events.properties"


class MissingCommand(APIError):
    """``/api.php`` without a ``Command`` (or with an empty one): it names the endpoint."""

    status = 422
    code = 72
    message = "Missing Command parameter."
    detail = "Command is required on /api.php: event.track or website_events.properties"


class NotFound(APIError):
    """No endpoint at this path."""

    status = 404
    code = 22
    message = "Not found."


class MethodNotAllowed(APIError):
    """The endpoint exists but not for this method; ``Allow`` lists the ones it takes."""

    status = 405
    code = 23
    message = "Method not allowed."

    def __init__(self, allowed: Iterable[str]) -> None:
        super().__init__()
        self.allowed = sorted(allowed)

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class BodyTooLarge(APIError):
    """The body is over ``max_body_size`` bytes."""

    status = 413
    code = 24
    message = "Request body is too large."


class UnsupportedEncoding(APIError):
    """A ``Content-Encoding`` other than ``gzip``, ``deflate``, ``zstd`` (with ``zstandard`` installed) or ``identity``."""

    status = 415
    code = 30
    message = "Unsupported Content-Encoding."


class UndecodableBody(APIError):
    """A compressed body whose stream is corrupt or cut short."""

    status = 400
    code = 31
    message = "Request body could not be decompressed."


class RateLimited(APIError):
    """Too many requests from this user to this endpoint in the current window."""

    status = 429
    code = 25
    message = "Rate limit exceeded."

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = max(1, math.ceil(retry_after))  # never a second early

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InternalError(APIError):
    """A fault of ours, not the client's; logged with its traceback, never shown."""

    status = 500
    code = 27
    message = "Internal error."


class StoreUnavailable(APIError):
    """The store could not commit in time (it raised a ``StorageError``); nothing was stored and a retry is safe."""

    status = 503
    code = 26
    message = "Event store is unavailable, try again."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class OriginNotAllowed(APIError):
    """A tracker key used from a web page whose ``Origin`` is not on the key's allowlist; nothing stored."""

    status = 403
    code = 40
    message = "Origin is not allowed for this tracker key."


class OriginRequired(APIError):
    """A tracker key used without an ``Origin`` (from a server) that was not created for server-side use."""

    status = 403
    code = 41
    message = "This tracker key is for web pages only: the request has no Origin."


class PreflightWithoutKey(APIError):
    """A CORS preflight that names no ``TrackerKey`` in its query string: it carries no body to find one in."""

    status = 403
    code = 42
    message = "A preflight request must name its TrackerKey in the query string."


class MetricsUnauthorized(APIError):
    """``/metrics`` without its token (``Authorization: Bearer <metrics_token>``), or with another."""

    status = 401
    code = 60
    message = "Metrics token is missing or wrong."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="metrics"'}
