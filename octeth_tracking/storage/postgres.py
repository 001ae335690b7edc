"""The store for several app processes on several hosts: one PostgreSQL database.

Every app process holds a psycopg connection pool; the database does the rest.
``record()`` writes one call's events in one transaction and returns after its commit
(the server's default ``synchronous_commit=on``: the commit is durable). Concurrent
writers from any number of hosts are made safe by the database's own constraints:

- idempotency: a unique constraint on ``(list_id, uuid)`` and ``INSERT ... ON CONFLICT DO
  NOTHING``; a second writer of the same uuid waits for the first to commit, then sees
  its row and answers with the original's receipt;
- identify: whether an event links its visitor anew is decided by the link upsert itself
  (``ON CONFLICT ... DO UPDATE ... WHERE the subscriber differs RETURNING``), which locks
  the visitor's link row: of two hosts linking the same visitor to the same email at once,
  exactly one sends the identify event;
- the (event, property) registry: ``INSERT ... ON CONFLICT DO NOTHING``, in sorted order
  so that two transactions never wait on each other in a cycle.

A deadlock between two multi-event batches (each waiting on a uuid or link the other
wrote first) is resolved by PostgreSQL aborting one; that one is retried.

The schema, its migrations and the escaping of names PostgreSQL text cannot hold are in
:mod:`~octeth_tracking.storage.postgres_schema`; accounts, tracker keys and custom fields are
:class:`~octeth_tracking.storage.accounts.SQLAccounts`, :class:`~octeth_tracking.storage.trackers.SQLTrackers`
and :class:`~octeth_tracking.storage.fields.SQLFields`, shared with SQLite.
"""

from __future__ import annotations

import json
import logging
import time
import uuid as uuid_module
from datetime import datetime, timezone
from typing import Any, Callable, Sequence, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from .fields import SQLFields, write_fields
from .journal import SQLJournal
from .base import Event, Receipt, StorageUnavailable, sends_identify
from .postgres_schema import forms, from_db, migrate, to_db
from .registry import RegistryCache, RegistryPair, registry_pairs
from .trackers import SQLTrackers

log = logging.getLogger("octeth_tracking")
T = TypeVar("T")

_LINKED_EMAIL = (
    "SELECT s.email FROM visitor_links l JOIN subscribers s ON s.id = l.subscriber_id"
    " WHERE l.list_id = %s AND l.external_id = ANY(%s) ORDER BY l.external_id = %s DESC LIMIT 1"
)
_INSERT_EVENT = (
    "INSERT INTO events (list_id, uuid, external_id, event, email, properties, identify_sent)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (list_id, uuid) DO NOTHING RETURNING id"
)
# Returns a row only when the visitor was not linked to this subscriber before.
_LINK = (
    "INSERT INTO visitor_links (list_id, external_id, subscriber_id) VALUES (%s, %s, %s)"
    " ON CONFLICT (list_id, external_id) DO UPDATE"
    " SET subscriber_id = excluded.subscriber_id, linked_at = excluded.linked_at"
    " WHERE visitor_links.subscriber_id <> excluded.subscriber_id RETURNING 1"
)
# Errors after which the whole transaction is tried again: nothing of it was committed.
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
# The server cannot take the write now (a lock held past lock_timeout, a standby or a
# read-only primary after a failover): a 503, nothing stored, safe to retry.
_UNAVAILABLE = (pg_errors.LockNotAvailable, pg_errors.ReadOnlySqlTransaction)
# A value the server cannot index (a B-tree entry holds 2704 bytes: no two names within the
# default limits of 255 characters pass it, see _ASCII_FORM_MAX; raised limits can). Not a
# lost connection: nothing to check or retry. Still a 503 with nothing stored.
_REFUSED = (pg_errors.ProgramLimitExceeded,)


