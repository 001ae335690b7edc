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

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from .base import CommitObserver, Event, Receipt, StorageUnavailable
from .fields import SQLFields
from .journal import SQLJournal
from .reads import SQLEventReads
from .postgres_listen import NOTIFY, RevocationListener
from .postgres_schema import forms, from_db, migrate, to_db
from .postgres_writes import LINKED_EMAIL, register, write_events
from .registry import RegistryCache, RegistryPair
from .trackers import SQLTrackers

log = logging.getLogger("octeth_tracking")
T = TypeVar("T")

# Errors after which the whole transaction is tried again: nothing of it was committed.
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
# The server cannot take the write now (a lock held past lock_timeout, a standby or a
# read-only primary after a failover): a 503, nothing stored, safe to retry.
_UNAVAILABLE = (pg_errors.LockNotAvailable, pg_errors.ReadOnlySqlTransaction)
# A value the server cannot index (a B-tree entry holds 2704 bytes: no two names within the
# default limits of 255 characters pass it, see _ASCII_FORM_MAX; raised limits can). Not a
# lost connection: nothing to check or retry. Still a 503 with nothing stored.
_REFUSED = (pg_errors.ProgramLimitExceeded,)
# What an event's write takes a lock on (ROW EXCLUSIVE, as INSERT and UPDATE do): health's probe takes the same.
_EPOCH, _MICROSECOND = datetime(1970, 1, 1, tzinfo=timezone.utc), timedelta(microseconds=1)
_WRITTEN_TABLES = ("events", "subscribers", "visitor_links", "visitor_link_history", "event_types", "event_properties")


class PostgresStore(SQLTrackers, SQLFields, SQLJournal, SQLEventReads):
    """Events and accounts in one PostgreSQL database, shared by any number of app processes.

    The schema is created (and upgraded) on first use, in the connection's current schema:
    ``public`` unless the URL says otherwise (``?options=-csearch_path%3Dtracking``).

    :param url: ``postgresql://user:password@host:port/dbname`` (libpq URL or key=value string).
    :param min_size: connections the pool keeps open (default 1).
    :param max_size: most connections the pool opens at once (default 10); a request
        beyond that waits for one.
    :param timeout: seconds a request waits for a connection, and a write for another
        transaction's lock, before it gets a 503 (nothing stored, safe to retry) (default 5;
        the ``write_timeout`` setting).
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
    health_timeout = 0.5  # seconds ping() waits for a connection, and for the write locks, before it says no
    commit_observer: CommitObserver | None = None  # told of every commit (the app's metrics set it)

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 5.0, retries: int | None = None,
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
        self.revocations = RevocationListener(url, timeout)

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
        """Whether a write could get its turn within ``health_timeout``: a connection from the
        pool, a writable server, and the locks an event's write takes, then a rollback."""
        bound = min(self.timeout, self.health_timeout)

        def probe(conn: psycopg.Connection[Any]) -> bool:
            with conn.transaction(force_rollback=True):
                # A standby, or a primary demoted by a failover, answers reads only.
                writable = conn.execute(
                    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'").fetchone()
                if not (writable and writable[0]):
                    return False
                conn.execute(f"SET LOCAL lock_timeout = {int(bound * 1000)}")
                conn.execute(f"LOCK TABLE {', '.join(_WRITTEN_TABLES)} IN ROW EXCLUSIVE MODE")
            return True

        try:
            # Retried once on a dead connection, like any read: after a server restart the
            # pool still holds the old connections, and each probe must not spend one.
            return self._run(probe, timeout=bound)
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
        return self._one(LINKED_EMAIL, (list_id, stored, stored[0]))  # type: ignore[no-any-return]

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

    def _revoke(self, sql: str, params: tuple[Any, ...]) -> int:
        def revoke(conn: psycopg.Connection[Any]) -> int:
            with conn.transaction():
                changed = conn.execute(sql, params).rowcount
                if changed:
                    conn.execute(NOTIFY)  # delivered to every listener when, and only if, this commits
            return changed
        return self._run(revoke, idempotent=False)

    def revocation_generation(self) -> int | None:
        return self.revocations.generation()

    def _timestamp(self, seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, timezone.utc)

    # -- and of the shared reads (SQLEventReads): timestamptz, to the microsecond --

    def _seconds(self, value: datetime) -> float:
        return value.timestamp()

    def _cursor_time(self, value: datetime) -> int:
        return (value - _EPOCH) // _MICROSECOND

    def _stored_time(self, value: float | int) -> datetime:
        return _EPOCH + timedelta(microseconds=int(value))

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        def write(conn: psycopg.Connection[Any]) -> list[int]:
            with conn.transaction():
                return [conn.execute(sql, params).rowcount for sql, params in statements]
        return self._run(write)  # retried whole: each statement removes what is there

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
                receipts, pairs = write_events(conn, events)
                new = self.registered.unknown(pairs)
                register(conn, new)
            return receipts, new  # committed

        started = time.perf_counter()
        receipts, new = self._run(write)
        self.registered.add(new)
        if self.commit_observer is not None:
            self.commit_observer.committed(receipts, time.perf_counter() - started)
        return receipts

    def close(self) -> None:
        self.revocations.close()
        self.pool.close()
