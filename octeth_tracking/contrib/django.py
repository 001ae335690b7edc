"""Django: the tracking API in a Django site's URLconf, configured by Django settings.

Usage, in the site's ``urls.py``::

    path("api/v1/", include("octeth_tracking.contrib.django")),

Every path under the prefix goes to one view that hands Django's request to the WSGI app
(its ``environ``, with ``SCRIPT_NAME``/``PATH_INFO`` moved past the prefix, and its body) and
returns the answer as an ``HttpResponse``, byte for byte; the view is exempt from CSRF.

Settings follow the one rule of :mod:`octeth_tracking.config`: the argument ``max_body_size``
is the setting ``OCTETH_TRACKING_MAX_BODY_SIZE``. ``OCTETH_TRACKING_DB`` names the event store;
the object arguments ``authenticator``, ``custom_fields`` and ``rate_limiter`` are the settings
``OCTETH_TRACKING_AUTHENTICATOR``, ``OCTETH_TRACKING_CUSTOM_FIELDS`` and ``OCTETH_TRACKING_RATE_LIMITER``,
each a dotted path to a class built with no arguments (Django's habit, as in ``AUTHENTICATION_BACKENDS``).

Octeth's legacy ``POST /api.php`` at the site's root is one more line, the same view::

    path("api.php", tracking_view, {"path": "api.php"}),
"""

from __future__ import annotations

import re
import threading
from importlib import import_module
from io import BytesIO
from typing import TYPE_CHECKING, Any, Hashable

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.urls import re_path
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from ..app import TrackingApp, log
from ..body import declared_length
from ..config import app_from_settings
from ..settings import PREFIX
from ..errors import InternalError
from ..storage import TrackerKey

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

OBJECT_SETTINGS = ("authenticator", "custom_fields", "rate_limiter", "store")

# Session keys of every built-in backend (signed_cookies included) use only these characters;
# anything else never reaches the session store (PostgreSQL refuses NUL, for one).
_SESSION_KEY = re.compile(r"[A-Za-z0-9_:.\-]{8,4096}")

_lock = threading.Lock()
_app: TrackingApp | None = None
_owns_store = False  # whether _app's store was opened from OCTETH_TRACKING_DB (and so is ours to close)


def build_app() -> TrackingApp:
    """A :class:`TrackingApp` from the ``OCTETH_TRACKING_*`` settings."""
    found = {name: getattr(settings, name) for name in dir(settings) if name.startswith(PREFIX)}
    objects: dict[str, Any] = {}
    for name in OBJECT_SETTINGS:
        value = found.get(PREFIX + name.upper())
        if value is not None:
            objects[name] = import_string(value)() if isinstance(value, str) else value
    return app_from_settings(found, **objects)


def get_app() -> TrackingApp:
    """The site's one :class:`TrackingApp`, built on first use and again after a setting changes."""
    global _app, _owns_store
    with _lock:
        if _app is None:
            _app = build_app()
            _owns_store = getattr(settings, PREFIX + "STORE", None) is None
        return _app


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _app
    if setting.startswith(PREFIX):
        with _lock:
            if _app is not None and _owns_store:
                _app.store.close()
            _app = None


setting_changed.connect(_reset)


def _wsgi_str(text: str) -> str:
    # PEP 3333: environ paths are bytes decoded as latin-1; Django's are decoded as UTF-8.
    return text.encode("utf-8").decode("latin-1")


