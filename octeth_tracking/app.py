"""The WSGI application: the route table and the request cycle.

Every endpoint is one row of :data:`ROUTES`: its path, methods, handler (in a module of
:mod:`~octeth_tracking.endpoints`), request schema, which kinds of credential it accepts
(:mod:`~octeth_tracking.credentials`), and which rate limit it counts against. For every
request, :meth:`TrackingApp.dispatch` checks in this order: route (404, 405), size (413),
body (400, 415), credentials (401, 403), rate limit (429), parameters (422), then calls the row's
handler; an ``OPTIONS`` on a row that lists it is a CORS preflight (:mod:`~octeth_tracking.cors`).
``/api.php``'s handler picks the row its ``Command`` names and runs that row's checks from the
rate limit on (:meth:`TrackingApp.answer`). A refusal once the caller is known joins the
journal (:mod:`~octeth_tracking.journal`). The records of the cycle, :class:`Route` and
:class:`Call`, are in :mod:`~octeth_tracking.routing`. Any :class:`APIError` raised on the way (and any
storage error, as a 503) becomes the JSON answer in ``__call__``, the one place that does so,
and the one that adds the CORS headers.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Mapping, cast
from urllib.parse import parse_qsl

from . import cors
from .endpoints import Answer, batch, events, health, journal, legacy, metrics, micro, openapi, reads, script
from .auth import Authenticator, StoreAuthenticator, TrackerKeyLookup
from .body import parameter_names, parse_object, read_body
from .credentials import SECRET, TRACKER
from .fields import FieldDirectory, NoFields
from .form import parse_body
from .journal import Journal
from .metrics import Metrics
from .event_time import TimeRules
from .errors import (
    APIError, AuthenticationFailed, InternalError, InvalidParameters, MethodNotAllowed, NotFound, RateLimited,
    StoreUnavailable,
)
from .ratelimit import MemoryRateLimiter, RateLimiter
from .routing import Call as Call, Route as Route  # re-exported: the records of the request cycle
from .schemas import BodySchema
from .settings import checked_arguments
from .storage import AccountStore, EventStore, JournalStore, StorageError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("octeth_tracking")
access_log = logging.getLogger("octeth_tracking.access")


ROUTES: tuple[Route, ...] = (
    Route("/event", ("OPTIONS", "POST"), events.track_event, "event",
          schema="event", credentials=(SECRET, TRACKER), rate_limit="event_rate_limit"),
    Route("/events.batch", ("OPTIONS", "POST"), batch.track_batch, "batch", schema="events.batch",
          credentials=(SECRET, TRACKER), rate_limit="batch_rate_limit", body_limit="max_batch_body_size",
          costs=batch.rate_costs),
    Route("/website_events.properties", ("GET", "HEAD", "POST"), events.list_properties, "properties",
          schema="website_events.properties", rate_limit="properties_rate_limit"),
    Route("/health", ("GET", "HEAD"), health.health, "health", credentials=()),
    Route("/tracker.js", ("GET", "HEAD"), script.tracker_js, "tracker.js", credentials=()),
    # Octeth's legacy endpoint: its Command chooses one of the routes above (app.commands).
    Route("/api.php", ("POST",), legacy.api_php, "api.php", form=True),
    Route("/website_events.rejected", ("GET", "HEAD", "POST"), journal.list_rejected, "rejected",
          schema="website_events.rejected", rate_limit="rejected_rate_limit"),
    Route("/website_events.list", ("GET", "HEAD", "POST"), reads.list_events, "list",
          schema="website_events.list", rate_limit="list_rate_limit"),
    Route("/website_events.forget", ("POST",), reads.forget, "forget",
          schema="website_events.forget", rate_limit="forget_rate_limit"),
    Route("/openapi.json", ("GET", "HEAD"), openapi.document, "openapi", credentials=()),
    Route("/micro/all", ("GET", "HEAD"), micro.counts, "micro-all", credentials=(), micro=True),
    Route("/micro/good", ("GET", "HEAD"), micro.good, "micro-good", credentials=(), micro=True),
    Route("/micro/bad", ("GET", "HEAD"), micro.bad, "micro-bad", credentials=(), micro=True),
    Route("/micro/reset", ("GET", "POST"), micro.reset, "micro-reset", credentials=(), micro=True),
    Route("/metrics", ("GET",), metrics.scrape, "metrics", credentials=(), enabled_by="metrics_token"),
)

UNMATCHED = "unmatched"  # the route name of a request no row matched (404), in metrics and log lines


class TrackingApp:
    """Octeth's Event Tracking API as a WSGI application, free of any mount prefix.

    It answers the paths of :data:`ROUTES` (``POST /event``, ``GET|POST
    /website_events.properties``, ``GET /health``, ``GET /tracker.js``, ``POST /api.php``, ...)
    relative to wherever it is mounted (``SCRIPT_NAME``). ``create_app()`` builds one from settings.

    :param store: where events, the property registry and visitor links live (an
        :class:`~octeth_tracking.storage.EventStore`), and by default the accounts too.
    :param authenticator: checks credentials and list ownership, and tracker keys if it has
        ``tracker_key`` (:class:`~octeth_tracking.auth.TrackerKeyLookup`); default: the store's
        accounts (the store must then be an :class:`~octeth_tracking.storage.AccountStore` as well).
    :param custom_fields: the lists' custom fields (a :class:`~octeth_tracking.fields.FieldDirectory`);
        default: the store's (none if the store keeps none).
    :param rate_limiter: counts requests per user and endpoint; default: in process memory.
    :param event_rate_limit: requests per window per user to ``/event``; 0 switches it off.
    :param properties_rate_limit: the same for ``website_events.properties``.
    :param tracker_rate_limit: requests per window per tracker key to ``/event``; 0: off.
    :param tracker_visitor_rate_limit: requests per window per tracker key and visitor ``ID``; 0: off.
    :param rate_limit_window: the window, in seconds.
    :param auth_cache_ttl: seconds the default authenticator remembers a found API key, tracker
        key and list's owner at most (a revocation through the store ends it at once, in every
        process; this bounds one made behind the store's back); 0 switches it off.
    :param max_body_size: bytes; a larger body gets 413 and is not read.
    :param max_event_length: longest event name; ``None`` keeps the schema's (255).
    :param max_properties: most top-level names in ``Properties``; ``None``: schema's (200).
    :param max_property_name_length: longest property name; ``None``: schema's (255).
    :param max_properties_depth: deepest nesting in ``Properties``; ``None``: schema's (8).
    :param max_string_length: longest string value (or nested name) in ``Properties``; ``None``: schema's (8192).
    :param journal_size: rejected requests kept per user (see :mod:`octeth_tracking.journal`); 0 keeps none.
    :param rejected_rate_limit: requests per window per user to ``website_events.rejected``.
    :param list_rate_limit: the same for ``website_events.list`` (reading events back).
    :param forget_rate_limit: the same for ``website_events.forget`` (erasure).
    :param metrics_token: switches ``GET /metrics`` on (Prometheus' text format, see
        :mod:`~octeth_tracking.metrics`), for requests that send ``Authorization: Bearer <token>``;
        ``None`` (the default): no such path.
    :param future_tolerance: seconds an event's ``Timestamp`` may be ahead of its receive time;
        past it the event is stored at the receive time (:mod:`~octeth_tracking.event_time`).
    :param backfill_window: seconds an event's ``Timestamp`` may be behind it (5 days); past it
        the event is refused (code 52) unless the body says ``Import: true``; 0: no window.
    :param clock: the receive time of a request, seconds since the epoch (``time.time``).
    :param batch_rate_limit: requests per window per user (or tracker key) to ``/events.batch``;
        each of its events also costs one of ``event_rate_limit`` (``tracker_rate_limit``) too.
    :param max_batch_events: most events in one batch (code 55 past it).
    :param max_batch_body_size: bytes of a batch's body, decompressed (413 past it).
    :param micro: a micro server for test suites: its ``/micro/*`` routes, and a journal that
        keeps what no known caller sent too (a 401, say).

    Usage::

        from octeth_tracking import SQLiteStore, TrackingApp
        app = TrackingApp(store=SQLiteStore("events.db"))
    """

    def __init__(
        self,
        *,
        store: EventStore,
        authenticator: Authenticator | None = None,
        custom_fields: FieldDirectory | None = None,
        rate_limiter: RateLimiter | None = None,
        event_rate_limit: int = 5000,
        properties_rate_limit: int = 100,
        tracker_rate_limit: int = 5000,
        tracker_visitor_rate_limit: int = 120,
        rate_limit_window: float = 60.0,
        auth_cache_ttl: float = 5.0,
        max_body_size: int = 64 * 1024,
        max_event_length: int | None = None,
        max_properties: int | None = None,
        max_property_name_length: int | None = None,
        max_properties_depth: int | None = None,
        max_string_length: int | None = None,
        journal_size: int = 100,
        rejected_rate_limit: int = 100,
        list_rate_limit: int = 600,
        forget_rate_limit: int = 600,
        metrics_token: str | None = None,
        batch_rate_limit: int = 1000,
        max_batch_events: int = 1000,
        max_batch_body_size: int = 1024 * 1024,
        future_tolerance: float = 3600.0,
        backfill_window: float = 5 * 86400.0,
        clock: Callable[[], float] = time.time,
        micro: bool = False,
    ) -> None:
        number = checked_arguments(locals())
        self.store = store
        if authenticator is None:
            if not hasattr(store, "user_for_api_key"):
                raise TypeError(f"{type(store).__name__} keeps no accounts: pass an authenticator")
            authenticator = StoreAuthenticator(cast(AccountStore, store), cache_ttl=number["auth_cache_ttl"])
        self.authenticator = authenticator
        self.tracker_keys = authenticator if isinstance(authenticator, TrackerKeyLookup) else None
        if custom_fields is None:
            custom_fields = cast(FieldDirectory, store) if hasattr(store, "custom_fields") else NoFields()
        self.custom_fields = custom_fields
        self.rate_limiter = rate_limiter or MemoryRateLimiter()
        self.micro = micro
        self.clock = clock
        self.time_rules = TimeRules(number["future_tolerance"], number["backfill_window"])
        self.metrics = Metrics(metrics_token) if metrics_token is not None else None
        if self.metrics is not None and hasattr(store, "commit_observer"):
            store.commit_observer = self.metrics  # the store counts its commits (batch sizes, times) into it
        self.routes: Mapping[str, Route] = {
            route.path: route for route in ROUTES
            if (micro or not route.micro) and (route.enabled_by is None or number[route.enabled_by] is not None)}
        self.rate_limits = {route.name: number[route.rate_limit] for route in ROUTES if route.rate_limit}
        self.tracker_rate_limit = number["tracker_rate_limit"]
        self.tracker_visitor_rate_limit = number["tracker_visitor_rate_limit"]
        self.rate_limit_window = number["rate_limit_window"]
        self.body_limits = {route.name: number[route.body_limit] for route in ROUTES}
        self.max_body_size = number["max_body_size"]
        self.max_batch_events = number["max_batch_events"]
        limits = {name: number[name] for name in (
            "max_event_length", "max_properties", "max_property_name_length", "max_properties_depth", "max_string_length",
            "max_batch_events")}
        self.schemas = {route.schema: BodySchema(route.schema, limits) for route in ROUTES if route.schema}
        # /api.php's Command -> the route it names; each route's schema gives its Command.
        self.commands = {self.schemas[route.schema].command: route for route in ROUTES
                         if route.schema and self.schemas[route.schema].command}
        self.journal = Journal(cast(JournalStore, store), keep=number["journal_size"], window=self.rate_limit_window,
                               anonymous=micro) if hasattr(store, "journal_rejection") else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        call = Call(environ)
        response: Answer
        codes: list[int] = []  # the error codes answered, if any
        try:
            response = self.dispatch(call)
        except APIError as error:
            response, codes = error.get_response(), error.codes
        except StorageError as error:  # nothing was stored: a 503, safe to retry
            log.warning("store unavailable in %s: %s", environ.get("PATH_INFO"), error)
            response, codes = StoreUnavailable().get_response(), [StoreUnavailable.code]
        except Exception:
            log.exception("unexpected error in %s", environ.get("PATH_INFO"))
            response, codes = InternalError().get_response(), [InternalError.code]
        if self.metrics is not None or access_log.isEnabledFor(logging.INFO):
            self.finished(call, response.status_code, codes, time.perf_counter() - started)
        origin = cors.readable_origin(self, call)
        if origin is not None:
            start_response = _adding_headers(start_response, cors.headers(origin))
        return response(environ, start_response)

    def finished(self, call: Call, status: int, codes: list[int], seconds: float) -> None:
        """The end of every request, in one place: its access line and its metrics, by route name."""
        environ = call.environ
        name = call.route.name if call.route is not None else UNMATCHED
        if self.metrics is not None:
            self.metrics.request(name, status, seconds, codes)
        if access_log.isEnabledFor(logging.INFO):
            # The path only: a query string may carry an API key or session id.
            method, path = environ.get("REQUEST_METHOD"), environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            milliseconds = round(seconds * 1000, 1)
            access_log.info("%s %s %d %.1fms", method, path, status, milliseconds, extra={
                "method": method, "path": path, "status": status, "duration_ms": milliseconds, "route": name})

    def dispatch(self, call: Call) -> Answer:
        """The answer to one request: the checks in order, then the route's handler."""
        environ = call.environ
        route = call.route = self.routes.get(environ.get("PATH_INFO") or "/")
        if route is None:
            raise NotFound()
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in route.methods:
            raise MethodNotAllowed(route.methods)
        if method == "OPTIONS":
            return cors.preflight(self, call)
        try:
            if route.credentials or route.schema:
                call.body = self.parameters(environ, method, form=route.form, limit=self.body_limits[route.name])
                call.params = parameter_names(call.body)
            if route.credentials:
                self.authenticate(route, call)
            return self.answer(route, call)
        except APIError as error:
            if self.journal is not None:
                self.journal.record(route, call, error)
            raise

    def answer(self, route: Route, call: Call) -> Answer:
        """The route's checks after credentials (rate limit, parameters), then its handler.

        ``/api.php``'s handler calls it with the route its ``Command`` names.
        """
        if route.credentials:
            self.limit_rate(route, call)
        if route.schema:
            call.list_id = self.validate(self.schemas[route.schema], call)
        return route.handler(self, call)

    def parameters(self, environ: WSGIEnvironment, method: str, form: bool = False, limit: int | None = None) -> dict[str, Any]:
        """The body's (POST, at most ``limit`` bytes) or query string's (GET, HEAD) parameters, as
        sent. ``form``: a body that is not JSON is read as a form (:mod:`octeth_tracking.form`)."""
        if method == "POST":
            data = read_body(environ, self.max_body_size if limit is None else limit)
            return parse_body(environ, data) if form else parse_object(data)
        return dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))

    def authenticate(self, route: Route, call: Call) -> None:
        """The caller, by the first kind of credential of the route's that the request presents."""
        for kind in route.credentials:
            if kind.presented(call):
                call.credential = kind
                return kind.authenticate(self, call)
        raise AuthenticationFailed()

    def limit_rate(self, route: Route, call: Call) -> None:
        assert call.credential is not None
        costs = route.costs(self, route, call) if route.costs else [
            (key, limit, 1) for key, limit in call.credential.rate_limits(self, route, call)]
        for key, limit, cost in costs:
            if limit > 0 and cost > 0:
                window = self.rate_limit_window
                # A cost of 1 is asked as before: a limiter of one's own without ``cost`` still works.
                retry_after = self.rate_limiter.hit(key, limit, window) if cost == 1 else self.rate_limiter.hit(
                    key, limit, window, cost)
                if retry_after is not None:
                    raise RateLimited(retry_after)

    def validate(self, schema: BodySchema, call: Call, params: dict[str, Any] | None = None) -> int | None:
        """The list id, once the parameters (the call's, or a batch item's) pass their schema and
        name a list the caller may use."""
        params = call.params if params is None else params
        errors = schema.errors(params)
        list_id = schema.list_id(params, body_valid=not errors)
        if list_id is not None and (call.credential is None or not call.credential.may_use_list(self, call, list_id)):
            errors.append(schema.unknown_list)  # as if it did not exist: existence must not leak
        if errors:
            raise InvalidParameters(errors)
        return list_id


def _adding_headers(start_response: StartResponse, extra: list[tuple[str, str]]) -> StartResponse:
    """``start_response`` that also sends ``extra`` headers with whatever answer is started."""
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, headers + extra, exc_info)
    return cast("StartResponse", start)
