"""The site's own accounts: users with an API key (its SHA-256 digest only), their lists, the lists'
tracker keys (digests only too), which only a list's owner may create or revoke, and the lists' custom fields."""

from __future__ import annotations

import hashlib
import secrets
import json
import sqlite3
from contextlib import closing
from typing import Hashable, Sequence

from octeth_tracking import TrackerKey
from octeth_tracking.origins import normalize_origin
from octeth_tracking.fields import CustomField
from octeth_tracking.storage import new_tracker_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, api_key_digest TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS lists (
    id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users (id), name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trackers (
    id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL REFERENCES lists (id), digest TEXT NOT NULL UNIQUE,
    origins TEXT NOT NULL, server_side INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fields (
    id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL REFERENCES lists (id), label TEXT NOT NULL,
    merge_tag TEXT, is_key INTEGER NOT NULL DEFAULT 0
);
"""


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def connect(path: str) -> closing[sqlite3.Connection]:
    # One short-lived connection per call: the tracking API calls in from any server thread.
    return closing(sqlite3.connect(path, timeout=30))


def init_db(path: str) -> None:
    with connect(path) as conn:
        conn.executescript(SCHEMA)


def count_users(path: str) -> int:
    with connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def create_user(path: str, name: str) -> tuple[int, str]:
    api_key = secrets.token_urlsafe(32)
    with connect(path) as conn, conn:
        cursor = conn.execute("INSERT INTO users (name, api_key_digest) VALUES (?, ?)", (name, digest(api_key)))
    return int(cursor.lastrowid or 0), api_key


def create_list(path: str, user_id: int, name: str) -> int | None:
    """The new list's id, or ``None`` if there is no such user."""
    with connect(path) as conn, conn:
        if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
            return None
        return conn.execute("INSERT INTO lists (owner_id, name) VALUES (?, ?)", (user_id, name)).lastrowid


def create_tracker(path: str, user_id: int, list_id: int, origins: Sequence[str],
                   server_side: bool = False) -> tuple[int, str] | None:
    """A tracker key for the list, if it is ``user_id``'s (else ``None``): (its id, the key, shown this once).
    ``ValueError`` names an origin that is not one."""
    allowlist = sorted({normalize_origin(origin) for origin in origins})
    key = new_tracker_key()
    with connect(path) as conn, conn:
        if conn.execute("SELECT 1 FROM lists WHERE id = ? AND owner_id = ?", (list_id, user_id)).fetchone() is None:
            return None
        cursor = conn.execute("INSERT INTO trackers (list_id, digest, origins, server_side) VALUES (?, ?, ?, ?)",
                              (list_id, digest(key), json.dumps(allowlist), server_side))
    return int(cursor.lastrowid or 0), key


def revoke_tracker(path: str, user_id: int, key: str) -> bool:
    """Revoke a tracker key of one of ``user_id``'s lists; ``False`` if there is no such live key of theirs."""
    with connect(path) as conn, conn:
        return conn.execute(
            "UPDATE trackers SET revoked = 1 WHERE digest = ? AND revoked = 0"
            " AND list_id IN (SELECT id FROM lists WHERE owner_id = ?)", (digest(key), user_id)).rowcount == 1


class SiteAuthenticator:
    """The tracking API's view of this site: API keys, list ownership and tracker keys from its own tables.

    :param path: the site's SQLite database.
    """

    def __init__(self, *, path: str) -> None:
        self.path = path

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        if not api_key:
            return None  # this site has no API sessions: a SessionID alone names nobody
        with connect(self.path) as conn:
            row = conn.execute("SELECT id FROM users WHERE api_key_digest = ?", (digest(api_key),)).fetchone()
        return row[0] if row else None

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        with connect(self.path) as conn:
            row = conn.execute("SELECT 1 FROM lists WHERE id = ? AND owner_id = ?", (list_id, user_id)).fetchone()
        return row is not None

    def tracker_key(self, key: str) -> TrackerKey | None:
        with connect(self.path) as conn:
            row = conn.execute("SELECT id, list_id, origins, server_side FROM trackers WHERE digest = ? AND revoked = 0",
                               (digest(key),)).fetchone()
        return TrackerKey(id=row[0], list_id=row[1], origins=tuple(json.loads(row[2])), server_side=bool(row[3])) if row else None


def create_field(path: str, list_id: int, label: str, merge_tag: str | None, is_key: bool) -> int | None:
    """The new field's id, or ``None`` if there is no such list."""
    with connect(path) as conn, conn:
        if conn.execute("SELECT 1 FROM lists WHERE id = ?", (list_id,)).fetchone() is None:
            return None
        return conn.execute("INSERT INTO fields (list_id, label, merge_tag, is_key) VALUES (?, ?, ?, ?)",
                            (list_id, label, merge_tag, is_key)).lastrowid


class SiteFields:
    """The tracking API's view of this site's custom fields (a ``FieldDirectory``): its own ``fields`` table.

    :param path: the site's SQLite database.
    """

    def __init__(self, *, path: str) -> None:
        self.path = path

    def custom_fields(self, list_id: int) -> list[CustomField]:
        with connect(self.path) as conn:
            rows = conn.execute("SELECT id, label, merge_tag, is_key FROM fields WHERE list_id = ? ORDER BY id",
                                (list_id,)).fetchall()
        return [CustomField(id_, list_id, label, merge_tag, bool(is_key)) for id_, label, merge_tag, is_key in rows]
