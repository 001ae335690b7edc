"""A tracking app for other projects' tests: in memory, one account made, test-friendly defaults.

The pytest plugin (:mod:`octeth_tracking.pytest_plugin`) gives it as fixtures; the micro
server (``serve --micro``) serves one. Anywhere else::

    from octeth_tracking.testing import TrackingKit

    kit = TrackingKit()
    kit.track("signup", ID="visitor-1", Properties={"plan": "pro"})
    kit.assert_tracked("signup", id="visitor-1", properties={"plan": "pro"})
    assert kit.properties() == {"signup": ["plan"]}
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Mapping

from werkzeug.serving import make_server
from werkzeug.test import Client, TestResponse

from .app import TrackingApp
from .config import mount
from .endpoints.journal import rejected_answer
from .endpoints.reads import event_answer
from .journal import owner
from .settings import DEFAULT_PREFIX, PREFIX
from .schemas import normalize_email
from .storage import EventQuery, SQLiteStore, Store

# Off in a test: a suite that sends its 101st properties call in a minute, or revokes a key
# and expects a 401 at once, must not meet production's limits and caches.
TEST_DEFAULTS: dict[str, Any] = {
    "event_rate_limit": 0, "properties_rate_limit": 0, "rejected_rate_limit": 0, "list_rate_limit": 0,
    "forget_rate_limit": 0, "tracker_rate_limit": 0, "tracker_visitor_rate_limit": 0, "batch_rate_limit": 0,
    "auth_cache_ttl": 0,
}


class TrackingError(AssertionError):
    """The API refused what a helper sent; the message shows the status and the errors."""


class TrackingKit:
    """A :class:`~octeth_tracking.TrackingApp` with a user, an API key and a list, and helpers.

    :param store: default: a new in-memory store (``SQLiteStore(":memory:")``).
    :param prefix: where the app is mounted for :attr:`client` and :meth:`serve` (default ``/api/v1``).
    :param api_key: the account's API key; default: a fresh one.
    :param options: ``TrackingApp`` arguments, over :data:`TEST_DEFAULTS` (no rate limits, no auth cache).

    Attributes: ``app`` (the bare ``TrackingApp``), ``wsgi`` (it, mounted at ``prefix``),
    ``client`` (werkzeug's test client on ``wsgi``), ``store``, ``user_id``, ``api_key``,
    ``list_id``, and ``url`` while :meth:`serve` runs.
    """

    def __init__(self, *, store: Store | None = None, prefix: str = DEFAULT_PREFIX, api_key: str | None = None,
                 **options: Any) -> None:
        self.store: Store = store if store is not None else SQLiteStore(":memory:")
        self._own_store = store is None
        self.user_id = self.store.create_user("test")
        self.api_key = self.store.create_api_key(self.user_id, api_key)
        self.list_id = self.store.create_list(self.user_id, "test list")
        self.options = options
        self.app = TrackingApp(store=self.store, **{**TEST_DEFAULTS, **options})
        self.prefix = prefix.rstrip("/")
        self.wsgi = mount(self.app, self.prefix)
        self.client = Client(self.wsgi)
        self.url: str | None = None

    def settings(self) -> dict[str, Any]:
        """``OCTETH_TRACKING_*`` settings for a host site that mounts the API itself, so that it
        serves this kit's store with its test defaults: ``app.config.update(kit.settings())``
        before Flask's ``init_app``; each set on Django's ``settings`` (pytest-django's fixture)."""
        options = {**TEST_DEFAULTS, **self.options}
        return {PREFIX + "STORE": self.store, **{PREFIX + name.upper(): value for name, value in options.items()}}

    # -- sending --

    def post(self, path: str, body: Any, **kwargs: Any) -> TestResponse:
        """``body`` (JSON-encoded unless it is already text or bytes) to ``{prefix}{path}``, as the API's client would."""
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(self.prefix + path, data=data, content_type="application/json", **kwargs)

    def credentials(self) -> dict[str, Any]:
        return {"APIKey": self.api_key, "ListID": self.list_id}

    def track(self, event: str = "pageView", **parameters: Any) -> dict[str, Any]:
        """Track one event in the kit's list (``ID``, ``Email``, ``Properties``, ... as keyword
        arguments); the answer. Raises :class:`TrackingError` if the API refuses it."""
        return self._ok(self.post("/event", {**self.credentials(), "Event": event, **parameters}))

    def properties(self) -> dict[str, list[str]]:
        """What ``website_events.properties`` answers for the kit's list: event name to property names."""
        return self._ok(self.post("/website_events.properties", self.credentials()))["Properties"]  # type: ignore[no-any-return]

    def rejected(self) -> list[dict[str, Any]]:
        """The journal of the kit's rejected requests, newest first, as ``website_events.rejected`` answers."""
        return rejected_answer(self.store.rejections(owner(self.user_id), 10_000))["Rejected"]  # type: ignore[no-any-return]

    def events(self, *, id: str | int | None = None, email: str | None = None, event: str | None = None,
               since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
        """The events stored in the kit's list, oldest first (the order they were tracked in), as
        ``website_events.list`` gives each one; the filters are its (``since``/``until`` in seconds)."""
        query = EventQuery(self.list_id, external_id=None if id is None else str(id),
                           email=None if email is None else normalize_email(email), event=event, since=since,
                           until=until, limit=1000, oldest_first=True)
        found: list[dict[str, Any]] = []
        while True:
            page = self.store.read_events(query)
            found += [event_answer(stored) for stored in page.events]
            if page.cursor is None:
                return found
            query = replace(query, cursor=page.cursor)

    def assert_tracked(self, event: str | None = None, *, count: int | None = None, id: str | int | None = None,
                       email: str | None = None, properties: Mapping[str, Any] | None = None,
                       identify_event_sent: bool | None = None) -> list[dict[str, Any]]:
        """Assert that the kit's list holds an event like this (exactly ``count`` of them, if given);
        the events that match. ``properties`` must be among the event's, with these values.

        The failure shows what was expected and every stored event, one line each."""
        wanted = {"Event": event, "ID": None if id is None else str(id),
                  "Email": None if email is None else normalize_email(email), "IdentifyEventSent": identify_event_sent}
        wanted = {name: value for name, value in wanted.items() if value is not None}
        stored = self.events()
        matching = [e for e in stored if all(e[name] == value for name, value in wanted.items())
                    and all(name in e["Properties"] and e["Properties"][name] == value
                            for name, value in (properties or {}).items())]
        if (len(matching) >= 1) if count is None else (len(matching) == count):
            return matching
        expected = ", ".join([f"{name} {value!r}" for name, value in wanted.items()]
                             + ([f"Properties including {json.dumps(properties, ensure_ascii=False)}"] if properties else []))
        how_many = "at least one event" if count is None else f"{count} event{'' if count == 1 else 's'}"
        lines = [f"expected {how_many} with {expected or 'anything'}; {len(matching)} of the {len(stored)} "
                 f"stored in list {self.list_id} match" + (":" if stored else ".")]
        lines += [f"  {'*' if e in matching else ' '} {e['OccurredAt']}  {e['Event']!r}  ID {e['ID']!r}"
                  + (f"  Email {e['Email']!r}" if e["Email"] else "")
                  + f"  Properties {json.dumps(e['Properties'], ensure_ascii=False)}" for e in stored[-50:]]
        if len(stored) > 50:
            lines.insert(1, f"  ... the {len(stored) - 50} older ones left out")
        raise AssertionError("\n".join(lines))

    def reset(self) -> None:
        """Forget every event and rejection; the account stays."""
        self.store.delete_all_events()
        self.store.clear_rejections()

    @staticmethod
    def _ok(response: TestResponse) -> dict[str, Any]:
        answer = response.get_json(silent=True)
        if response.status_code != 200:
            raise TrackingError(f"the API answered {response.status_code}: {json.dumps(answer)}")
        assert isinstance(answer, dict), answer  # every 200 of the API is a JSON object
        return answer

    # -- a real server --

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve the kit over HTTP on a free loopback port (werkzeug's threaded server) while
        the ``with`` block runs; yields the API's base URL (``http://127.0.0.1:PORT/api/v1``)."""
        server = make_server(host, port, self.wsgi, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://{host}:{server.server_port}{self.prefix}"
        try:
            yield self.url
        finally:
            server.shutdown()
            thread.join(10)
            server.server_close()
            self.url = None

    def close(self) -> None:
        if self._own_store:
            self.store.close()