def call_wsgi(app: WSGIApplication, request: HttpRequest, path: str) -> HttpResponse:
    """``app``'s answer to ``request`` as an ``HttpResponse``, ``path`` being what follows the prefix."""
    # A WSGI request carries its environ; an ASGI one only META, which holds the same CGI keys.
    environ = dict(getattr(request, "environ", None) or request.META)
    environ.setdefault("wsgi.url_scheme", request.scheme)
    prefix = request.path_info[: len(request.path_info) - len(path)].rstrip("/")
    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + _wsgi_str(prefix)
    environ["PATH_INFO"] = _wsgi_str("/" + path)
    body = getattr(request, "_body", None)
    if body is not None:
        environ["wsgi.input"] = BytesIO(body)  # a middleware read it already
        environ["CONTENT_LENGTH"] = str(len(body))
    elif getattr(request, "_read_started", False):
        environ["wsgi.input"] = BytesIO()  # streamed away by someone else: nothing left to read
    elif declared_length(environ) is not None or not hasattr(request, "environ"):
        # Django's stream ends at the body's end: bounded by CONTENT_LENGTH, or (ASGI) the
        # whole body, which Django received before calling the view.
        environ["wsgi.input"], environ["wsgi.input_terminated"] = request, True
    # Else a body without a length (chunked) under WSGI: Django bounds its stream by
    # CONTENT_LENGTH (0 when absent), so the app reads the server's own, which the server ends at the
    # body's end if it says so (wsgi.input_terminated); if not, the app reads nothing.
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    code, _, reason = status.partition(" ")
    response = HttpResponse(b"".join(chunks), status=int(code), reason=reason or None)
    if not any(name.lower() == "content-type" for name, _ in headers):
        del response["Content-Type"]  # Django's default, on an answer that has none (a 204, a 304)
    for name, value in headers:
        response[name] = value
    return response


@csrf_exempt  # type: ignore[untyped-decorator]
def tracking_view(request: HttpRequest, path: str = "") -> HttpResponse:
    """Every request under the prefix, whatever its method: the API answers, never Django."""
    try:
        app: Any = get_app()
    except Exception:  # settings it cannot be built from: say why in the log, answer in the API's shape
        log.exception("cannot build the tracking app from the OCTETH_TRACKING_* settings")
        app = InternalError().get_response()
    return call_wsgi(app, request, path)


# DOTALL: a path holding an encoded newline is still the API's (its JSON 404), not Django's.
urlpatterns = [re_path(r"^(?P<path>(?s:.*))\Z", tracking_view, name="octeth_tracking")]


class DjangoSessionAuthenticator:
    """``SessionID``: the session key of a user logged in to this Django site.

    A logged-out, flushed or expired session, an inactive user or a changed password (the
    session's auth hash no longer matches) names nobody. ``APIKey``, list ownership and tracker
    keys are the site's: a subclass implements :meth:`user_for_api_key`, :meth:`can_use_list`
    and :meth:`tracker_key`.
    """

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        user = self.user_for_api_key(api_key) if api_key else None
        if user is None and session_id:
            user = self.user_for_session(session_id)
        return user

    def user_for_session(self, session_key: str) -> Hashable | None:
        if not _SESSION_KEY.fullmatch(session_key):
            return None
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        # Django's auth.get_user, read only: where the session's hash matches only a
        # SECRET_KEY_FALLBACKS key it would cycle the session key, logging the browser out.
        try:
            user_id = auth.get_user_model()._meta.pk.to_python(session[auth.SESSION_KEY])
            backend_path = session[auth.BACKEND_SESSION_KEY]
        except (KeyError, ValidationError):
            return None
        if backend_path not in settings.AUTHENTICATION_BACKENDS:
            return None
        user = auth.load_backend(backend_path).get_user(user_id)  # None for an inactive user, with ModelBackend
        if user is None or not user.is_authenticated:
            return None
        if hasattr(user, "get_session_auth_hash"):  # a changed password ends the user's sessions
            stored = session.get(auth.HASH_SESSION_KEY)
            fallbacks: list[str] = list(getattr(user, "get_session_auth_fallback_hash", lambda: [])())
            if not stored or not any(constant_time_compare(stored, known)
                                     for known in (user.get_session_auth_hash(), *fallbacks)):
                return None
        return user.pk  # type: ignore[no-any-return]

    def user_for_api_key(self, api_key: str) -> Hashable | None:
        """The user whose key this is; the site's own model decides. Default: nobody."""
        return None

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        """Whether the list exists and belongs to ``user_id``. Default: no list."""
        return False

    def tracker_key(self, key: str) -> TrackerKey | None:
        """The live tracker key that ``key`` is, from the site's own records. Default: none (401)."""
        return None
