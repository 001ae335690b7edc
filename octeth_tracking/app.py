"""The WSGI application: routing and the request cycle of both endpoints.

Order of checks, for every request: route (404, 405), size (413), body (400),
credentials (401), rate limit (429), parameters (422). Any :class:`APIError` raised on
the way becomes the JSON answer in ``__call__``, the one place that does so.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid as uuid_module
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable
from urllib.parse import parse_qsl

import orjson
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_input_stream

from .auth import Authenticator, StoreAuthenticator
from .errors import (
    APIError, AuthenticationFailed, json_body, BodyTooLarge, InternalError, InvalidJSON, InvalidParameters,
    MethodNotAllowed, NotAnObject, NotFound, RateLimited,
)
from .ratelimit import MemoryRateLimiter, RateLimiter
from .schemas import BodySchema, normalize_email
from .storage import Event, Receipt, Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("octeth_tracking")
access_log = logging.getLogger("octeth_tracking.access")

# Path (relative to the mount point) -> (endpoint, methods).
ROUTES = {
    "/event": ("event", ("POST",)),
    "/website_events.properties": ("properties", ("GET", "HEAD", "POST")),
    "/health": ("health", ("GET", "HEAD")),
}

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# orjson reads an integer past 64 bits as a float: a body with a run of 19 digits takes
# the json module's path. (Mapping every digit to "0" and searching is 5x faster than a regex.)
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or isinstance(value, float) and math.isfinite(value))


def _whole(value: Any) -> bool:
    """An integer, or a number with no fraction (``100.0``, ``1e5``: as JSON Schema counts them)."""
    return _number(value) and (isinstance(value, int) or value.is_integer())


# What each number TrackingApp takes must be, and whether it is a whole one: a wrong type or
# range fails when the app is built, naming the argument and its setting, rather than as a
# 500 on every request.
_ARGUMENT_RULES: dict[str, tuple[str, Callable[[Any], bool], bool]] = {
    "event_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "properties_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "rate_limit_window": ("a number of seconds above 0", lambda v: _number(v) and v > 0, False),
    "auth_cache_ttl": ("a number of seconds, 0 or more", lambda v: _number(v) and v >= 0, False),
    "max_body_size": ("an integer, 1 or more", lambda v: _whole(v) and v >= 1, True),
    **{name: ("an integer, 0 or more, or None", lambda v: v is None or (_whole(v) and v >= 0), True) for name in (
        "max_event_length", "max_properties", "max_property_name_length", "max_properties_depth", "max_string_length")},
}


def _checked(arguments: dict[str, Any]) -> dict[str, Any]:
    """The numbers among ``arguments``, checked, a whole one as an ``int``."""
    checked = {}
    for name, (rule, valid, whole) in _ARGUMENT_RULES.items():
        value = arguments[name]
        if not valid(value):
            raise ValueError(f"{name} must be {rule}, not {value!r} (the setting OCTETH_TRACKING_{name.upper()})")
        checked[name] = int(value) if whole and value is not None else value
    return checked


def declared_length(environ: WSGIEnvironment) -> int | None:
    """The body's ``Content-Length``, if it is what frames the body: digits, and no ``Transfer-Encoding``
    (whose framing wins, RFC 9112). ``"²".isdigit()`` is true too: ASCII digits only."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if environ.get("HTTP_TRANSFER_ENCODING") or not (declared.isascii() and declared.isdigit()):
        return None
    return int(declared)


def _external_id(value: str | int | float | None) -> str:
    """The visitor id as text: an integral number such as ``42`` or ``42.0`` (the schema's
    "integer" takes both) is written ``"42"``."""
    if value is None or isinstance(value, str):
        return value or ""
    return str(int(value))


def _json(body: dict[str, Any]) -> Response:
    return Response(json_body(body), mimetype="application/json")


class _Success:
    """A 200 JSON answer to a POST, without the machinery of werkzeug's ``Response`` (the hot path).

    :param body: the JSON object to send.
    """

    status_code = 200

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json_body(body)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))])
        return [self.body]


