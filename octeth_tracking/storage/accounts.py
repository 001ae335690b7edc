"""The accounts of the default authenticator, written once for both stores.

Users, lists, API keys and sessions (keys and session ids as SHA-256 digests only), over
the primitives of :class:`~octeth_tracking.storage.sql.SQLStatements`, and the revocation pair
(see :mod:`~octeth_tracking.storage.revocations`): ``_revoke``, a write that takes access away
and tells every process, and ``revocation_generation``, what they read to know.
"""

from __future__ import annotations

from typing import Any

from .base import digest, new_secret
from .sql import SQLStatements


class SQLAccounts(SQLStatements):
    """:class:`~octeth_tracking.storage.base.AccountStore` and the account half of ``StoreAdmin``."""

    # What delete_all_events forgets beside the events: what was tracked, not the accounts.
    tracked_tables: tuple[str, ...] = (
        "event_properties", "event_types", "visitor_links", "visitor_link_history", "subscriber_fields", "subscribers")

    def _revoke(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement that takes access away, like ``_write``; if it changed a row, move
        the revocation generation (once the change is committed), so that no process trusts
        what it remembered from before. Every revocation of any credential goes through here."""
        raise NotImplementedError

    def revocation_generation(self) -> int | None:
        """The current revocation generation, or ``None`` if it cannot be known now."""
        raise NotImplementedError

    def _require_user(self, user_id: int) -> None:
        if self._read_one(self._sql("SELECT id FROM users WHERE id = ?"), (user_id,)) is None:
            raise LookupError(f"no user with id {user_id}")

    def user_for_api_key(self, api_key: str) -> int | None:
        return self._read_one(  # type: ignore[no-any-return]
            self._sql("SELECT user_id FROM api_keys WHERE digest = ? AND revoked_at IS NULL"), (digest(api_key),)
        )

    def user_for_session(self, session_id: str) -> int | None:
        return self._read_one(  # type: ignore[no-any-return]
            self._sql("SELECT user_id FROM sessions WHERE digest = ? AND expires_at > ?"), (digest(session_id), self.clock())
        )

    def list_owner(self, list_id: int) -> int | None:
        return self._read_one(self._sql("SELECT user_id FROM lists WHERE id = ?"), (list_id,))  # type: ignore[no-any-return]

    def count_users(self) -> int:
        return int(self._read_one("SELECT count(*) FROM users", ()))

    def first_user_id(self) -> int | None:
        return self._read_one("SELECT min(id) FROM users", ())  # type: ignore[no-any-return]

    def create_user(self, name: str) -> int:
        return self._insert_id(self._sql("INSERT INTO users (name, created_at) VALUES (?, ?)"),
                               (name, self._timestamp(self.clock())))

    def create_list(self, user_id: int, name: str) -> int:
        self._require_user(user_id)
        return self._insert_id(self._sql("INSERT INTO lists (user_id, name, created_at) VALUES (?, ?, ?)"),
                               (user_id, name, self._timestamp(self.clock())))

    def create_api_key(self, user_id: int, key: str | None = None) -> str:
        self._require_user(user_id)
        key = key or new_secret()
        self._write(self._sql("INSERT INTO api_keys (digest, user_id, created_at) VALUES (?, ?, ?)"),
                    (digest(key), user_id, self._timestamp(self.clock())))
        return key

    def revoke_api_key(self, api_key: str) -> bool:
        return bool(self._revoke(
            self._sql("UPDATE api_keys SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL"),
            (self._timestamp(self.clock()), digest(api_key)),
        ))

    def revoke_session(self, session_id: str) -> bool:
        """Log a session out: it gets 401 from then on; ``False`` if it was unknown or expired already."""
        return bool(self._revoke(self._sql("DELETE FROM sessions WHERE digest = ? AND expires_at > ?"),
                                 (digest(session_id), self.clock())))

    def delete_all_events(self) -> int:
        deleted = self._write("DELETE FROM events", ())
        for table in self.tracked_tables:
            self._write(f"DELETE FROM {table}", ())
        return deleted

    def create_session(self, user_id: int, ttl: float) -> str:
        self._require_user(user_id)
        session_id = new_secret()
        self._write(self._sql("INSERT INTO sessions (digest, user_id, expires_at) VALUES (?, ?, ?)"),
                    (digest(session_id), user_id, self.clock() + ttl))
        return session_id
