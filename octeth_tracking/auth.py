"""Who is calling, and which lists they may use.

The app asks an :class:`Authenticator`; a host site passes its own to use its own
accounts (see ``examples/``). The default asks the store.
"""

from __future__ import annotations

from typing import Hashable, Protocol

from .storage import Store


class Authenticator(Protocol):
    """Credentials in, a user id (any hashable) or ``None`` out; user and list in, may-use out."""

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        """The user that either credential names, or ``None``. Each is a non-empty string or ``None``."""
        ...

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        """Whether the list exists and ``user_id`` may track events in it and read it."""
        ...


class StoreAuthenticator:
    """The default: users, API keys (SHA-256 digests only), sessions with an expiry, lists, all in the store.

    :param store: the store that holds the accounts (usually the event store itself).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        user = self.store.user_for_api_key(api_key) if api_key else None
        if user is None and session_id:
            user = self.store.user_for_session(session_id)
        return user

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        owner = self.store.list_owner(list_id)
        return owner is not None and owner == user_id
