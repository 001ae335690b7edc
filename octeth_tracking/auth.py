"""Who is calling, and which lists they may use.

The app asks an :class:`Authenticator`; a host site passes its own to use its own
accounts (see ``examples/``). The default asks the store. An authenticator that also has
:meth:`TrackerKeyLookup.tracker_key` accepts tracker keys (public per-list keys for browsers):
one object answers for every credential, so one cache (and whatever ends its entries early)
covers them all.
"""

from __future__ import annotations

import time
from typing import Callable, Hashable, Protocol, TypeVar, runtime_checkable

from .storage import AccountStore, TrackerKey

K = TypeVar("K")
V = TypeVar("V")


class Authenticator(Protocol):
    """Credentials in, a user id (any hashable) or ``None`` out; user and list in, may-use out."""

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        """The user that either credential names, or ``None``. Each is a non-empty string or ``None``."""
        ...

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        """Whether the list exists and ``user_id`` may track events in it and read it."""
        ...


@runtime_checkable
class TrackerKeyLookup(Protocol):
    """The optional third method of an :class:`Authenticator`: without it, tracker keys get 401."""

    def tracker_key(self, key: str) -> TrackerKey | None:
        """The live tracker key that ``key`` is (its list, origins, server-side use), or ``None``."""
        ...


class StoreAuthenticator:
    """The default: users, API keys and tracker keys (SHA-256 digests only), sessions with an
    expiry, lists, all in the store.

    A valid API key, a valid tracker key and a list's owner are remembered in each process,
    all through :meth:`_cached`, together with the store's revocation generation read before
    the look-up (see :mod:`~octeth_tracking.storage.revocations`); a remembered answer is used
    only while the generation is unchanged and for ``cache_ttl`` seconds at most. So a key
    revoked through the store (``revoke-api-key``, ``revoke-tracker``) gets 401 on the very next
    request in every process, while a cache hit costs no query; ``cache_ttl`` only bounds a
    change made behind the store's back (an ``UPDATE`` in a SQL shell). A failed look-up and a
    session are never cached.

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
        self._trackers: dict[str, tuple[float, int, TrackerKey]] = {}

    def _cached(self, cache: dict[K, tuple[float, int, V]], key: K, look_up: Callable[[K], V | None]) -> V | None:
        """``look_up(key)``, remembered in ``cache`` while the generation stays and for ``cache_ttl``
        seconds at most, when it finds something (``None``: the generation is unknown, trust nothing)."""
        generation = self.generation()  # before the look-up: a revocation after it moves it
        cached = cache.get(key)
        if cached is not None and cached[1] == generation and cached[0] > self.clock():
            return cached[2]
        found = look_up(key)
        if found is not None and self.cache_ttl > 0 and generation is not None:
            if len(cache) >= self.cache_size:
                cache.clear()
            cache[key] = (self.clock() + self.cache_ttl, generation, found)
        return found

    def authenticate(self, api_key: str | None, session_id: str | None) -> Hashable | None:
        if api_key:
            user = self._cached(self._users, api_key, self.store.user_for_api_key)
            if user is not None:
                return user
        return self.store.user_for_session(session_id) if session_id else None

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        owner = self._cached(self._owners, list_id, self.store.list_owner)
        return owner is not None and owner == user_id

    def tracker_key(self, key: str) -> TrackerKey | None:
        look_up = getattr(self.store, "tracker_for_key", None)  # an account store of an earlier version has none
        return None if look_up is None else self._cached(self._trackers, key, look_up)
