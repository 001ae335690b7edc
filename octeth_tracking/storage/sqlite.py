"""The default store: one SQLite file, WAL mode, group commit.

Threading strategy: reads take a connection from a pool shared by the process's threads
(WAL lets them run beside a writer); writes go through the process's one
:class:`~octeth_tracking.storage.group_commit.Writer`, which commits the events of
concurrent requests together (see that module). Schema and migrations are sqlite-utils';
accounts, tracker keys and custom fields are :class:`~octeth_tracking.storage.accounts.SQLAccounts`,
:class:`~octeth_tracking.storage.trackers.SQLTrackers` and :class:`~octeth_tracking.storage.fields.SQLFields`,
shared with PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from sqlite_utils import Database

from .base import CommitObserver, Event, Receipt, StorageUnavailable
from .fields import SQLFields
from .journal import SQLJournal
from .group_commit import Writer
from .revocations import GenerationFile
from .write_probe import WriteProbe
from .sqlite_writes import LINKED_EMAIL, connect
from .trackers import SQLTrackers
from .visitor_index import VisitorIndexReads, count_erasures, create_visitor_index


def _migration_1(db: Database) -> None:
    db.table("users").create({"id": int, "name": str, "created_at": float}, pk="id")
    db.table("lists").create({"id": int, "user_id": int, "name": str, "created_at": float}, pk="id")
    db.table("api_keys").create(
        {"digest": str, "user_id": int, "created_at": float, "revoked_at": float}, pk="digest"
    )
    db.table("sessions").create({"digest": str, "user_id": int, "expires_at": float}, pk="digest")
    db.table("events").create(
        {
            "id": int, "list_id": int, "uuid": str, "external_id": str, "event": str,
            "email": str, "properties": str, "identify_sent": int, "created_at": float,
        },
        pk="id",
    )
    db.table("events").create_index(["list_id", "uuid"], unique=True)
    db.table("events").create_index(["list_id", "external_id"])
    db.table("events").create_index(["list_id", "created_at"])
    db.table("event_types").create({"list_id": int, "event": str}, pk=("list_id", "event"))
    db.table("event_properties").create(
        {"list_id": int, "event": str, "property": str}, pk=("list_id", "event", "property")
    )
    db.table("subscribers").create({"id": int, "list_id": int, "email": str, "created_at": float}, pk="id")
    db.table("subscribers").create_index(["list_id", "email"], unique=True)
    db.table("visitor_links").create(
        {"list_id": int, "external_id": str, "subscriber_id": int, "linked_at": float},
        pk=("list_id", "external_id"),
    )


def _migration_2(db: Database) -> None:
    """Custom fields and subscribers' values (storage/fields.py)."""
    db.table("custom_fields").create(
        {"id": int, "list_id": int, "name": str, "alias": str, "alias_key": str, "unique_identifier": int,
         "created_at": float}, pk="id", not_null={"list_id", "name", "unique_identifier"},
    )
    db.table("custom_fields").create_index(["list_id", "alias_key"], unique=True)
    db.table("subscriber_fields").create(
        {"subscriber_id": int, "field_id": int, "value": str, "digest": str}, pk=("subscriber_id", "field_id"),
        not_null={"value", "digest"},
    )
    db.table("subscriber_fields").create_index(["field_id", "digest"])


def _migration_3(db: Database) -> None:
    """The journal of rejected requests (storage/journal.py)."""
    db.table("rejected_requests").create(
        {"id": int, "user_id": str, "at": float, "route": str, "status": int, "errors": str, "body": str}, pk="id"
    )
    db.table("rejected_requests").create_index(["user_id", "id"])


def _migration_4(db: Database) -> None:
    """Public per-list tracker keys (storage/trackers.py): digests only."""
    db.table("tracker_keys").create(
        {"id": int, "digest": str, "list_id": int, "origins": str, "server_side": int, "created_at": float,
         "revoked_at": float},
        pk="id", not_null={"digest", "list_id", "origins", "server_side"},
    )
    db.table("tracker_keys").create_index(["digest"], unique=True)
    db.table("tracker_keys").create_index(["list_id"])


def _migration_5(db: Database) -> None:
    """Reading events back (storage/reads.py): every link a visitor ever had, and the indexes of
    a visitor's, an event name's and a list's events newest first."""
    db.execute(
        "CREATE TABLE visitor_link_history (list_id INTEGER NOT NULL, subscriber_id INTEGER NOT NULL,"
        " external_id TEXT NOT NULL, linked_at REAL, PRIMARY KEY (list_id, subscriber_id, external_id))"
    )
    db.execute("CREATE INDEX visitor_link_history_visitor ON visitor_link_history (list_id, external_id)")
    db.execute("INSERT INTO visitor_link_history SELECT list_id, subscriber_id, external_id, linked_at FROM visitor_links")
    # The visitor index gains the time (the row id rides along in every SQLite index).
    db.execute("DROP INDEX idx_events_list_id_external_id")
    db.execute("CREATE INDEX events_list_visitor_time ON events (list_id, external_id, created_at)")
    db.execute("CREATE INDEX events_list_event_time ON events (list_id, event, created_at)")



