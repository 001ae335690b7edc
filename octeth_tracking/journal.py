"""The journal of rejected requests: what a caller sent that the API refused, and why.

A request refused with a 4xx once its caller is known (a 422 for its parameters, a 429 for
its rate; a tracker key's, a 403 for its origin too, is kept for its list's owner) is kept for that caller: when, which route, the status, the answer's errors,
and the body, redacted (credentials and email addresses never reach the journal) and
truncated. A 401 names nobody to show it to; 404 and 405 are noise (scanners), and a
flood of 429s is kept once per user and route per rate-limit window. A store that cannot
keep it never changes the answer: the failure is logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Hashable

import orjson

from .storage.journal import Rejection

if TYPE_CHECKING:
    from .app import Call, Route
    from .errors import APIError
    from .storage.base import JournalStore

log = logging.getLogger("octeth_tracking")

REDACTED = "[redacted]"
ANONYMOUS = ""  # whose rejections a micro server keeps when no caller is known


class Journal:
    """Keeps each user's newest ``keep`` rejections in ``store``.

    :param store: where they are kept.
    :param keep: rejections kept per user; 0 keeps none.
    :param window: seconds within which a second 429 of a user on one route is not kept.
    :param anonymous: keep what no known caller sent too (a 401, say), as the user ``""``: for
        a micro server, where a test suite wants to see every refusal.
    :param clock: seconds since the epoch, for the times it keeps.
    """

    secret_names = frozenset({"apikey", "sessionid", "password", "authorization"})  # redacted, matched case-insensitively
    body_limit = 2000  # characters of a kept body
    node_limit = 2000  # values of a body read for redaction; the rest is cut

    def __init__(self, store: JournalStore, *, keep: int, window: float, anonymous: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.keep = keep
        self.window = window
        self.anonymous = anonymous
        self.clock = clock
        self._last_429: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def record(self, route: Route, call: Call, error: APIError) -> None:
        """Keep ``error``, the answer to ``call`` on ``route``, if it is one to keep."""
        if self.keep <= 0 or not 400 <= error.status < 500:
            return
        caller = call.user
        if caller is None and call.tracker is not None:  # a web page's: its list's owner sees it
            caller = getattr(self.store, "list_owner", lambda list_id: None)(call.tracker.list_id)
        if caller is None and not self.anonymous:
            return  # nobody to show it to (a 401, or a body that could not be read)
        user = ANONYMOUS if caller is None else owner(caller)
        if error.status == 429 and not self._first_429(user, route.path):
            return
        try:
            rejection = Rejection(
                at=self.clock(), route=route.path, status=error.status,
                errors=error.items(),
                body=self.kept_body(call.body),
            )
            self.store.journal_rejection(user, rejection, self.keep)
        except Exception as failure:  # the answer stands; the journal is the lesser loss
            log.warning("could not keep a rejected request in the journal: %s", failure)

    def _first_429(self, user: str, path: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last_429.get((user, path))
            if last is not None and now - last < self.window:
                return False
            if len(self._last_429) > 10_000:
                self._last_429.clear()
            self._last_429[(user, path)] = now
        return True

    def kept_body(self, body: dict[str, Any]) -> str:
        """``body`` as JSON, its secrets and email addresses redacted, cut to ``body_limit`` characters."""
        kept = self.redacted(body)
        try:
            text = orjson.dumps(kept).decode()
        except TypeError:  # an integer past 64 bits, say: the json module writes anything JSON can hold
            text = json.dumps(kept, ensure_ascii=False)
        return text if len(text) <= self.body_limit else text[: self.body_limit - 1] + "…"

    def redacted(self, body: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``body`` where every value under a secret's name, or a name holding
        "email" (``Email``, ``emailAddress``), is ``"[redacted]"``; without recursion (a body
        may be deep), and cut after ``node_limit`` values."""
        copy: dict[str, Any] = {}
        stack: list[tuple[Any, Any]] = [(body, copy)]
        budget = self.node_limit
        while stack:
            source, target = stack.pop()
            items = source.items() if isinstance(source, dict) else enumerate(source)
            for key, value in items:
                budget -= 1
                if budget < 0:
                    return copy
                name = str(key).lower()
                if isinstance(source, dict) and (name in self.secret_names or "email" in name):
                    value = REDACTED
                elif isinstance(value, (dict, list)):
                    child: Any = {} if isinstance(value, dict) else []
                    stack.append((value, child))
                    value = child
                if isinstance(target, dict):
                    target[key] = value
                else:
                    target.append(value)
        return copy

    def read(self, user: Hashable, limit: int) -> list[Rejection]:
        return self.store.rejections(owner(user), limit)


def owner(user: Hashable) -> str:
    """How the journal names a user (a host's authenticator may use any hashable id)."""
    return str(user)