class TrackingApp:
    """Octeth's Event Tracking API as a WSGI application, free of any mount prefix.

    It answers ``POST /event`` and ``GET|POST /website_events.properties`` relative to
    wherever it is mounted (``SCRIPT_NAME``). ``create_app()`` builds one from settings.

    :param store: where events, the property registry and (by default) accounts live.
    :param authenticator: checks credentials and list ownership; default: the store's accounts.
    :param rate_limiter: counts requests per user and endpoint; default: in process memory.
    :param event_rate_limit: requests per window per user to ``/event``; 0 switches it off.
    :param properties_rate_limit: the same for ``website_events.properties``.
    :param rate_limit_window: the window, in seconds.
    :param auth_cache_ttl: seconds the default authenticator remembers a found API key and a
        list's owner (so a revoked key works that long at most); 0 switches it off.
    :param max_body_size: bytes; a larger body gets 413 and is not read.
    :param max_event_length: longest event name; ``None`` keeps the schema's (255).
    :param max_properties: most top-level names in ``Properties``; ``None``: schema's (200).
    :param max_property_name_length: longest property name; ``None``: schema's (255).
    :param max_properties_depth: deepest nesting in ``Properties``; ``None``: schema's (8).
    :param max_string_length: longest string value (or nested name) in ``Properties``; ``None``: schema's (8192).

    Usage::

        from octeth_tracking import SQLiteStore, TrackingApp
        app = TrackingApp(store=SQLiteStore("events.db"))
    """

    def __init__(
        self,
        *,
        store: Store,
        authenticator: Authenticator | None = None,
        rate_limiter: RateLimiter | None = None,
        event_rate_limit: int = 5000,
        properties_rate_limit: int = 100,
        rate_limit_window: float = 60.0,
        auth_cache_ttl: float = 5.0,
        max_body_size: int = 64 * 1024,
        max_event_length: int | None = None,
        max_properties: int | None = None,
        max_property_name_length: int | None = None,
        max_properties_depth: int | None = None,
        max_string_length: int | None = None,
    ) -> None:
        number = _checked(locals())
        self.store = store
        self.authenticator = authenticator or StoreAuthenticator(store, cache_ttl=number["auth_cache_ttl"])
        self.rate_limiter = rate_limiter or MemoryRateLimiter()
        self.rate_limits = {"event": number["event_rate_limit"], "properties": number["properties_rate_limit"]}
        self.rate_limit_window = number["rate_limit_window"]
        self.max_body_size = number["max_body_size"]
        self.event_schema = BodySchema("event", {name: number[name] for name in (
            "max_event_length", "max_properties", "max_property_name_length", "max_properties_depth", "max_string_length")})
        self.properties_schema = BodySchema("website_events.properties")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            response = self.dispatch(environ)
        except APIError as error:
            response = error.get_response()
        except Exception:
            log.exception("unexpected error in %s", environ.get("PATH_INFO"))
            response = InternalError().get_response()
        if access_log.isEnabledFor(logging.INFO):
            # The path only: a query string may carry an API key or session id.
            access_log.info(
                "%s %s%s %d %.1fms", environ.get("REQUEST_METHOD"), environ.get("SCRIPT_NAME", ""),
                environ.get("PATH_INFO", ""), response.status_code, (time.perf_counter() - started) * 1000,
            )
        return response(environ, start_response)

    def dispatch(self, environ: WSGIEnvironment) -> Response | _Success:
        route = ROUTES.get(environ.get("PATH_INFO") or "/")
        if route is None:
            raise NotFound()
        endpoint, methods = route
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in methods:
            raise MethodNotAllowed(methods)
        if endpoint == "health":
            return self.health()
        if method == "POST":
            body = self.read_json(environ)
        else:
            body = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        # Top-level names are case-insensitive, and a null value counts as absent.
        # ASCII case only: Unicode's lower() turns the Kelvin sign into "k" (U+212A, "APIKEY").
        params = {key.lower() if key.isascii() else key: value for key, value in body.items() if value is not None}
        user = self.authenticate(environ, params)
        limit = self.rate_limits[endpoint]
        if limit > 0:
            retry_after = self.rate_limiter.hit(f"{user}:{endpoint}", limit, self.rate_limit_window)
            if retry_after is not None:
                raise RateLimited(retry_after)
        if endpoint == "event":
            return self.track_event(user, params)
        return self.list_properties(user, params)

    def health(self) -> Response:
        """For load balancers: 200 if the store answers, else 503; the rate limiter's state too."""
        store_ok = self.store.ping()
        limiter_status = getattr(self.rate_limiter, "status", None)
        body = {
            "status": "ok" if store_ok else "unavailable",
            "store": "ok" if store_ok else "unavailable",
            "rate_limiter": limiter_status() if limiter_status else "unknown",
        }
        return Response(json_body(body), status=200 if store_ok else 503, mimetype="application/json")

    def read_json(self, environ: WSGIEnvironment) -> dict[str, Any]:
        """The body as a JSON object, read without ever holding more than ``max_body_size`` bytes."""
        length = declared_length(environ)
        if length is not None and length > self.max_body_size:
            raise BodyTooLarge()
        if environ.get("wsgi.input_terminated"):  # the server ends the stream at the body's end
            data = self._read_terminated(environ)
            if length is not None and len(data) < length:
                raise InvalidJSON()  # the client went away mid-body
        elif length is not None:
            data = self._read_declared(environ, length)
        else:
            data = self._read_stream(environ)
        return self._parse(data)

    @staticmethod
    def _read_declared(environ: WSGIEnvironment, length: int) -> bytes:
        """Exactly the declared (and allowed) length, straight from the server's stream."""
        try:
            data = environ["wsgi.input"].read(length) if length else b""
        except (OSError, ValueError):
            raise InvalidJSON() from None
        if len(data) < length:
            raise InvalidJSON()  # the client went away mid-body
        return data

    def _read_terminated(self, environ: WSGIEnvironment) -> bytes:
        try:
            return self._read_to_end(environ["wsgi.input"])
        except (OSError, ValueError):
            raise InvalidJSON() from None

    def _read_stream(self, environ: WSGIEnvironment) -> bytes:
        try:
            return self._read_to_end(get_input_stream(environ, max_content_length=self.max_body_size + 1))
        except RequestEntityTooLarge:
            raise BodyTooLarge() from None
        except (ClientDisconnected, OSError, ValueError):
            raise InvalidJSON() from None

    def _read_to_end(self, stream: Any) -> bytes:
        """The stream to its end, never more than one byte past the limit (which tells an
        over-long body from one exactly at it). A read may return less than asked (a chunk
        at a time), so read until the end or past the limit."""
        data: bytes = stream.read(self.max_body_size + 1)
        while 0 < len(data) <= self.max_body_size:
            more = stream.read(self.max_body_size + 1 - len(data))
            if not more:
                break
            data += more
        if len(data) > self.max_body_size:
            raise BodyTooLarge()
        return data

    @classmethod
    def _parse(cls, data: bytes) -> dict[str, Any]:
        try:
            # The fast parser answers the common case; anything it refuses or might
            # read differently gets the json module's verdict.
            body = None if _LONG_DIGITS in data.translate(_DIGITS_AS_ZEROS) else orjson.loads(data)
        except orjson.JSONDecodeError:
            body = None
        if body is None:
            body = cls._parse_slowly(data)
        if not isinstance(body, dict):
            raise NotAnObject()
        return body

    @staticmethod
    def _parse_slowly(data: bytes) -> Any:
        try:
            body = json.loads(data.decode("utf-8"), parse_float=_finite_float, parse_constant=_reject_constant)
            if _SURROGATE_ESCAPE.search(data):
                # A lone surrogate is not Unicode: no store could keep it.
                json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (UnicodeError, ValueError, RecursionError):
            raise InvalidJSON() from None
        return body

    def authenticate(self, environ: WSGIEnvironment, params: dict[str, Any]) -> Hashable:
        api_key, session_id = params.get("apikey"), params.get("sessionid")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not api_key and authorization[:7].lower() == "bearer ":
            api_key = authorization[7:].strip()
        if not isinstance(api_key, str) or not api_key:
            api_key = None
        if not isinstance(session_id, str) or not session_id:
            session_id = None
        user = self.authenticator.authenticate(api_key, session_id) if api_key or session_id else None
        if user is None:
            raise AuthenticationFailed()
        return user

    def validate(self, schema: BodySchema, user: Hashable, params: dict[str, Any]) -> int:
        """The list id, once the body passes its schema and names a list of the user's."""
        errors = schema.errors(params)
        list_id = schema.list_id(params, body_valid=not errors)
        if list_id is not None and not self.authenticator.can_use_list(user, list_id):
            errors.append(schema.unknown_list)  # as if it did not exist: existence must not leak
        if errors:
            raise InvalidParameters(errors)
        assert list_id is not None
        return list_id

    def track_event(self, user: Hashable, params: dict[str, Any]) -> _Success:
        list_id = self.validate(self.event_schema, user, params)
        properties = params.get("properties", {})
        email = params.get("email")
        event = Event(
            list_id=list_id,
            uuid=str(params.get("uuid") or uuid_module.uuid4()).lower(),
            external_id=_external_id(params.get("id")) or str(uuid_module.uuid4()),
            event=params["event"],
            email=normalize_email(email) if email else None,
            properties=properties,
        )
        if properties.get("isTest") is True:
            sent = event.event == "identify" or (
                event.email is not None and self.store.would_identify(event.list_id, event.external_id, event.email)
            )
            receipt = Receipt(event.uuid, event.external_id, sent)
        else:
            (receipt,) = self.store.record([event])
        return _Success({
            "status": "success",
            "uuid": receipt.uuid,
            "external_id": receipt.external_id,
            "identify_event_sent": receipt.identify_event_sent,
        })

    def list_properties(self, user: Hashable, params: dict[str, Any]) -> Response:
        list_id = self.validate(self.properties_schema, user, params)
        return _json({"ListID": str(list_id), "Properties": self.store.properties(list_id)})
