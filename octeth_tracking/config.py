"""``create_app``: the app built from arguments, then ``OCTETH_TRACKING_*``, then defaults.

One rule maps settings onto arguments (see :mod:`octeth_tracking.settings`): the argument
``max_body_size`` is the setting ``OCTETH_TRACKING_MAX_BODY_SIZE`` (environment variable
here, Django setting in ``contrib.django``, ``app.config`` key in ``contrib.flask``).
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Mapping

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from .app import TrackingApp
from .errors import NotFound
from .logs import use_log_format
from .settings import DEFAULT_PREFIX, PREFIX, checked_arguments, parse_text, setting_name
from .storage import DEFAULT_DB, open_store


# Settings that are not TrackingApp arguments: the store's, given to open_store() with the
# database it opens, and how create_app() writes the logs (a host site keeps its own logging).
STORE_SETTINGS = ("write_timeout", "visitor_index_every")
SERVING_SETTINGS = ("log_format",)


def settings_names() -> list[str]:
    """Every plain value a setting can give: the ``TrackingApp`` arguments that are not objects,
    then the store's and the logs' settings."""
    parameters = inspect.signature(TrackingApp).parameters.values()
    objects = ("store", "authenticator", "custom_fields", "rate_limiter", "clock")
    arguments = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in objects]
    return arguments + [*STORE_SETTINGS, *SERVING_SETTINGS]


def options_from(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments that ``settings`` (``OCTETH_TRACKING_<NAME>`` keys) give."""
    found = {name: parse_text(settings[setting_name(name)]) for name in settings_names() if setting_name(name) in settings}
    return {name: value for name, value in found.items() if value is not None}  # None: unset, as for arguments


class ApiPhpAtRoot:
    """The tracking ``app`` mounted at the site's ``/api.php`` (Octeth's legacy path), beside its prefix.

    A ``DispatcherMiddleware`` mount at ``/api.php`` moves that path into ``SCRIPT_NAME``; this puts
    it back, so that the app routes it as its own ``/api.php`` row.
    """

    path = "/api.php"

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        script = environ.get("SCRIPT_NAME", "")
        environ = {**environ, "SCRIPT_NAME": script[: len(script) - len(self.path)],
                   "PATH_INFO": self.path + environ.get("PATH_INFO", "")}
        return self.app(environ, start_response)


def mounts(app: Any, prefix: str, at_root: bool) -> dict[str, Any]:
    """``DispatcherMiddleware``'s mounts for ``app`` under ``prefix`` (and, with ``at_root``, at ``/api.php``)."""
    found = {prefix.rstrip("/"): app}
    if at_root:
        found[ApiPhpAtRoot.path] = ApiPhpAtRoot(app)
    return found


def wants_api_php_at_root(setting: Any) -> bool:
    """Whether ``OCTETH_TRACKING_API_PHP_AT_ROOT`` (default: yes) puts ``/api.php`` at the site's root."""
    value = parse_text(setting)
    if value is None:
        return True
    if not isinstance(value, bool):
        raise ValueError(f"{PREFIX}API_PHP_AT_ROOT must be true or false, not {setting!r}")
    return value


def mount(app: Any, prefix: str, at_root: bool = True) -> Any:
    """``app`` under ``prefix`` (and, with ``at_root``, at ``/api.php``); every other path gets the JSON 404."""
    return DispatcherMiddleware(NotFound(), mounts(app, prefix, at_root)) if prefix.rstrip("/") else app


def redis_limiter(url: str, prefix: str | None = None) -> Any:
    """A :class:`~octeth_tracking.ratelimit_redis.RedisRateLimiter` on ``url`` (needs the redis extra)."""
    try:  # imported here: only a site with several processes needs redis-py
        from .ratelimit_redis import RedisRateLimiter
    except ImportError as error:
        raise ImportError(f"--redis needs redis-py: pip install 'octeth-tracking[redis]' ({error})") from error
    return RedisRateLimiter(url, prefix=prefix) if prefix else RedisRateLimiter(url)


