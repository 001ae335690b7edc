"""Octeth's Event Tracking API as an embeddable WSGI application."""

from .app import ROUTES, Route, TrackingApp
from .auth import Authenticator, StoreAuthenticator
from .config import create_app
from .logs import JSONFormatter
from .errors import APIError
from .ratelimit import MemoryRateLimiter, RateLimiter
from .storage import (
    AccountStore, Event, EventStore, Receipt, SQLiteStore, StorageError, StorageUnavailable, Store, StoreAdmin,
    open_store,
)

__all__ = [
    "APIError",
    "AccountStore",
    "Authenticator",
    "Event",
    "EventStore",
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
    "TrackingApp",
    "create_app",
    "open_store",
]
