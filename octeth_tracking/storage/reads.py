"""Reading events back, and erasing them: written once for both stores (as :mod:`.accounts` is).

A page of events is newest first, ordered by (the event's time, its row id): both fixed once
the row is stored, so a cursor (the last row's pair) continues exactly where the page ended,
however many events are written or erased meanwhile: none is repeated, none that was stored
before the first page is skipped. Each read is one index range scan:

- a list's events: ``(list_id, time)`` (the row id rides along in both stores' indexes);
- a visitor's: ``(list_id, external_id, time)``;
- a subscriber's: the visitors ever linked to them (``visitor_link_history``, kept when a
  visitor is linked anew), then each one's range of the visitor index;
- an event name's: ``(list_id, event, time)``.

Erasure removes a visitor's (or every visitor ever linked to a subscriber's) events, links
and link history, and a subscriber's own row and field values, in one transaction. The
property registry keeps its names: they say which names a list's events have carried, not who sent them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .sql import SQLStatements

_LONG_NUMBER = re.compile(r"\d{19}")  # 19 digits or more: perhaps an integer past 64 bits
_LATEST_CURSOR_TIME = 253_402_300_799_999_999  # the end of 9999 in microseconds (PostgreSQL's cursor unit)
TIME = "occurred_at"  # the event's own time: read, ordered by and filtered on (created_at: when it was received)


@dataclass(frozen=True)
class EventQuery:
    """Which of a list's events to read: every filter given must hold.

    :param external_id: one visitor's (the ``ID`` they were tracked with).
    :param email: one subscriber's: every visitor ever linked to them (normalised email).
    :param since: seconds since the epoch; events at or after it.
    :param until: events before it.
    :param cursor: continue after the page that gave it (:attr:`EventPage.cursor`).
    :param oldest_first: the other way round (an export, which an import must replay in order).
    """

    list_id: int | None  # None: every list's (a micro server's /micro/good; no index serves it)
    external_id: str | None = None
    email: str | None = None
    event: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    cursor: str | None = None
    oldest_first: bool = False


@dataclass(frozen=True)
class StoredEvent:
    """One stored event, as it was sent (``properties`` exactly), with its stored time."""

    uuid: str
    list_id: int
    external_id: str
    event: str
    email: str | None
    properties: dict[str, Any]
    identify_sent: bool
    occurred_at: float  # seconds since the epoch
    received_at: float


@dataclass(frozen=True)
class EventPage:
    """Events newest (or oldest) first; ``cursor`` reads the next page, ``None`` if this one is the last."""

    events: list[StoredEvent] = field(default_factory=list)
    cursor: str | None = None


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed."""

    events: int = 0
    links: int = 0  # visitor links, past ones included
    subscribers: int = 0


class InvalidCursor(ValueError):
    """A cursor this store did not write."""


class EventReader(Protocol):
    """Reading a list's events back, and erasing a visitor's or a subscriber's."""

    def read_events(self, query: EventQuery) -> EventPage:
        """A page of the events ``query`` selects; :class:`InvalidCursor` for a cursor not of this store."""
        ...

    def forget(self, list_id: int, *, external_id: str | None = None, email: str | None = None) -> Erasure:
        """Erase one visitor's (``external_id``) or one subscriber's (``email``) events and links in
        the list, and the subscriber; other lists keep theirs. Idempotent."""
        ...


