"""The SQL of the SQLite store's event writes: the write paths of its group-commit writer.

:class:`EventWrites` is the base of :class:`~octeth_tracking.storage.group_commit.Writer`:
the writer decides when a batch is written and by whom; these methods write it. Two ways,
tried in this order:

- :meth:`EventWrites.write_as_one_statement`: the common batch (no email, no property name
  new to the registry) is one multi-row INSERT that is its own transaction: the leader gives
  up the GIL once per commit, for the write and the fsync together, instead of once per
  statement, and must win it back from the request threads only once.
- :meth:`EventWrites.write_in_transaction`: anything else. Jobs without an email go first,
  in one INSERT (:meth:`EventWrites.insert_emailless_jobs`); then each remaining job in a
  savepoint of its own (:meth:`EventWrites.write_one_by_one`), so one job's failure does not
  undo the others.

``sqlite3`` directly, on purpose: one statement per commit, explicit ``BEGIN IMMEDIATE`` and
savepoints (sqlite-utils keeps the schema and its migrations).
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable

import orjson

from .base import Event, Receipt, identify_uuid, sends_identify
from .fields import write_fields
from .registry import RegistryCache, RegistryPair, registry_pairs

if TYPE_CHECKING:
    from .group_commit import Job

LINKED_EMAIL = (
    "SELECT s.email FROM visitor_links l JOIN subscribers s ON s.id = l.subscriber_id"
    " WHERE l.list_id = ? AND l.external_id = ?"
)
_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (list_id, uuid, external_id, event, email, properties,"
    " identify_sent, created_at, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ROW_PARAMETERS = _INSERT_EVENT.count("?")
_STORED = ("SELECT id, external_id, identify_sent, COALESCE(occurred_at, created_at) FROM events"
           " WHERE list_id = ? AND uuid = ?")

# What a failed event costs its own job (a savepoint), rather than the whole batch.
_JOB_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, ValueError, OverflowError, TypeError)


@lru_cache(maxsize=256)
def _insert_rows_sql(count: int) -> str:
    """``_INSERT_EVENT`` for ``count`` rows in one statement (the statement cache keeps each size prepared)."""
    head, row = _INSERT_EVENT.split(" VALUES ")
    return f"{head} VALUES {', '.join([row] * count)}"


def _dumps(properties: dict[str, Any]) -> str:
    try:
        return orjson.dumps(properties).decode()
    except TypeError:  # an integer past 64 bits, say: the json module writes anything JSON can hold
        return json.dumps(properties)



def connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from any thread; ``file:`` paths are URIs."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False,
                           uri=path.startswith("file:"))
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class EventWrites:
    """The write paths; the writer provides the connection, the registry cache, and the clock."""

    conn: sqlite3.Connection
    registered: RegistryCache
    max_rows: int  # most events in one INSERT statement
    clock: Callable[[], float]

    def insert_rows(self, events: list[Event], now: float) -> int:
        """Insert events that carry no email, ignoring uuids already stored; returns how many were inserted.

        One statement where the batch fits in one (each statement costs the writer the
        GIL again, behind the request threads), else one ``executemany``.
        """
        rows = [(e.list_id, e.uuid, e.external_id, e.event, None, _dumps(e.properties), sends_identify(e, None), now,
                 now if e.occurred_at is None else e.occurred_at) for e in events]
        if len(rows) <= self.max_rows:
            return int(self.conn.execute(_insert_rows_sql(len(rows)), [value for row in rows for value in row]).rowcount)
        return int(self.conn.executemany(_INSERT_EVENT, rows).rowcount)

    def write_as_one_statement(self, jobs: list[Job]) -> bool:
        """Write the batch as one INSERT, its own transaction, if it is the common kind.

        That is: no event carries an email (each touches the events table only) and the
        registry already holds every property name (nothing else to write). Returns False,
        having written nothing, for any other batch, or for a value the statement refuses:
        the transaction path decides those. A uuid already stored is ignored by the
        statement and answered afterwards from the stored row.
        """
        events = [event for job in jobs for event in job.events]
        if (len(events) > self.max_rows or any(event.email is not None for event in events)
                or self.registered.new_pairs(events)):
            return False
        try:
            inserted = self.insert_rows(events, self.clock())  # outside a transaction: its own
        except _JOB_ERRORS:
            return False  # one statement: it wrote nothing
        if inserted == len(events):
            for job in jobs:
                job.all_stored()
        else:
            self.answer_duplicates(jobs, inserted)
        return True

    def answer_duplicates(self, jobs: list[Job], inserted: int) -> None:
        """Receipts for a one-statement batch that ignored some events as already stored.

        The statement gave the rows it inserted consecutive ids ending at this connection's
        last insert; an event whose stored row is not one of them, or was claimed by an
        earlier event of the batch (the same uuid twice), is a duplicate.
        """
        last = self.conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        ours = range(last - inserted + 1, last + 1) if inserted else range(0)
        claimed: set[int] = set()
        for job in jobs:
            job.receipts = []
            for e in job.events:
                row_id, external_id, sent, occurred = self.conn.execute(_STORED, (e.list_id, e.uuid)).fetchone()
                if row_id in ours and row_id not in claimed:
                    claimed.add(row_id)
                    job.receipts.append(Receipt(e.uuid, e.external_id, sends_identify(e, None)))
                else:
                    job.receipts.append(Receipt(e.uuid, external_id, bool(sent), duplicate=True, occurred_at=occurred))

    def write_in_transaction(self, jobs: list[Job]) -> None:
        """Write any batch in one transaction: jobs without email together, then the rest one by one."""
        conn, registered = self.conn, self.registered
        now = self.clock()
        pairs: set[RegistryPair] = set()
        conn.execute("BEGIN IMMEDIATE")
        emailless = [job for job in jobs if all(event.email is None for event in job.events)]
        if emailless and self.insert_emailless_jobs(emailless, now):
            pairs = registered.new_pairs(event for job in emailless for event in job.events)
            written = {id(job) for job in emailless}
            jobs = [job for job in jobs if id(job) not in written]
        elif emailless:
            conn.execute("BEGIN IMMEDIATE")  # afresh, after that path's rollback
        for job in jobs:
            # A savepoint per job: one job's failure must not undo the others in the batch.
            conn.execute("SAVEPOINT job")
            try:
                job.receipts, job_pairs = self.write_one_by_one(job.events, now)
            except _JOB_ERRORS as error:
                conn.execute("ROLLBACK TO job")
                job.error = error
            else:
                pairs |= job_pairs
            conn.execute("RELEASE job")
        # Pairs this writer has committed before are in the registry already (it only grows).
        pairs = registered.unknown(pairs)
        if pairs:
            conn.executemany(
                "INSERT OR IGNORE INTO event_types (list_id, event) VALUES (?, ?)",
                {(list_id, name) for list_id, name, prop in pairs if prop is None},
            )
            conn.executemany(
                "INSERT OR IGNORE INTO event_properties (list_id, event, property) VALUES (?, ?, ?)",
                [pair for pair in pairs if pair[2] is not None],
            )
        conn.execute("COMMIT")
        registered.add(pairs)

    def insert_emailless_jobs(self, jobs: list[Job], now: float) -> bool:
        """Inside the transaction, write the jobs whose events carry no email, if none is a duplicate.

        Such an event touches only the events table, so they all go first, together. Any
        surprise (a duplicate uuid, a bad value) rolls the transaction back, and the
        one-by-one path decides instead. (No savepoint: one more statement.)
        """
        events = [event for job in jobs for event in job.events]
        try:
            written = self.insert_rows(events, now) == len(events)
        except _JOB_ERRORS:
            written = False
        if written:
            for job in jobs:
                job.all_stored()
        else:
            self.conn.execute("ROLLBACK")
        return written

    def write_one_by_one(self, events: Iterable[Event], now: float) -> tuple[list[Receipt], set[RegistryPair]]:
        """Write events inside the caller's transaction, each seeing the links of those before it."""
        conn = self.conn
        receipts = []
        pairs: set[RegistryPair] = set()
        for event in events:
            linked = None
            if event.email:
                row = conn.execute(LINKED_EMAIL, (event.list_id, event.external_id)).fetchone()
                linked = row[0] if row else None
            sent = sends_identify(event, linked)
            properties = _dumps(event.properties)
            occurred = now if event.occurred_at is None else event.occurred_at
            inserted = conn.execute(
                _INSERT_EVENT,
                (event.list_id, event.uuid, event.external_id, event.event, event.email, properties, sent, now, occurred),
            ).rowcount
            if not inserted:
                _, external_id, was_sent, occurred = conn.execute(_STORED, (event.list_id, event.uuid)).fetchone()
                receipts.append(Receipt(event.uuid, external_id, bool(was_sent), duplicate=True, occurred_at=occurred))
                continue
            names = [event.event]
            if sent and event.email:
                conn.execute(
                    "INSERT OR IGNORE INTO subscribers (list_id, email, created_at) VALUES (?, ?, ?)",
                    (event.list_id, event.email, now),
                )
                link = (event.list_id, event.external_id, now, event.list_id, event.email)
                conn.execute(
                    "INSERT OR REPLACE INTO visitor_links (list_id, external_id, subscriber_id, linked_at)"
                    " SELECT ?, ?, id, ? FROM subscribers WHERE list_id = ? AND email = ?", link,
                )
                conn.execute(  # every link a visitor ever had: a subscriber's activity (storage/reads.py)
                    "INSERT OR IGNORE INTO visitor_link_history (list_id, external_id, subscriber_id, linked_at)"
                    " SELECT ?, ?, id, ? FROM subscribers WHERE list_id = ? AND email = ?", link,
                )
                if event.fields:  # custom fields (storage/fields.py), in the identify's own transaction
                    write_fields(conn.execute, "?", event.list_id, event.email, event.fields)
                if event.event != "identify":
                    names.append("identify")
                    conn.execute(
                        "INSERT OR IGNORE INTO events (list_id, uuid, external_id, event, email, properties,"
                        " identify_sent, created_at, occurred_at) VALUES (?, ?, ?, 'identify', ?, ?, 1, ?, ?)",
                        (event.list_id, identify_uuid(event), event.external_id, event.email, properties, now, occurred),
                    )
            pairs |= registry_pairs(event, names)
            receipts.append(Receipt(event.uuid, event.external_id, sent))
        return receipts, pairs
