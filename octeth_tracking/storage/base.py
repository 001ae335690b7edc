"""The storage interface: what the app needs from a store, and nothing more.

Every implementation runs the contract suite in ``tests/test_storage_contract.py``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class Event:
    """One event to record. ``email`` is already normalised (see ``schemas.normalize_email``)."""

    list_id: int
    uuid: str
    external_id: str
    event: str
    email: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    """What the store did with one event: the answer the client gets.

    A ``duplicate`` (the list already had that uuid) carries the original's answer.
    """

    uuid: str
    external_id: str
    identify_event_sent: bool
    duplicate: bool = False


class Store(Protocol):
    """Events, the property registry, identify links, and the accounts of the default authenticator."""

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        """Store ``events`` (one receipt each, in order); durable when it returns.

        An event whose (list_id, uuid) is stored already is not stored again. An event
        that identifies its visitor (``identify``, or an email that the visitor is not
        linked to in that list) creates the subscriber if needed and links the visitor;
        a non-identify event that does so is followed by an ``identify`` event carrying
        the same properties. Every (event, property name) pair joins the registry.
        """
        ...

    def would_identify(self, list_id: int, external_id: str, email: str) -> bool:
        """Whether an event with this email would link the visitor anew (nothing is written)."""
        ...

    def properties(self, list_id: int) -> dict[str, list[str]]:
        """Event name to the sorted names of every property it has carried, from the registry."""
        ...

    def subscriber_email(self, list_id: int, external_id: str) -> str | None:
        """The email of the subscriber that the visitor is linked to in that list."""
        ...

    def count_events(self, list_id: int | None = None) -> int:
        """How many events are stored (in one list, or in all)."""
        ...

    def user_for_api_key(self, api_key: str) -> int | None: ...
    def user_for_session(self, session_id: str) -> int | None: ...
    def list_owner(self, list_id: int) -> int | None: ...
    def count_users(self) -> int: ...
    def create_user(self, name: str) -> int: ...
    def create_list(self, user_id: int, name: str) -> int: ...
    def create_api_key(self, user_id: int) -> str: ...
    def revoke_api_key(self, api_key: str) -> bool: ...
    def create_session(self, user_id: int, ttl: float) -> str: ...
    def close(self) -> None: ...

    def ping(self) -> bool:
        """Whether the store answers now (the health endpoint asks); never raises."""
        ...


def new_secret() -> str:
    """A fresh API key or session id: 256 random bits, URL-safe, never starting with ``-``
    (one in 64 would, and a command line would then read the key as an option)."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def digest(secret: str) -> str:
    """What a store keeps of a key or session id: its SHA-256, never the secret itself."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
