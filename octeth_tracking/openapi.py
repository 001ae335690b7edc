"""The OpenAPI 3.1 document of an app, generated from its route table and the schema files.

Nothing here is written by hand per endpoint: each row of the app's routes gives its path,
methods, whether it reads a body, needs credentials or counts against a rate limit; the
request schemas (JSON Schema 2020-12, which OpenAPI 3.1 takes as they are) come from the
app itself, so the limits are the ones it was configured with; the answers come from
``schemas/answers.schema.json``. ``GET {mount}/openapi.json`` and ``octeth-tracking openapi``
serve it.
"""

from __future__ import annotations

import copy
import json
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import errors
from .schemas import SCHEMA_DIR

if TYPE_CHECKING:
    from .app import Route, TrackingApp

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_TRACKER_KEY = {"type": "string", "description": "A public tracker key (or send it as the query's `TrackerKey`)."}
_CREDENTIALS = {
    "apikey": {"type": "string", "description": "Your API key (or send it as `Authorization: Bearer ...`)."},
    "sessionid": {"type": "string", "description": "A session id, instead of an API key."},
}


def _version() -> str:
    try:
        return version("octeth-tracking")
    except PackageNotFoundError:  # a source checkout that is not installed
        return "0"


def answer_schemas() -> dict[str, Any]:
    """The ``$defs`` of ``schemas/answers.schema.json``, their references made OpenAPI's."""
    text = (SCHEMA_DIR / "answers.schema.json").read_text(encoding="utf-8")
    return json.loads(text.replace('"#/$defs/', '"#/components/schemas/'))["$defs"]  # type: ignore[no-any-return]


def _answer(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _failure(description: str, codes: dict[int, str] | None = None) -> dict[str, Any]:
    if codes:
        description += " Codes: " + "; ".join(f"{code} {message}" for code, message in sorted(codes.items()))
    return _answer("errors", description)


def _api_errors() -> list[type[errors.APIError]]:
    return [e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, errors.APIError) and e.code]


def _transport(error: type[errors.APIError]) -> dict[int, str]:
    return {error.code: error.message}


def _accepts_tracker_keys(route: Route) -> bool:
    return any(kind.name == "tracker" for kind in route.credentials)


def _request_schema(app: TrackingApp, route: Route) -> dict[str, Any]:
    """The parameters' schema as the app applies it, with the credentials it also reads."""
    schema: dict[str, Any] = copy.deepcopy(app.schemas[route.schema].schema) if route.schema else {"type": "object"}
    schema.pop("$id", None)
    schema.pop("$schema", None)
    if route.credentials:
        credentials = {**_CREDENTIALS, **({"trackerkey": _TRACKER_KEY} if _accepts_tracker_keys(route) else {})}
        schema["properties"] = {**credentials, **schema.get("properties", {})}
    events = schema.get("properties", {}).get("events", {})
    if "x-octeth-items-schema" in events:  # a batch: each item is checked by that schema, on its own
        items = copy.deepcopy(app.schemas[events["x-octeth-items-schema"]].schema)
        for name in ("$id", "$schema", "x-octeth-errors"):
            items.pop(name, None)
        events["items"] = items
    if route.form:
        schema["properties"]["command"] = {"enum": sorted(name for name in app.commands if name), "description": "The endpoint that answers."}
    return schema


def _parameter_codes(app: TrackingApp, route: Route) -> dict[int, str]:
    """The 422 codes a route answers: its schema's; a form route's, those of every route a Command names."""
    if route.schema:
        return dict(app.schemas[route.schema].messages)
    if not route.form:
        return {}
    codes = {**_transport(errors.InvalidCommand), **_transport(errors.MissingCommand)}
    for named in app.commands.values():
        codes.update(_parameter_codes(app, named))
    return codes


def _preflight(route: Route) -> dict[str, Any]:
    return {
        "operationId": f"{route.name}-options", "summary": "A CORS preflight, for a tracker key's web pages.",
        "parameters": [{"name": "TrackerKey", "in": "query", "required": False, "schema": {"type": "string"}}],
        "responses": {
            "204": {"description": "Allowed (or, without an Origin, the methods in Allow)."},
            "401": _failure("An unknown or revoked tracker key.", _transport(errors.AuthenticationFailed)),
            "403": _failure("The origin is not on the key's list, or no key is named.",
                            {**_transport(errors.OriginNotAllowed), **_transport(errors.PreflightWithoutKey)}),
        },
    }


