"""The two records of the request cycle: a :class:`Route` (one row of :data:`~octeth_tracking.app.ROUTES`)
and a :class:`Call` (one request on its way to its handler). :mod:`~octeth_tracking.app` re-exports both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable

from .credentials import SECRET, Credential
from .storage import TrackerKey

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .app import TrackingApp
    from .endpoints import Answer


@dataclass
class Call:
    """One request on its way to its handler: what the checks before it found."""

    environ: WSGIEnvironment
    route: Route | None = None  # once the path is found
    body: dict[str, Any] = field(default_factory=dict)  # the parameters as sent
    params: dict[str, Any] = field(default_factory=dict)  # top-level names lower-cased, nulls dropped
    credential: Credential | None = None  # the kind the request presented, once it is being checked
    user: Hashable | None = None  # the user, once a secret credential is checked
    tracker: TrackerKey | None = None  # the tracker key, once one is checked
    cors_origin: str | None = None  # the origin that may read the answer (tracker keys only)
    list_id: int | None = None  # the body's ListID once the schema passed and the caller may use the list


@dataclass(frozen=True)
class Route:
    """One endpoint, relative to the mount point.

    :param path: ``PATH_INFO`` below the mount point.
    :param methods: what it answers; any other method gets 405.
    :param handler: ``handler(app, call)``: the answer.
    :param name: in rate-limit keys and log lines.
    :param schema: ``schemas/<schema>.schema.json`` validates its parameters (422 with their codes).
    :param credentials: the kinds of credential it accepts, in the order they are looked for
        (401 without any); none: open to all.
    :param rate_limit: the ``TrackingApp`` argument holding its requests per window per user.
    :param form: its body may be a form (``application/x-www-form-urlencoded``) as well as JSON.
    :param micro: served only by a micro server (``TrackingApp(micro=True)``, ``serve --micro``).
    :param enabled_by: the ``TrackingApp`` argument that switches it on; while that is ``None``
        the path is not served at all (404).
    :param body_limit: the ``TrackingApp`` argument holding its body's limit (else ``max_body_size``).
    :param costs: ``costs(app, route, call)``: the (limiter key, limit, cost) its request counts
        against, in place of its credential's ``rate_limits`` at one each (a batch's events).

    ``OPTIONS`` among the methods makes it answer CORS preflights, for tracker keys.
    """

    path: str
    methods: tuple[str, ...]
    handler: Callable[[TrackingApp, Call], Answer]
    name: str
    schema: str | None = None
    credentials: tuple[Credential, ...] = (SECRET,)
    rate_limit: str | None = None
    form: bool = False
    micro: bool = False
    enabled_by: str | None = None
    body_limit: str = "max_body_size"
    costs: Callable[[TrackingApp, Route, Call], list[tuple[str, int, int]]] | None = None