def _write_events(conn: psycopg.Connection[Any], events: Sequence[Event]) -> tuple[list[Receipt], set[RegistryPair]]:
    """Write events inside the caller's transaction; returns receipts and registry pairs."""
    receipts = []
    pairs: set[RegistryPair] = set()
    for event in events:
        identify = event.event == "identify" and event.email is not None  # without: an email hash that matched nobody
        external_id = to_db(event.external_id)
        properties = json.dumps(event.properties)
        inserted = conn.execute(_INSERT_EVENT, (
            event.list_id, event.uuid, external_id, to_db(event.event), event.email, properties, identify,
        )).fetchone()
        if inserted is None:
            # A second statement, so a fresh snapshot: it sees the row whose commit we waited for.
            original, was_sent = conn.execute(
                "SELECT external_id, identify_sent FROM events WHERE list_id = %s AND uuid = %s",
                (event.list_id, event.uuid),
            ).fetchone()  # type: ignore[misc]
            receipts.append(Receipt(event.uuid, from_db(original), was_sent, duplicate=True))
            continue
        moved = False
        if event.email:
            subscriber = conn.execute(
                "INSERT INTO subscribers (list_id, email) VALUES (%s, %s)"
                " ON CONFLICT (list_id, email) DO NOTHING RETURNING id",
                (event.list_id, event.email),
            ).fetchone() or conn.execute(
                "SELECT id FROM subscribers WHERE list_id = %s AND email = %s", (event.list_id, event.email)
            ).fetchone()
            assert subscriber is not None
            link_id = external_id
            for earlier in forms(event.external_id)[1:]:  # a visitor an earlier version linked keeps its row
                if conn.execute("SELECT 1 FROM visitor_links WHERE list_id = %s AND external_id = %s",
                                (event.list_id, earlier)).fetchone():
                    link_id = earlier
            moved = conn.execute(_LINK, (event.list_id, link_id, subscriber[0])).fetchone() is not None
            if event.fields:  # custom fields (storage/fields.py), in the identify's own transaction
                write_fields(conn.execute, "%s", event.list_id, event.email, event.fields, to_db)
        # The link upsert decided it: linked to this email already unless it moved (or was new).
        sent = sends_identify(event, None if moved else event.email)
        if sent and not identify:
            conn.execute("UPDATE events SET identify_sent = true WHERE id = %s", (inserted[0],))
            conn.execute(_INSERT_EVENT, (
                event.list_id, str(uuid_module.uuid4()), external_id, "identify", event.email, properties, True,
            ))
        pairs |= registry_pairs(event, [event.event, "identify"] if sent and not identify else [event.event])
        receipts.append(Receipt(event.uuid, event.external_id, sent))
    return receipts, pairs


def _register(conn: psycopg.Connection[Any], pairs: set[RegistryPair]) -> None:
    """Add (event, property) pairs to the registry, in one statement per table, in key order."""
    if not pairs:
        return
    types = sorted({(list_id, to_db(name)) for list_id, name, prop in pairs if prop is None})
    props = sorted((list_id, to_db(name), to_db(prop)) for list_id, name, prop in pairs if prop is not None)
    if types:
        conn.execute(
            "INSERT INTO event_types (list_id, event) SELECT * FROM unnest(%s::bigint[], %s::text[])"
            " ORDER BY 1, 2 ON CONFLICT DO NOTHING",
            ([t[0] for t in types], [t[1] for t in types]),
        )
    if props:
        conn.execute(
            "INSERT INTO event_properties (list_id, event, property)"
            " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING",
            ([p[0] for p in props], [p[1] for p in props], [p[2] for p in props]),
        )


