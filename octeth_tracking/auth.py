"""Who is calling, and which lists they may use.

The app asks an :class:`Authenticator`; a host site passes its own to use its own
accounts (see ``examples/``). The default asks the store.
"""

from __future__ import annotations

import time
from typing import Callable, Hashable, Protocol

from .storage import AccountStore


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

    A valid API key and a list's owner are remembered in each process, together with the
    store's revocation generation read before the look-up (see
    :mod:`~octeth_tracking.storage.revocations`); a remembered answer is used only while the
    generation is unchanged and for ``cache_ttl`` seconds at most. So a key revoked through the
    store (``revoke-api-key``) gets 401 on the very next request in every process, while a
    cache hit costs no query; ``cache_ttl`` only bounds a change made behind the store's back
    (an ``UPDATE`` in a SQL shell). A failed look-up and a session are never cached.

    :param store: the store that holds the accounts (usually the event store itself).
    :param cache_ttl: seconds a found key or list owner is remembered at most; 0 switches it off.
    :param cache_size: most entries remembered; the cache starts afresh when full.
    :param clock: seconds, monotonic; tests pass their own to step past ``cache_ttl``.
    """

    def __init__(
        self, store: AccountStore, *, cache_ttl: float = 5.0, cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self.clock = clock
        # A store without a generation (one written before it existed) keeps the time bound alone.
        self.generation: Callable[[], int | None] = getattr(store, "revocation_generation", lambda: 0)
        self._users: dict[str, tuple[float, int, Hashable]] = {}
        self._owners: dict[int, tuple[float, int, Hashable]] = {}

    def _remember(self, cache: dict, key: object, generation: int | None, value: Hashable) -> None:  # type: ignore[type-arg]
        if self.cache_ttl <= 0 or generation is None:
            return
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[key] = (self.clock() + self.cache_ttl, generation, value)

    # The two look-ups below check their cache inline: they run on every request.

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        if api_key:
            generation = self.generation()  # before the look-up: a revocation after it moves it
            cached = self._users.get(api_key)
            if cached is not None and cached[1] == generation and cached[0] > self.clock():
                return cached[2]
            user = self.store.user_for_api_key(api_key)
            if user is not None:
                self._remember(self._users, api_key, generation, user)
                return user
        return self.store.user_for_session(session_id) if session_id else None

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        generation = self.generation()
        cached = self._owners.get(list_id)
        if cached is not None and cached[1] == generation and cached[0] > self.clock():
            owner = cached[2]
        else:
            owner = self.store.list_owner(list_id)
            if owner is not None:
                self._remember(self._owners, list_id, generation, owner)
        return owner is not None and owner == user_id