def _migration_occurred_at(db: Database) -> None:
    """The event's own time (``Timestamp``/``SentAt``, see event_time.py), beside its receive time
    (``created_at``, the API's ``received_at``). Rows written before it have none: their
    ``created_at`` is their time (read ``COALESCE(occurred_at, created_at)``). No index: one
    more per event would cost the write path a page (migration 7 moves the time indexes onto it)."""
    db.table("events").add_column("occurred_at", float)



def _migration_7(db: Database) -> None:
    """Reads order and filter by the event's own time (storage/reads.py): rows from before
    migration 6 take their receive time as theirs, and the time indexes key on it."""
    db.execute("UPDATE events SET occurred_at = created_at WHERE occurred_at IS NULL")
    for index in ("events_list_visitor_time", "events_list_event_time", "idx_events_list_id_created_at"):
        db.execute(f"DROP INDEX {index}")
    db.execute("CREATE INDEX events_list_occurred ON events (list_id, occurred_at)")
    db.execute("CREATE INDEX events_list_visitor_occurred ON events (list_id, external_id, occurred_at)")
    db.execute("CREATE INDEX events_list_event_occurred ON events (list_id, event, occurred_at)")


def _migration_8(db: Database) -> None:
    """A visitor's events are found through an index built in bulk off the commit path
    (storage/visitor_index.py), not the events table's own visitor index."""
    create_visitor_index(db.execute)


def _migration_9(db: Database) -> None:
    """The visitor index's mark counts erasures: a bulk step under way sees one (storage/visitor_index.py)."""
    count_erasures(db.execute)