def _operation(app: TrackingApp, route: Route, method: str, answers: dict[str, Any]) -> dict[str, Any]:
    if method == "OPTIONS":
        return _preflight(route)
    reads = route.credentials or route.schema is not None
    handler_doc = (route.handler.__doc__ or "").strip().splitlines()
    operation: dict[str, Any] = {"operationId": f"{route.name}-{method.lower()}",
                                 "summary": handler_doc[0].replace("``", "`") if handler_doc else route.name, "responses": {}}
    responses = operation["responses"]
    if reads and method == "POST":
        schema = _request_schema(app, route)
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": schema}}}
        bad_body = {**_transport(errors.InvalidJSON), **_transport(errors.NotAnObject), **_transport(errors.UndecodableBody)}
        if route.form:  # /api.php: a form too, its Command naming the route that answers
            operation["requestBody"]["content"][_FORM] = {"schema": schema}
            bad_body.update(_transport(errors.InvalidForm))
        responses["400"] = _failure("The body is not a JSON object (or a form, where one is taken), or its "
                                    "compressed stream is corrupt.", bad_body)
        responses["413"] = _failure(f"The body is over {app.body_limits[route.name]} bytes (decompressed).",
                                    _transport(errors.BodyTooLarge))
        responses["415"] = _failure("A Content-Encoding other than gzip, deflate, zstd or identity.",
                                    _transport(errors.UnsupportedEncoding))
    elif reads:
        properties = _request_schema(app, route).get("properties", {})
        operation["parameters"] = [{"name": name, "in": "query", "required": False, "schema": {"type": "string"},
                                    "description": sub.get("description", f"`{name}` (names are case-insensitive)")}
                                   for name, sub in properties.items()]
    if route.credentials:
        operation["security"] = [{"bearer": []}, {}]  # {}: the credential may travel in the parameters instead
        responses["401"] = _failure("No credentials, or unknown, revoked or expired ones.",
                                    _transport(errors.AuthenticationFailed))
        if _accepts_tracker_keys(route):
            operation["parameters"] = [{"name": "TrackerKey", "in": "query", "required": False,
                                        "schema": {"type": "string"}, "description": _TRACKER_KEY["description"]}]
            responses["403"] = _failure("A tracker key used from an origin not on its list, or without one.",
                                        {**_transport(errors.OriginNotAllowed), **_transport(errors.OriginRequired)})
    codes = _parameter_codes(app, route)
    if codes:
        responses["422"] = _failure("The parameters break their schema's rules.", codes)
    limits = [f"{app.rate_limits[route.name]} requests per {app.rate_limit_window:g} s for this user"
              ] if route.rate_limit and app.rate_limits.get(route.name) else []
    if _accepts_tracker_keys(route):
        limits += [f"{limit} per {app.rate_limit_window:g} s {per}" for limit, per in (
            (app.tracker_visitor_rate_limit, "per tracker key and visitor"), (app.tracker_rate_limit, "per tracker key"))
            if limit]
    if limits:
        responses["429"] = _failure(f"Over {', or '.join(limits)}; see Retry-After.", _transport(errors.RateLimited))
    responses["500"] = _failure("A fault of ours, logged.", _transport(errors.InternalError))
    unavailable = f"{route.name}-503"
    responses["503"] = (_answer(unavailable, "The store does not answer.") if unavailable in answers
                        else _failure("The store could not answer in time; nothing was stored.",
                                      _transport(errors.StoreUnavailable)))
    media = answers[route.name].get("x-octeth-content-type", _JSON)
    ok = {"description": "Success.", "content": {media: {"schema": {"$ref": f"#/components/schemas/{route.name}"}}}}
    responses["200"] = {"description": "Success, without a body."} if method == "HEAD" else ok
    for status, description in answers[route.name].get("x-octeth-other-statuses", {}).items():
        responses[status] = {"description": description}  # answers without a body (tracker.js's 304)
    for status, (description, codes) in answers[route.name].get("x-octeth-refusals", {}).items():
        known = {error.code: error.message for error in _api_errors()}
        responses[status] = _failure(description, {code: known[code] for code in codes})  # a route's own (metrics' 401)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def document(app: TrackingApp, server: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``, its paths relative to ``server`` (the mount point)."""
    answers = answer_schemas()
    missing = [route.name for route in app.routes.values() if route.name not in answers]
    if missing:
        raise LookupError(f"schemas/answers.schema.json has no answer for the routes {missing}")
    paths = {route.path: {method.lower(): _operation(app, route, method, answers) for method in route.methods}
             for route in app.routes.values()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Octeth Event Tracking API (octeth_tracking)",
            "version": _version(),
            "description": "Top-level parameter names are case-insensitive and a null value counts as absent. "
                           "Every error answer is {\"Errors\": [{\"Code\": N, \"Message\": \"...\"}]}.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": server or "/"}],
        "paths": paths,
        "components": {
            "schemas": answers,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}},
        },
    }
