"""The storage interface, split by who needs it, and the rules every store shares.

- :class:`EventStore`: what the request path needs (events, the registry, visitor links).
- :class:`AccountStore`: the accounts the default authenticator reads.
- :class:`StoreAdmin`: what the command line and tests use to make and inspect accounts and events.
- :class:`JournalStore`: the journal of rejected requests.
- :class:`~octeth_tracking.storage.reads.EventReader`: events read back, and erased.
- :class:`Store`: all of them; what ``SQLiteStore`` and ``PostgresStore`` are.

Every implementation runs the contract suite in ``tests/test_storage_contract.py`` (and the reads' in
``tests/test_storage_reads_contract.py``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Protocol, Sequence

if TYPE_CHECKING:
    from .journal import Rejection

from ..fields import CustomField, Subscriber
from .reads import EventReader


@dataclass(frozen=True)
class Event:
    """One event to record. ``email`` is already normalised (see ``schemas.normalize_email``).

    ``fields`` (custom field id to value) are written to the subscriber of ``email`` with the
    event, in its transaction: an identify's ``IdentifyProperties`` and unique identifier.
    ``occurred_at`` (seconds since the epoch) is the event's own time, as the app decided it
    (``Timestamp``, ``SentAt``; see :mod:`~octeth_tracking.event_time`); ``None``: the time the
    store receives it. The receive time is the row's ``created_at`` (``received_at``).
    """

    list_id: int
    uuid: str
    external_id: str
    event: str
    email: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    fields: dict[int, str] = field(default_factory=dict)
    occurred_at: float | None = None


@dataclass(frozen=True)
class Receipt:
    """What the store did with one event: the answer the client gets.

    A ``duplicate`` (the list already had that uuid) carries the original's answer, its
    ``occurred_at`` too (``None``: the event's own, as it was asked to be stored).
    """

    uuid: str
    external_id: str
    identify_event_sent: bool
    duplicate: bool = False
    occurred_at: float | None = None


@dataclass(frozen=True)
class TrackerKey:
    """A public tracker key, as found by its key (which is never stored: only its digest).

    It may track events into ``list_id`` only, from a browser whose ``Origin`` is on
    ``origins`` (see :mod:`~octeth_tracking.origins`), or with no ``Origin`` at all (a server)
    if ``server_side``. ``created_at`` and ``revoked_at`` (ISO 8601, UTC) are for listings.
    """

    id: Hashable
    list_id: int
    origins: tuple[str, ...] = ()
    server_side: bool = False
    created_at: str = ""
    revoked_at: str | None = None


class CommitObserver(Protocol):
    """Told of every commit of a store that has a ``commit_observer`` attribute (the app's metrics)."""

    def committed(self, receipts: Sequence[Receipt], seconds: float) -> None:
        """One commit held these events' receipts (duplicates too) and took ``seconds``."""
        ...


class StorageError(Exception):
    """A store could not do what was asked; nothing of it was stored."""


class StorageUnavailable(StorageError):
    """The store could not commit (or read) in time: nothing was stored, and a retry is safe."""


def sends_identify(event: Event, linked_email: str | None) -> bool:
    """Whether ``event`` is, or is followed by, an identify event: the rule of every store.

    ``identify`` is, with an email (one without, whose email hash matched nobody, is stored
    but identifies nobody); any other event is when it carries an email that the visitor
    (``linked_email``: whom they are linked to in the event's list now) is not linked to.
    """
    return event.email is not None and (event.event == "identify" or linked_email != event.email)


_IDENTIFY_NAMESPACE = uuid_module.UUID("6f0c5e1e-8d0a-4d5e-9b7a-0c7e1e5d0a11")


def identify_uuid(event: Event) -> str:
    """The uuid of the identify event that follows ``event``: derived from its own, so that
    replaying an export (both events) stores each once, as a retry would."""
    return str(uuid_module.uuid5(_IDENTIFY_NAMESPACE, f"{event.list_id}:{event.uuid}"))


class EventStore(Protocol):
    """What the request path needs: events, the property registry, identify links."""

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        """Store ``events`` (one receipt each, in order); durable when it returns.

        An event whose (list_id, uuid) is stored already is not stored again. An event
        that identifies its visitor (see :func:`sends_identify`) creates the subscriber
        if needed and links the visitor; a non-identify event that does so is followed
        by an ``identify`` event carrying the same properties. Every (event, property
        name) pair joins the registry. Raises :class:`StorageUnavailable` if it cannot.
        """
        ...

    def properties(self, list_id: int) -> dict[str, list[str]]:
        """Event name to the sorted names of every property it has carried, from the registry."""
        ...

    def subscriber_email(self, list_id: int, external_id: str) -> str | None:
        """The email of the subscriber that the visitor is linked to in that list."""
        ...

    def subscribers_identified_by(self, list_id: int, field_id: int, digest: str) -> list[str]:
        """The emails of the list's subscribers whose field ``field_id`` holds a value of that
        :func:`~octeth_tracking.fields.identifier_digest` (at most two: one is a match, two are ambiguous)."""
        ...

    def ping(self) -> bool:
        """Whether the store could take a write now, within a short bound (the health endpoint
        asks, and the metrics' ``store_up``); never raises."""
        ...

    def close(self) -> None: ...


class AccountStore(Protocol):
    """The accounts of the default authenticator (:class:`~octeth_tracking.auth.StoreAuthenticator`)."""

    def user_for_api_key(self, api_key: str) -> int | None: ...
    def user_for_session(self, session_id: str) -> int | None: ...
    def list_owner(self, list_id: int) -> int | None: ...

    def tracker_for_key(self, key: str) -> TrackerKey | None:
        """The tracker key that ``key`` is, unless unknown or revoked."""
        ...

    def revocation_generation(self) -> int | None:
        """A number that moves whenever access is taken away (see ``storage/revocations.py``);
        ``None`` if it cannot be known now. Read on every request: it must cost no query."""
        ...


class StoreAdmin(Protocol):
    """Making accounts and counting what is stored: for the command line and tests."""

    def count_events(self, list_id: int | None = None) -> int:
        """How many events are stored (in one list, or in all)."""
        ...

    def count_users(self) -> int: ...

    def first_user_id(self) -> int | None:
        """The oldest user's id (the quick start's), or ``None`` if there is none."""
        ...

    def create_user(self, name: str) -> int: ...

    def create_list(self, user_id: int, name: str) -> int:
        """A new list of ``user_id``'s; ``LookupError`` if there is no such user (so too below)."""
        ...

    def create_api_key(self, user_id: int, key: str | None = None) -> str:
        """A new API key of ``user_id``'s: ``key`` if given (a test server's fixed key), else a fresh secret."""
        ...
    def revoke_api_key(self, api_key: str) -> bool: ...
    def create_session(self, user_id: int, ttl: float) -> str: ...
    def revoke_session(self, session_id: str) -> bool: ...

    def create_tracker(self, list_id: int, origins: Sequence[str], server_side: bool = False) -> tuple[int, str]:
        """A new tracker key of the list: (its id, the key). ``origins`` are normalised
        (``ValueError`` names a wrong one); ``LookupError`` if there is no such list."""
        ...

    def trackers(self, list_id: int | None = None) -> list[TrackerKey]:
        """Every tracker key (of one list, or of all), revoked ones too, oldest first."""
        ...

    def revoke_tracker(self, tracker_id: int) -> bool:
        """Revoke a tracker key by its id; ``False`` if there is no such live key."""
        ...

    def delete_all_events(self) -> int:
        """Forget every event, subscriber, visitor link and registry entry; accounts stay (a
        micro server's reset). How many events were deleted."""
        ...

    def create_custom_field(self, list_id: int, name: str, alias: str | None = None, *,
                            unique_identifier: bool = False, field_id: int | None = None) -> int:
        """A new custom field of the list (of id ``field_id`` if given); ``LookupError`` if there is
        no such list, ``ValueError`` for an id or alias taken (aliases compare in any case) or malformed."""
        ...

    def custom_fields(self, list_id: int) -> Sequence[CustomField]:
        """The list's custom fields, by id (the default :class:`~octeth_tracking.fields.FieldDirectory`)."""
        ...

    def subscribers(self, list_id: int, *, after: int = 0, limit: int = 100) -> list[Subscriber]:
        """The list's subscribers of id above ``after``, by id, at most ``limit``, with their field values."""
        ...



class JournalStore(Protocol):
    """The journal of rejected requests (see :mod:`octeth_tracking.journal`), per user."""

    def journal_rejection(self, user: str, rejection: Rejection, keep: int) -> None:
        """Keep ``rejection`` as ``user``'s newest, and only their ``keep`` newest."""
        ...

    def rejections(self, user: str | None, limit: int = 100) -> list[Rejection]:
        """``user``'s rejections (everyone's, with ``None``), newest first."""
        ...

    def clear_rejections(self, user: str | None = None) -> int:
        """Forget ``user``'s (everyone's, with ``None``); how many were forgotten."""
        ...


class Store(EventStore, EventReader, AccountStore, StoreAdmin, JournalStore, Protocol):
    """Everything: a store that keeps events and reads them back, the default authenticator's accounts, and the journal."""


def new_secret() -> str:
    """A fresh API key or session id: 256 random bits, URL-safe, never starting with ``-``
    (one in 64 would, and a command line would then read the key as an option)."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


TRACKER_KEY_PREFIX = "otk_"


def new_tracker_key() -> str:
    """A fresh tracker key: ``otk_`` and 192 random bits, URL-safe. The prefix tells it from an
    API key at a glance (and to a secret scanner): it is public, and tracks events only."""
    return TRACKER_KEY_PREFIX + secrets.token_urlsafe(24)


def digest(secret: str) -> str:
    """What a store keeps of a key or session id: its SHA-256, never the secret itself."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