class PostgresStore(SQLTrackers, SQLFields, SQLJournal):
    """Events and accounts in one PostgreSQL database, shared by any number of app processes.

    The schema is created (and upgraded) on first use, in the connection's current schema:
    ``public`` unless the URL says otherwise (``?options=-csearch_path%3Dtracking``).

    :param url: ``postgresql://user:password@host:port/dbname`` (libpq URL or key=value string).
    :param min_size: connections the pool keeps open (default 1).
    :param max_size: most connections the pool opens at once (default 10); a request
        beyond that waits for one.
    :param timeout: seconds a request waits for a connection before it gets a 503
        (nothing stored, safe to retry) (default 10).
    :param retries: times a transaction aborted by a deadlock is tried again (default
        :attr:`retries`, 5).
    :param max_registered: most registry pairs remembered as stored (to skip re-inserting them).
    :param clock: seconds since the epoch, for account times and session expiry; tests pass their own.

    A connection found broken (the server restarted, a proxy dropped it) makes the pool
    check its idle connections, and the read or ``record`` is tried once more: ``record``
    may be, because a uuid is stored once (a retry after a commit whose answer was lost
    gets the original's receipt). Account writes are not retried.
    """

    placeholder = "%s"
    retries = 5

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 10.0, retries: int | None = None,
        max_registered: int = 100_000, clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.clock = clock
        self.registered = RegistryCache(max_registered)
        if retries is not None:
            self.retries = retries
        # autocommit: a read is one statement, no BEGIN/COMMIT round trips; writes open
        # their own transaction. prepare_threshold=None: works behind a transaction-mode pooler.
        # reconnect_timeout: the pool retries a lost server with a doubling delay (1, 2, 4 ...
        # 64 s); giving up after `timeout` instead lets the next request start afresh at
        # once, so the store is back within seconds of the server, not a minute later.
        # lock_timeout: a write waits for another transaction's lock as long as for a
        # connection, then gets a 503, as SQLite's busy timeout gives.
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, min_size=min_size, max_size=max_size, timeout=timeout, open=False, name="octeth_tracking",
            reconnect_timeout=timeout, configure=self._configure,
            kwargs={"autocommit": True, "prepare_threshold": None, "connect_timeout": max(1, int(timeout))},
        )
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
                migrate(conn)
        except psycopg.Error as error:  # unreachable, or a schema it may not use: one line for the CLI
            reason = (error.diag.message_primary or str(error)).strip().splitlines()[0]
            raise ConnectionError(f"cannot use PostgreSQL: {reason}") from error
        self.pool.open(wait=False)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET lock_timeout = {int(self.timeout * 1000)}")  # milliseconds

    def _run(self, work: Callable[[psycopg.Connection[Any]], T], *, idempotent: bool = True,
             timeout: float | None = None) -> T:
        """``work(connection)`` with the retries above; any other failure to reach the server is a 503."""
        deadlocks, reconnected = 0, not idempotent
        while True:
            try:
                with self.pool.connection(timeout=timeout) as conn:
                    try:
                        return work(conn)
                    except pg_errors.ReadOnlySqlTransaction:
                        # A standby or a demoted primary: every pooled connection leads there.
                        # Replace them all; new ones go wherever the URL leads now.
                        conn.close()
                        drain = getattr(self.pool, "drain", None)  # psycopg_pool 3.2+
                        if drain is not None:
                            drain()
                        raise
            except _RETRYABLE:
                if deadlocks == self.retries:
                    raise StorageUnavailable("deadlocked, again and again") from None
                time.sleep(0.001 * 2**deadlocks)
                deadlocks += 1
            except (PoolTimeout, *_UNAVAILABLE) as error:
                raise StorageUnavailable(str(error).strip()) from error
            except _REFUSED as error:
                log.warning("PostgreSQL refused the write: %s", str(error).splitlines()[0])
                raise StorageUnavailable(str(error).strip()) from error
            except psycopg.OperationalError as error:
                if reconnected:
                    raise StorageUnavailable(str(error).strip()) from error
                log.warning("PostgreSQL connection lost (%s); checking the pool and trying again", error)
                self.pool.check()
                reconnected = True

    def _one(self, sql: str, params: tuple[Any, ...] = (), *, idempotent: bool = True,
             timeout: float | None = None) -> Any:
        def one(conn: psycopg.Connection[Any]) -> Any:
            cursor = conn.execute(sql, params)
            row = cursor.fetchone() if cursor.description else None  # None: no RETURNING
            return row[0] if row else None
        return self._run(one, idempotent=idempotent, timeout=timeout)

    def ping(self) -> bool:
        try:
            # Retried once on a dead connection, like any read: after a server restart the
            # pool still holds the old connections, and each probe must not spend one.
            # And writable: a standby, or a primary demoted by a failover, answers reads only.
            return bool(self._one("SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'",
                                  timeout=min(self.timeout, 2.0)))
        except StorageUnavailable:
            return False

    # -- reads --

    def properties(self, list_id: int) -> dict[str, list[str]]:
        def read(conn: psycopg.Connection[Any]) -> tuple[list[Any], list[Any]]:
            return (
                conn.execute("SELECT event FROM event_types WHERE list_id = %s", (list_id,)).fetchall(),
                conn.execute("SELECT event, property FROM event_properties WHERE list_id = %s", (list_id,)).fetchall(),
            )
        names, pairs = self._run(read)
        result: dict[str, list[str]] = {from_db(name): [] for (name,) in names}
        for name, prop in pairs:
            result.setdefault(from_db(name), []).append(from_db(prop))
        return {name: sorted(set(result[name])) for name in sorted(result)}

    def subscriber_email(self, list_id: int, external_id: str) -> str | None:
        stored = forms(external_id)
        return self._one(_LINKED_EMAIL, (list_id, stored, stored[0]))  # type: ignore[no-any-return]

    def count_events(self, list_id: int | None = None) -> int:
        if list_id is None:
            return int(self._one("SELECT count(*) FROM events"))
        return int(self._one("SELECT count(*) FROM events WHERE list_id = %s", (list_id,)))

    # -- the primitives of the shared account SQL (SQLAccounts) --

    def _read_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self._one(sql, params)

    def _read_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._run(lambda conn: conn.execute(sql, params).fetchall())

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        return self._run(lambda conn: conn.execute(sql, params).rowcount, idempotent=False)

    def _insert_id(self, sql: str, params: tuple[Any, ...]) -> int:
        return int(self._one(sql + " RETURNING id", params, idempotent=False))

    def _timestamp(self, seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, timezone.utc)

    # -- and of the shared custom-field SQL (SQLFields) --

    def _text_in(self, text: str) -> str:
        return to_db(text)

    def _text_out(self, text: str) -> str:
        return from_db(text)

    def _id_given(self, table: str) -> None:
        self._one(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))",
                  idempotent=False)

    # -- event writes --

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        if not events:
            return []

        def write(conn: psycopg.Connection[Any]) -> tuple[list[Receipt], set[RegistryPair]]:
            with conn.transaction():
                receipts, pairs = _write_events(conn, events)
                new = self.registered.unknown(pairs)
                _register(conn, new)
            return receipts, new  # committed

        receipts, new = self._run(write)
        self.registered.add(new)
        return receipts

    def close(self) -> None:
        self.pool.close()
