"""Flask: the tracking API beside a Flask site's own routes, configured from ``app.config``.

Mounting is werkzeug's ``DispatcherMiddleware`` in front of ``app.wsgi_app``: requests under
``url_prefix`` go to the tracking app untouched (Flask's error pages, sessions and hooks never
see them); every other request is the site's. Settings follow the one rule of
:mod:`octeth_tracking.config`: the argument ``max_body_size`` is ``OCTETH_TRACKING_MAX_BODY_SIZE``
in ``app.config``; ``OCTETH_TRACKING_DB`` names the event store.

Usage::

    from flask import Flask
    from octeth_tracking.contrib.flask import init_app

    app = Flask(__name__)
    init_app(app, url_prefix="/api/v1", authenticator=MyAuthenticator())
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ..app import TrackingApp
from ..config import app_from_settings, mounts, wants_api_php_at_root
from ..settings import DEFAULT_PREFIX, PREFIX
from ..storage import DEFAULT_DB

if TYPE_CHECKING:
    from flask import Flask

    from ..auth import Authenticator
    from ..fields import FieldDirectory
    from ..ratelimit import RateLimiter
    from ..storage import Store

EXTENSION = "octeth_tracking"


def init_app(
    app: Flask,
    url_prefix: str | None = None,
    *,
    authenticator: Authenticator | None = None,
    store: Store | None = None,
    rate_limiter: RateLimiter | None = None,
    custom_fields: FieldDirectory | None = None,
    api_php_at_root: bool | None = None,
) -> TrackingApp:
    """Mount a :class:`TrackingApp` at ``url_prefix`` in ``app``; it is also ``app.extensions["octeth_tracking"]``.

    :param app: the Flask site.
    :param url_prefix: where the API answers; default ``app.config["OCTETH_TRACKING_PREFIX"]``,
        else ``/api/v1`` (``/api/v1/event``).
    :param authenticator: the site's own accounts; default: accounts kept in the event store.
    :param store: where events go; default: ``open_store(app.config["OCTETH_TRACKING_DB"])``,
        else ``octeth_tracking.db`` in the instance folder.
    :param rate_limiter: default: Redis if ``OCTETH_TRACKING_REDIS`` is set, else in process memory.
    :param custom_fields: the site's own custom fields (a ``FieldDirectory``); default: the store's.
    :param api_php_at_root: also answer Octeth's legacy ``POST /api.php`` at the site's root; default
        ``app.config["OCTETH_TRACKING_API_PHP_AT_ROOT"]``, else yes.
    """
    settings = dict(app.config)
    if store is None and not settings.get(PREFIX + "DB") and settings.get(PREFIX + "STORE") is None:
        os.makedirs(app.instance_path, exist_ok=True)
        settings[PREFIX + "DB"] = os.path.join(app.instance_path, DEFAULT_DB)
    if url_prefix is None:
        url_prefix = str(settings.get(PREFIX + "PREFIX", DEFAULT_PREFIX))
    if not url_prefix.strip("/"):
        raise ValueError(f"url_prefix {url_prefix!r} would hide every page of the site behind the API: give a path")
    if api_php_at_root is None:
        api_php_at_root = wants_api_php_at_root(settings.get(PREFIX + "API_PHP_AT_ROOT"))
    tracking = app_from_settings(settings, store=store, authenticator=authenticator, rate_limiter=rate_limiter,
                                 custom_fields=custom_fields)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts(tracking, url_prefix, api_php_at_root))  # type: ignore[method-assign]
    app.extensions[EXTENSION] = tracking
    return tracking
