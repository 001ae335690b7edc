"""Tracker keys, written once for both stores: public, per-list keys for browsers.

A key is stored as its SHA-256 digest only, with its list, its origin allowlist (a JSON array
of normalised origins, see :mod:`~octeth_tracking.origins`), whether it may be used without
an ``Origin`` (from a server), and when it was created and revoked. The SQL is in ``?`` style,
as in :class:`~octeth_tracking.storage.accounts.SQLAccounts`, whose primitives it uses.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Sequence

from ..origins import normalize_origin
from .accounts import SQLAccounts
from .base import TrackerKey, digest, new_tracker_key

_COLUMNS = "id, list_id, origins, server_side, created_at, revoked_at"


def _iso(value: Any) -> str | None:
    """A stored time as ISO 8601 UTC: SQLite keeps seconds, PostgreSQL a ``timestamptz``."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


class SQLTrackers(SQLAccounts):
    """The tracker-key half of ``AccountStore`` and ``StoreAdmin``, on the account primitives."""

    @staticmethod
    def _tracker(row: tuple[Any, ...]) -> TrackerKey:
        tracker_id, list_id, origins, server_side, created_at, revoked_at = row
        return TrackerKey(id=int(tracker_id), list_id=int(list_id), origins=tuple(json.loads(origins)),
                          server_side=bool(server_side), created_at=_iso(created_at) or "", revoked_at=_iso(revoked_at))

    def tracker_for_key(self, key: str) -> TrackerKey | None:
        rows = self._read_rows(
            self._sql(f"SELECT {_COLUMNS} FROM tracker_keys WHERE digest = ? AND revoked_at IS NULL"), (digest(key),))
        return self._tracker(rows[0]) if rows else None

    def create_tracker(self, list_id: int, origins: Sequence[str], server_side: bool = False) -> tuple[int, str]:
        allowlist = sorted({normalize_origin(origin) for origin in origins})
        if not allowlist and not server_side:
            raise ValueError("a tracker key needs an origin to be used from, or server_side")
        if self.list_owner(list_id) is None:
            raise LookupError(f"no list with id {list_id}")
        key = new_tracker_key()
        tracker_id = self._insert_id(
            self._sql("INSERT INTO tracker_keys (digest, list_id, origins, server_side, created_at) VALUES (?, ?, ?, ?, ?)"),
            (digest(key), list_id, json.dumps(allowlist), server_side, self._timestamp(self.clock())),
        )
        return tracker_id, key

    def trackers(self, list_id: int | None = None) -> list[TrackerKey]:
        if list_id is None:
            rows = self._read_rows(f"SELECT {_COLUMNS} FROM tracker_keys ORDER BY id", ())
        else:
            rows = self._read_rows(self._sql(f"SELECT {_COLUMNS} FROM tracker_keys WHERE list_id = ? ORDER BY id"),
                                   (list_id,))
        return [self._tracker(row) for row in rows]

    def revoke_tracker(self, tracker_id: int) -> bool:
        return bool(self._revoke(  # every process's cache lets the key go at once
            self._sql("UPDATE tracker_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
            (self._timestamp(self.clock()), tracker_id),
        ))