# Numbered migrations: file version N has run MIGRATIONS[:N]. Append, never edit.
MIGRATIONS: list[Callable[[Database], None]] = [
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_occurred_at, _migration_7,
    _migration_8, _migration_9]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file up to the newest schema version, one transaction per migration."""
    db = Database(conn)
    if db.journal_mode not in ("wal", "memory"):  # memory: SQLite's memdb keeps its journal in memory
        db.enable_wal()
    while True:
        conn.execute("BEGIN IMMEDIATE")
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            conn.execute("COMMIT")
            return version
        MIGRATIONS[version](db)
        conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")


class SQLiteStore(SQLTrackers, SQLFields, SQLJournal, VisitorIndexReads):
    """Events and accounts in one SQLite file, created (and upgraded) on first use.

    :param path: the database file; ``sqlite:///path`` is accepted too. ``":memory:"``: a private
        database in this process's memory, gone when the store is closed (for tests: see below).
    :param busy_timeout: seconds a write waits for its turn (another process's lock) before
        the request gets a 503 (nothing stored, safe to retry); the ``write_timeout`` setting.
    :param max_batch: most events in one group commit.
    :param max_registered: most registry pairs the writer remembers as stored (to skip
        re-inserting them); it starts afresh when full.
    :param clock: seconds since the epoch, for the times it stores and session expiry;
        tests pass their own.
    :param visitor_index_every: events written past the visitor index's mark that start a bulk
        step of it (storage/visitor_index.py): about what a visitor's read scans beyond the
        index (up to 3× that while writers outrun the step), against what the step saves the
        write (more, the more it takes at once).

    In memory, the store is the same code on SQLite's ``memdb`` VFS: its connections (the
    writer's and the readers') share one database by name, with SQLite's usual locking, so
    the app's threads use it as they use a file; nothing reaches the disk, and nothing is
    shared with another process or another store.
    """

    checkpoint_every = 100  # commits between checkpoints of the WAL
    writer_class = Writer  # each process's group-commit writer
    health_timeout = 0.5  # seconds ping() waits for a write's turn before it says the store cannot write
    commit_observer: CommitObserver | None = None  # told of every commit (the app's metrics set it)

    def __init__(
        self, path: str | Path = "octeth_tracking.db", *, busy_timeout: float = 5.0, max_batch: int = 2000,
        max_registered: int = 100_000, clock: Callable[[], float] = time.time, visitor_index_every: int = 20_000,
    ) -> None:
        if type(visitor_index_every) is not int or visitor_index_every < 1:
            raise ValueError(f"visitor_index_every must be an integer, 1 or more, not {visitor_index_every!r}")
        self.visitor_index_every = visitor_index_every
        path = str(path)
        path = path[len("sqlite:///"):] if path.startswith("sqlite:///") else path
        self.memory = path == ":memory:"
        self.path = f"file:/octeth-tracking-{uuid.uuid4().hex}?vfs=memdb" if self.memory else path
        # The memory database lives while a connection to it is open: this one, until close().
        self._anchor = connect(self.path, busy_timeout) if self.memory else None
        self.busy_timeout = busy_timeout
        self.max_batch = max_batch
        self.max_registered = max_registered
        self.clock = clock
        try:
            conn = connect(self.path, busy_timeout)
            try:
                migrate(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as error:  # "unable to open database file" says not why
            folder = os.path.dirname(os.path.abspath(self.path))
            reason = f"no directory {folder}" if not os.path.isdir(folder) else str(error)
            raise ConnectionError(f"cannot use the SQLite database {self.path}: {reason}") from error
        self._pool: list[sqlite3.Connection] = []  # read connections not in use, of process _pool_pid
        self._pool_pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []  # a parent's, after a fork: kept, never used or closed
        self._writer: Writer | None = None
        self._start_lock = threading.Lock()
        self.revocations = GenerationFile(self.path)
        # Read twice a request: the counter's own method, without a call through the store.
        self.revocation_generation = self.revocations.current  # type: ignore[method-assign]
        self._write_probe = WriteProbe(self.path)

    # -- reads: a pool of connections shared by this process's threads --

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read connection for one read. One per read in progress, not one per thread: a
        server runs hundreds of threads, and each connection holds its own page cache."""
        if self._pool_pid != os.getpid():  # after a fork
            with self._start_lock:
                if self._pool_pid != os.getpid():
                    self._inherited.extend(self._pool)
                    self._pool, self._pool_pid = [], os.getpid()
        pool = self._pool
        try:
            conn = pool.pop()  # atomic under the GIL
        except IndexError:
            conn = connect(self.path, self.busy_timeout)
        try:
            yield conn
        finally:
            pool.append(conn)

    def _read_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._reading() as conn:
            row = conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def _read_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._reading() as conn:
            return conn.execute(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._reading() as conn:  # autocommit: one statement is one transaction
            return int(conn.execute(sql, params).rowcount)

    def _insert_id(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._reading() as conn:
            return int(conn.execute(sql, params).lastrowid or 0)

    def _write_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        with self._reading() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")  # waits busy_timeout for the writer's turn at most
            except sqlite3.OperationalError as error:
                raise StorageUnavailable(str(error)) from error
            try:
                counts = [int(conn.execute(sql, params).rowcount) for sql, params in statements]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return counts

    def _revoke(self, sql: str, params: tuple[Any, ...]) -> int:
        changed = self._write(sql, params)  # committed when it returns
        if changed:
            self.revocations.bump()
        return changed

    def revocation_generation(self) -> int | None:
        return self.revocations.current()

    def ping(self) -> bool:
        """Whether the file answers a read and a write could get its turn within ``health_timeout``."""
        try:
            readable = bool(self._read_one("SELECT count(*) FROM sqlite_master", ()))
        except sqlite3.Error:
            return False
        return readable and self._write_probe.check(self.health_timeout)

    def properties(self, list_id: int) -> dict[str, list[str]]:
        with self._reading() as conn:
            result: dict[str, list[str]] = {
                name: [] for (name,) in conn.execute("SELECT event FROM event_types WHERE list_id = ?", (list_id,))
            }
            for name, prop in conn.execute("SELECT event, property FROM event_properties WHERE list_id = ?", (list_id,)):
                result.setdefault(name, []).append(prop)
        return {name: sorted(result[name]) for name in sorted(result)}

    def subscriber_email(self, list_id: int, external_id: str) -> str | None:
        return self._read_one(LINKED_EMAIL, (list_id, external_id))  # type: ignore[no-any-return]

    tracked_tables: tuple[str, ...] = (*SQLTrackers.tracked_tables, "visitor_index")

    def delete_all_events(self) -> int:
        tables = [(f"DELETE FROM {table}", ()) for table in self.tracked_tables]
        return self._write_all([("DELETE FROM events", ()), *tables, ("UPDATE visitor_index_mark SET upto = 0, erasures = erasures + 1", ())])[0]

    def count_events(self, list_id: int | None = None) -> int:
        if list_id is None:
            return int(self._read_one("SELECT count(*) FROM events", ()))
        return int(self._read_one("SELECT count(*) FROM events WHERE list_id = ?", (list_id,)))

    # -- event writes: leader-based group commit (storage/group_commit.py) --

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        if not events:
            return []
        return self._writer_state().record(events)

    def _writer_state(self) -> Writer:
        writer = self._writer
        if writer is not None and writer.pid == os.getpid():
            return writer
        with self._start_lock:
            if self._writer is None or self._writer.pid != os.getpid():  # first write here (or after a fork)
                self._writer = self.writer_class(self)
            return self._writer

    def close(self) -> None:
        writer = self._writer
        if writer is not None and writer.pid == os.getpid():
            deadline = time.monotonic() + self.busy_timeout
            while time.monotonic() < deadline:  # let a commit in progress finish
                with writer.lock:
                    if not writer.leading:
                        break
                time.sleep(0.001)
            self._writer = None
            writer.close()
        if self._pool_pid == os.getpid():
            while self._pool:
                self._pool.pop().close()
        self.revocations.close()
        if self._anchor is not None:
            self._anchor.close()
            self._anchor = None
