"""The journal of rejected requests, written once for both stores.

Snowplow's "bad" stream for this API: each request refused with a 4xx once its caller was
known, kept per user, the newest ``keep`` only, so a site's developer sees why events are
missing without reading server logs. What is kept is already redacted by the app
(:mod:`octeth_tracking.journal`); the SQL is in ``?`` style, as in :mod:`.accounts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .sql import SQLStatements


@dataclass(frozen=True)
class Rejection:
    """One refused request, as the journal keeps it."""

    at: float  # seconds since the epoch
    route: str  # the path below the mount point
    status: int
    errors: list[dict[str, Any]]  # the answer's Errors: [{"Code": ..., "Message": ...}]
    body: str  # the request's parameters as JSON, redacted and truncated


class SQLJournal(SQLStatements):
    """:class:`~octeth_tracking.storage.base.JournalStore` over the store's primitives."""

    def journal_rejection(self, user: str, rejection: Rejection, keep: int) -> None:
        """Keep ``rejection`` as ``user``'s newest, and only their ``keep`` newest."""
        self._write(self._sql("INSERT INTO rejected_requests (user_id, at, route, status, errors, body)"
                              " VALUES (?, ?, ?, ?, ?, ?)"),
                    (user, rejection.at, rejection.route, rejection.status, orjson.dumps(rejection.errors).decode(),
                     rejection.body))
        self._write(self._sql(
            "DELETE FROM rejected_requests WHERE user_id = ? AND id <= (SELECT id FROM rejected_requests"
            " WHERE user_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"), (user, user, keep))

    def rejections(self, user: str | None, limit: int = 100) -> list[Rejection]:
        """``user``'s journal (everyone's, with ``None``), newest first."""
        where, params = ("WHERE user_id = ? ", (user, limit)) if user is not None else ("", (limit,))
        rows = self._read_rows(self._sql(
            f"SELECT at, route, status, errors, body FROM rejected_requests {where}ORDER BY id DESC LIMIT ?"), params)
        return [Rejection(float(at), route, int(status), orjson.loads(errors), body) for at, route, status, errors, body in rows]

    def clear_rejections(self, user: str | None = None) -> int:
        """Forget ``user``'s journal (everyone's, with ``None``); how many were forgotten."""
        if user is None:
            return self._write("DELETE FROM rejected_requests", ())
        return self._write(self._sql("DELETE FROM rejected_requests WHERE user_id = ?"), (user,))
