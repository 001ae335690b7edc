"""The kinds of credential a route accepts (the ``credentials`` of its row in ``ROUTES``), and what each allows.

- :data:`SECRET`: a user's API key (``APIKey``, or ``Authorization: Bearer``) or session
  (``SessionID``). Any list of the user's; counted per user against the route's ``rate_limit``.
  Its answers are never made readable to a browser origin (no CORS header).
- :data:`TRACKER`: a public tracker key (``TrackerKey`` in the body, else in the query string).
  Its own list only (another is code 4, as an unknown list); from a page whose ``Origin`` is on
  its allowlist (403, code 40 otherwise), or with no ``Origin`` if it was made for server-side
  use (403, code 41 otherwise); counted per visitor and per key. Its answers carry
  ``Access-Control-Allow-Origin`` for that origin.

Of the kinds a route accepts, the first that the request presents decides, in the row's order;
none presented is a 401. A credential of a kind the route does not accept is no credential there.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from . import origins
from .errors import AuthenticationFailed, OriginNotAllowed, OriginRequired
from .storage import TrackerKey

if TYPE_CHECKING:
    from .app import Call, Route, TrackingApp


class Credential(Protocol):
    """One kind of credential: whether a request presents it, who it makes the caller, what they may do."""

    name: str

    def presented(self, call: Call) -> bool:
        """Whether the request carries a credential of this kind (valid or not)."""
        ...

    def authenticate(self, app: TrackingApp, call: Call) -> None:
        """Fill in the caller on ``call``, or raise the refusal (401, 403)."""
        ...

    def rate_limits(self, app: TrackingApp, route: Route, call: Call) -> tuple[tuple[str, int], ...]:
        """(limiter key, requests per window) pairs this request counts against, in the order they are checked."""
        ...

    def may_use_list(self, app: TrackingApp, call: Call, list_id: int) -> bool:
        """Whether the authenticated caller may use the list (else it answers as an unknown list)."""
        ...


class SecretCredential:
    """An API key or session of a user: what Octeth's reference calls ``APIKey`` and ``SessionID``."""

    name = "secret"

    @staticmethod
    def _bearer(call: Call) -> str | None:
        authorization = call.environ.get("HTTP_AUTHORIZATION", "")
        return authorization[7:].strip() if authorization[:7].lower() == "bearer " else None

    def presented(self, call: Call) -> bool:
        params = call.params
        return bool(params.get("apikey") or params.get("sessionid")) or self._bearer(call) is not None

    def authenticate(self, app: TrackingApp, call: Call) -> None:
        api_key, session_id = call.params.get("apikey"), call.params.get("sessionid")
        if not api_key:
            api_key = self._bearer(call)
        if not isinstance(api_key, str) or not api_key:
            api_key = None
        if not isinstance(session_id, str) or not session_id:
            session_id = None
        call.user = app.authenticator.authenticate(api_key, session_id) if api_key or session_id else None
        if call.user is None:
            raise AuthenticationFailed()

    def rate_limits(self, app: TrackingApp, route: Route, call: Call) -> tuple[tuple[str, int], ...]:
        return ((f"{call.user}:{route.name}", app.rate_limits.get(route.name, 0)),)

    def may_use_list(self, app: TrackingApp, call: Call, list_id: int) -> bool:
        return app.authenticator.can_use_list(call.user, list_id)


def query_value(call: Call, name: str) -> str | None:
    """The query string's ``name`` parameter (case-insensitive, as body names are), if any."""
    query = call.environ.get("QUERY_STRING", "")
    if name not in query.lower():  # the common case: no query string at all
        return None
    return next((value for key, value in parse_qsl(query, keep_blank_values=True) if key.lower() == name), None)


class TrackerCredential:
    """A public tracker key: one list, an origin allowlist, per-key and per-visitor limits."""

    name = "tracker"
    parameter = "trackerkey"  # TrackerKey, in any case

    def key(self, call: Call) -> Any:
        return call.params[self.parameter] if self.parameter in call.params else query_value(call, self.parameter)

    def presented(self, call: Call) -> bool:
        return self.key(call) is not None

    def find(self, app: TrackingApp, key: Any) -> TrackerKey | None:
        """The live tracker key ``key`` names, through the authenticator (and its cache)."""
        if app.tracker_keys is None or not isinstance(key, str) or not key:
            return None
        return app.tracker_keys.tracker_key(key)

    def authenticate(self, app: TrackingApp, call: Call) -> None:
        tracker = self.find(app, self.key(call))
        if tracker is None:
            raise AuthenticationFailed()
        call.tracker = tracker  # known, if refused below: its list's owner sees the refusal (the journal)
        origin = call.environ.get("HTTP_ORIGIN")
        if origin is None:
            if not tracker.server_side:
                raise OriginRequired()
        elif not origins.allowed(tracker.origins, origin):
            raise OriginNotAllowed()
        call.cors_origin = origin

    def rate_limits(self, app: TrackingApp, route: Route, call: Call) -> tuple[tuple[str, int], ...]:
        # The visitor first: a visitor over their limit spends nothing of the key's. The ID is the
        # visitor's own text (any length), so the limiter's key holds a digest of it.
        assert call.tracker is not None
        visitor = hashlib.sha256(str(call.params.get("id") or "").encode("utf-8", "surrogatepass")).hexdigest()[:24]
        key = f"tracker {call.tracker.id}:{route.name}"
        return (f"{key}:visitor {visitor}", app.tracker_visitor_rate_limit), (key, app.tracker_rate_limit)

    def may_use_list(self, app: TrackingApp, call: Call, list_id: int) -> bool:
        return call.tracker is not None and call.tracker.list_id == list_id


SECRET = SecretCredential()
TRACKER = TrackerCredential()
