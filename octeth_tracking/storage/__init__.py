"""Stores: the interfaces, the SQLite default, and choosing one from a URL."""

from __future__ import annotations

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


def open_store(url: str | None = None, *, write_timeout: float | None = None) -> Store:
    """The store that ``url`` names: ``postgresql://...`` or a SQLite path (``sqlite:///path`` too).

    :param write_timeout: seconds a write waits for its turn (a lock, a connection) before it
        gets a 503; default the store's own (5).
    """
    url = url or DEFAULT_DB
    if url.startswith(("postgresql://", "postgres://")):
        try:  # imported here: only a PostgreSQL site needs psycopg
            from .postgres import PostgresStore
        except ImportError as error:
            raise ImportError(
                f"{url.split(':')[0]}:// needs psycopg: pip install 'octeth-tracking[postgres]' ({error})"
            ) from error
        return PostgresStore(url) if write_timeout is None else PostgresStore(url, timeout=write_timeout)
    return SQLiteStore(url) if write_timeout is None else SQLiteStore(url, busy_timeout=write_timeout)