def app_from_settings(settings: Mapping[str, Any], **arguments: Any) -> TrackingApp:
    """A :class:`TrackingApp` from ``OCTETH_TRACKING_*`` settings; ``arguments`` win over them.

    Beside ``TrackingApp``'s own arguments, these settings choose the objects it is built
    on: ``OCTETH_TRACKING_DB`` (the store, see ``open_store``, with ``OCTETH_TRACKING_WRITE_TIMEOUT``),
    or ``OCTETH_TRACKING_STORE`` (a store object, which the app never closes: a test kit's, say);
    ``OCTETH_TRACKING_REDIS`` and ``OCTETH_TRACKING_REDIS_PREFIX`` (a Redis rate limiter shared
    by every process); ``OCTETH_TRACKING_LOG_FORMAT``, when set, is how our loggers write.
    ``create_app`` reads them from the environment, ``contrib.flask`` from ``app.config``,
    ``contrib.django`` from Django's settings.

    :param settings: the ``OCTETH_TRACKING_*`` names and their values.
    :param arguments: ``TrackingApp`` arguments, objects included (``store``, ``authenticator``, ...).
    """
    options = {**options_from(settings), **{k: v for k, v in arguments.items() if v is not None}}
    checked_arguments(options)  # every setting, before anything is opened (TrackingApp checks its own again)
    checked = checked_arguments({name: options.pop(name) for name in (*STORE_SETTINGS, *SERVING_SETTINGS) if name in options})
    if "log_format" in checked:
        use_log_format(checked["log_format"])
    redis = settings.get(PREFIX + "REDIS")
    if redis and "rate_limiter" not in options:
        options["rate_limiter"] = redis_limiter(redis, settings.get(PREFIX + "REDIS_PREFIX"))
    given = options.pop("store", None) or settings.get(PREFIX + "STORE")
    for name in STORE_SETTINGS:
        if given is not None and name in checked:
            raise TypeError(f"{name} is for the store that OCTETH_TRACKING_DB opens: give it to the store you pass")
    store = given or open_store(str(settings.get(PREFIX + "DB") or DEFAULT_DB),
                                **{name: checked[name] for name in STORE_SETTINGS if name in checked})
    try:
        return TrackingApp(store=store, **options)
    except BaseException:
        if given is None:
            store.close()
        raise


def create_app(
    db: str | None = None,
    prefix: str | None = None,
    redis: str | None = None,
    redis_prefix: str | None = None,
    api_php_at_root: bool | None = None,
    **options: Any,
) -> Any:
    """A ready WSGI app: the store that ``db`` names, a :class:`TrackingApp`, mounted at ``prefix``.

    :param db: a SQLite path or ``sqlite:///path``, or a ``postgresql://`` URL;
        default ``OCTETH_TRACKING_DB``, then ``./octeth_tracking.db``.
    :param prefix: where the API answers; default ``OCTETH_TRACKING_PREFIX``, then
        ``/api/v1``; ``""`` gives the bare app.
    :param redis: a ``redis://`` URL: rate limits counted in Redis, shared by every
        process that uses it; default ``OCTETH_TRACKING_REDIS``; none: in process memory.
    :param redis_prefix: put before the limiter's Redis keys; default
        ``OCTETH_TRACKING_REDIS_PREFIX``, then ``octeth:rl:``.
    :param api_php_at_root: also answer Octeth's legacy ``POST /api.php`` at the root, beside
        ``{prefix}/api.php``; default ``OCTETH_TRACKING_API_PHP_AT_ROOT``, then yes.
    :param options: ``TrackingApp`` arguments; each missing one comes from its
        ``OCTETH_TRACKING_*`` variable when that is set.

    ``gunicorn 'octeth_tracking:create_app()'`` serves ``/api/v1/event`` (and ``/api.php``).
    """
    given = {"DB": db, "PREFIX": prefix, "REDIS": redis, "REDIS_PREFIX": redis_prefix}
    settings = {**os.environ, **{PREFIX + name: value for name, value in given.items() if value is not None}}
    if api_php_at_root is None:
        api_php_at_root = wants_api_php_at_root(settings.get(PREFIX + "API_PHP_AT_ROOT"))
    app = app_from_settings(settings, **options)
    return mount(app, settings.get(PREFIX + "PREFIX", DEFAULT_PREFIX), api_php_at_root)
