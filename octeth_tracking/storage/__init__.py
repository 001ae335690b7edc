"""Stores: the interfaces, the SQLite default, and choosing one from a URL."""

from __future__ import annotations

from functools import partial

from .base import (
    AccountStore, Event, EventStore, JournalStore, Receipt, StorageError, StorageUnavailable, Store, StoreAdmin,
    TrackerKey, digest, new_secret, new_tracker_key, sends_identify,
)
from .journal import Rejection
from .reads import Erasure, EventPage, EventQuery, EventReader, StoredEvent
from .sqlite import SQLiteStore

__all__ = [
    "AccountStore", "Erasure", "Event", "EventPage", "EventQuery", "EventReader", "EventStore", "JournalStore", "Receipt", "Rejection", "SQLiteStore", "StorageError",
    "StorageUnavailable", "Store", "StoreAdmin", "StoredEvent", "TrackerKey", "digest", "new_secret", "new_tracker_key", "open_store",
    "sends_identify",
]

DEFAULT_DB = "octeth_tracking.db"


def open_store(url: str | None = None, *, write_timeout: float | None = None,
               visitor_index_every: int | None = None) -> Store:
    """The store that ``url`` names: ``postgresql://...`` or a SQLite path (``sqlite:///path`` too).

    :param write_timeout: seconds a write waits for its turn (a lock, a connection) before it
        gets a 503; default the store's own (5).
    :param visitor_index_every: SQLite only: events past the visitor index that start a bulk
        step of it; default the store's own (20,000).
    """
    url = url or DEFAULT_DB
    if url.startswith(("postgresql://", "postgres://")):
        try:  # imported here: only a PostgreSQL site needs psycopg
            from .postgres import PostgresStore
        except ImportError as error:
            raise ImportError(
                f"{url.split(':')[0]}:// needs psycopg: pip install 'octeth-tracking[postgres]' ({error})"
            ) from error
        if visitor_index_every is not None:
            raise ValueError("visitor_index_every is for a SQLite store: PostgreSQL indexes each event's visitor as it commits")
        return PostgresStore(url) if write_timeout is None else PostgresStore(url, timeout=write_timeout)
    store = SQLiteStore if visitor_index_every is None else partial(SQLiteStore, visitor_index_every=visitor_index_every)
    return store(url) if write_timeout is None else store(url, busy_timeout=write_timeout)