def encode_cursor(time: float | int, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([time, row_id], separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float | int, int]:
    try:
        time, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidCursor(cursor) from None
    if (not isinstance(time, (int, float)) or isinstance(time, bool) or type(row_id) is not int
            or not 0 <= time <= _LATEST_CURSOR_TIME or not 0 <= row_id < 2**63):
        raise InvalidCursor(cursor)  # a time or row id no store holds (and SQLite's integers stop at 2**63)
    return time, row_id


_COLUMNS = f"id, uuid, external_id, event, email, properties, identify_sent, {TIME}, created_at, list_id"
_SUBSCRIBER = "(SELECT id FROM subscribers WHERE list_id = ? AND email = ?)"
_VISITORS_OF = f"SELECT external_id FROM visitor_link_history WHERE list_id = ? AND subscriber_id = {_SUBSCRIBER}"
# The events a subscriber's erasure removes: every linked visitor's, and any carrying their email.
# Parameters: list id, then _VISITORS_OF's (list id, list id, email), then the email.
_OF_SUBSCRIBER = f"list_id = ? AND (external_id IN ({_VISITORS_OF}) OR email = ?)"
Statement = tuple[str, tuple[Any, ...]]


class SQLEventReads(SQLStatements):
    """:class:`EventReader` over the store's primitives. A store whose times are not seconds
    (PostgreSQL's ``timestamptz``) converts them with :meth:`_seconds` and :meth:`_cursor_time`."""

    def _seconds(self, value: Any) -> float:
        """A stored time in seconds since the epoch."""
        return float(value)

    def _cursor_time(self, value: Any) -> float | int:
        """A stored time exactly, as JSON can hold it; :meth:`_stored_time` gives it back."""
        return float(value)

    def _stored_time(self, value: float | int) -> Any:
        return float(value)

    def _properties(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if not _LONG_NUMBER.search(value):
            try:
                return dict(orjson.loads(value))
            except orjson.JSONDecodeError:  # 1e400, say
                pass
        # orjson reads an integer past 64 bits as a float: the json module keeps it exact.
        return dict(json.loads(value))

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """Run the statements in one transaction; each one's row count."""
        raise NotImplementedError

    def _filters(self, query: EventQuery, time: str = TIME, row_id: str = "id") -> tuple[list[str], list[Any]]:
        """The query's conditions beside its list and visitor (event name, times, cursor), on these columns."""
        where: list[str] = []
        params: list[Any] = []
        if query.event is not None:
            where.append("event = ?")
            params.append(self._text_in(query.event))
        if query.since is not None:
            where.append(f"{time} >= ?")
            params.append(self._timestamp(query.since))
        if query.until is not None:
            where.append(f"{time} < ?")
            params.append(self._timestamp(query.until))
        if query.cursor is not None:
            before = ">" if query.oldest_first else "<"
            moment, last_id = decode_cursor(query.cursor)
            where.append(f"({time} {before} ? OR ({time} = ? AND {row_id} {before} ?))")
            params += [self._stored_time(moment), self._stored_time(moment), last_id]
        return where, params

    def _visitor_rows(self, query: EventQuery, visitor: str) -> list[tuple[Any, ...]]:
        """Up to ``query.limit + 1`` of one visitor's events the query selects, in its order."""
        order = "ASC" if query.oldest_first else "DESC"
        where, params = self._filters(query)
        sql = (f"SELECT {_COLUMNS} FROM events WHERE list_id = ? AND external_id = ?"
               f"{''.join(' AND ' + term for term in where)} ORDER BY {TIME} {order}, id {order} LIMIT ?")
        return self._read_rows(self._sql(sql), (query.list_id, visitor, *params, query.limit + 1))

    def read_events(self, query: EventQuery) -> EventPage:
        if query.list_id is None and query.email is not None:
            raise ValueError("a subscriber's events are read in one list")
        order = "ASC" if query.oldest_first else "DESC"
        where, params = self._filters(query)  # before anything is read: an invalid cursor reads nothing
        if query.list_id is None or (query.external_id is None and query.email is None):
            if query.list_id is not None:
                where, params = ["list_id = ?", *where], [query.list_id, *params]
            elif query.external_id is not None:  # every list's (a micro server's): no visitor index serves it
                where, params = ["external_id = ?", *where], [self._text_in(query.external_id), *params]
            sql = (f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where) or '1 = 1'}"
                   f" ORDER BY {TIME} {order}, id {order} LIMIT ?")
            rows = self._read_rows(self._sql(sql), (*params, query.limit + 1))
        else:
            # One range of the visitor index per visitor, merged: a planner given all of them
            # at once (IN) walks the whole list's time index instead.
            visitors = [self._text_in(query.external_id)] if query.external_id is not None else [
                visitor for (visitor,) in self._read_rows(self._sql(_VISITORS_OF), (query.list_id, query.list_id, query.email))]
            ranges = [self._visitor_rows(query, visitor) for visitor in visitors]
            rows = sorted((row for found in ranges for row in found), key=lambda row: (row[7], row[0]),
                          reverse=not query.oldest_first)
        events = [StoredEvent(
            uuid=uuid, list_id=int(list_id), external_id=self._text_out(external_id), event=self._text_out(event),
            email=email, properties=self._properties(properties), identify_sent=bool(sent),
            occurred_at=self._seconds(occurred), received_at=self._seconds(received),
        ) for _, uuid, external_id, event, email, properties, sent, occurred, received, list_id in rows[:query.limit]]
        last = rows[query.limit - 1] if len(rows) > query.limit else None
        return EventPage(events, encode_cursor(self._cursor_time(last[7]), int(last[0])) if last else None)

    def _visitor_erasure(self, list_id: int, external_id: str) -> tuple[list[Statement], list[Statement]]:
        """The statements that delete one visitor's events (their row counts are the events
        erased), and any the store adds after them (its index of them)."""
        return [(self._sql("DELETE FROM events WHERE list_id = ? AND external_id = ?"), (list_id, external_id))], []

    def _subscriber_erasure(self, list_id: int, email: str) -> tuple[list[Statement], list[Statement]]:
        """Statements the store runs before a subscriber's erasure (its index of their events) and after it."""
        return [], []

    def forget(self, list_id: int, *, external_id: str | None = None, email: str | None = None) -> Erasure:
        if (external_id is None) == (email is None):
            raise ValueError("forget one visitor (external_id) or one subscriber (email)")
        if external_id is not None:
            visitor = (list_id, self._text_in(external_id))
            erase, after = self._visitor_erasure(*visitor)
            counts = self._write_all([
                *erase,
                (self._sql("DELETE FROM visitor_links WHERE list_id = ? AND external_id = ?"), visitor),
                (self._sql("DELETE FROM visitor_link_history WHERE list_id = ? AND external_id = ?"), visitor),
                *after,
            ])
            return Erasure(sum(counts[:len(erase)]), max(counts[len(erase)], counts[len(erase) + 1]))
        visitors, subscriber = (list_id, list_id, email), (list_id, email)
        assert email is not None
        before, after = self._subscriber_erasure(list_id, email)
        events, links, history, _, subscribers = self._write_all([
            *before,
            (self._sql(f"DELETE FROM events WHERE {_OF_SUBSCRIBER}"), (list_id, *visitors, email)),
            (self._sql(f"DELETE FROM visitor_links WHERE list_id = ? AND (subscriber_id = {_SUBSCRIBER}"
                       f" OR external_id IN ({_VISITORS_OF}))"), (list_id, *subscriber, *visitors)),
            # Every visitor ever linked to them is gone: so is every link those visitors had.
            (self._sql(f"DELETE FROM visitor_link_history WHERE list_id = ? AND external_id IN"
                       f" (SELECT external_id FROM visitor_link_history WHERE list_id = ? AND subscriber_id = {_SUBSCRIBER})"),
             (list_id, *visitors)),
            (self._sql(f"DELETE FROM subscriber_fields WHERE subscriber_id = {_SUBSCRIBER}"), subscriber),
            (self._sql("DELETE FROM subscribers WHERE list_id = ? AND email = ?"), subscriber),
            *after,
        ])[len(before):len(before) + 5]
        return Erasure(events, max(links, history), subscribers)
