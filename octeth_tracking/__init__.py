"""Octeth's Event Tracking API as an embeddable WSGI application."""

from .app import ROUTES, Route, TrackingApp
from .auth import Authenticator, StoreAuthenticator, TrackerKeyLookup
from .config import create_app
from .logs import JSONFormatter
from .errors import APIError
from .fields import CustomField, FieldDirectory
from .ratelimit import MemoryRateLimiter, RateLimiter
from .storage import (
    AccountStore, Event, EventStore, Receipt, SQLiteStore, StorageError, StorageUnavailable, Store, StoreAdmin,
    TrackerKey, open_store,
)

__all__ = [
    "APIError",
    "AccountStore",
    "Authenticator",
    "CustomField",
    "Event",
    "EventStore",
    "FieldDirectory",
    "JSONFormatter",
    "MemoryRateLimiter",
    "ROUTES",
    "RateLimiter",
    "Receipt",
    "Route",
    "SQLiteStore",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "StoreAdmin",
    "StoreAuthenticator",
    "TrackerKey",
    "TrackerKeyLookup",
    "TrackingApp",
    "create_app",
    "open_store",
]
