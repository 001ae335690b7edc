"""Octeth's Event Tracking API as an embeddable WSGI application."""

from .app import TrackingApp
from .auth import Authenticator, StoreAuthenticator
from .config import create_app
from .errors import APIError
from .ratelimit import MemoryRateLimiter, RateLimiter
from .storage import Event, Receipt, SQLiteStore, Store, open_store

__all__ = [
    "APIError",
    "Authenticator",
    "Event",
    "MemoryRateLimiter",
    "RateLimiter",
    "Receipt",
    "SQLiteStore",
    "Store",
    "StoreAuthenticator",
    "TrackingApp",
    "create_app",
    "open_store",
]
