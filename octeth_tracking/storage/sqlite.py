"""The default store: one SQLite file, WAL mode, group commit.

Threading strategy: reads take a connection from a pool shared by the process's threads
(WAL lets them run beside a writer); writes share one write connection per process, used
by one request thread at a time, the leader (as in LevelDB's write queue or MySQL's
binlog group commit). A request thread queues its events; if no commit is in progress it
leads: it takes everything queued, writes it in one transaction, commits once
(``synchronous=FULL``: the commit is on disk), wakes the others, and passes the lead to
the first job queued meanwhile. The fsync is shared by the whole batch, no 200 leaves
before its commit, no thread switch is spent on a writer thread, and a lock held by
another process is waited out by the leader, never reported to a client as "database is
locked".

The common batch (no email, no property name new to the registry) is one multi-row
INSERT that is its own transaction: the leader gives up the GIL once per commit, for the
write and the fsync together, instead of once per statement, and must win it back from
the request threads only once. The woken threads of a batch wake one another in turn
rather than all at once, so they do not all queue for the GIL together.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid as uuid_module
from collections import deque
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson
from sqlite_utils import Database

from ..errors import StoreUnavailable
from .base import Event, Receipt, digest, new_secret

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone takes turns
    fcntl = None  # type: ignore[assignment]


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


# Numbered migrations: file version N has run MIGRATIONS[:N]. Append, never edit.
MIGRATIONS: list[Callable[[Database], None]] = [_migration_1]


def _connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file up to the newest schema version, one transaction per migration."""
    db = Database(conn)
    if db.journal_mode != "wal":
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


class _WriterTurn:
    """Whose turn it is to commit, among the writers of all processes on one file.

    An exclusive ``flock`` on ``<database>-writer.lock``: a writer waiting for it wakes
    the moment the other releases it, where SQLite's busy handler would sleep in steps
    of milliseconds; and the waiting writer's queue keeps filling, so its next batch is
    bigger. The kernel releases it if a process dies. SQLite's own lock stays the
    guarantee (processes that do not take the turn, such as the CLI, are waited out as before).

    :param path: the database file; no turn is taken where it has no lock file (``:memory:``, no ``fcntl``).
    """

    def __init__(self, path: str) -> None:
        self.fd: int | None = None
        if fcntl is not None and path != ":memory:" and not path.startswith("file:"):
            try:
                self.fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                self.fd = None

    def __enter__(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Job:
    __slots__ = ("events", "receipts", "error", "done", "lead", "next")

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.receipts: list[Receipt] = []
        self.error: BaseException | None = None
        self.lead = False  # this job's thread commits the next batch
        self.done = threading.Lock()  # held until released (by a leader, or the job before): cheaper than an Event
        self.done.acquire()
        self.next: _Job | None = None  # the job of the same batch that this job's thread wakes


_LINKED_EMAIL = (
    "SELECT s.email FROM visitor_links l JOIN subscribers s ON s.id = l.subscriber_id"
    " WHERE l.list_id = ? AND l.external_id = ?"
)


_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (list_id, uuid, external_id, event, email, properties,"
    " identify_sent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

_ROW_PARAMETERS = _INSERT_EVENT.count("?")


@lru_cache(maxsize=256)
def _insert_rows(count: int) -> str:
    """``_INSERT_EVENT`` for ``count`` rows in one statement (the statement cache keeps each size prepared)."""
    head, row = _INSERT_EVENT.split(" VALUES ")
    return f"{head} VALUES {', '.join([row] * count)}"


# What a failed event costs its own job (a savepoint), rather than the whole batch.
_JOB_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, ValueError, OverflowError, TypeError)


def _dumps(properties: dict[str, Any]) -> str:
    try:
        return orjson.dumps(properties).decode()
    except TypeError:  # an integer past 64 bits, say: the json module writes anything JSON can hold
        return json.dumps(properties)


class _Registered:
    """The registry pairs this process's writer has committed: (list, event) -> property names.

    The registry only grows, so a pair seen committed needs no INSERT again.

    :param limit: most property names remembered; it starts afresh when full.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.names: dict[tuple[int, str], set[str]] = {}
        self.size = 0

    def new_pairs(self, events: Iterable[Event]) -> set[tuple[int, str, str | None]]:
        """The (list, event, property or None) pairs of ``events`` not known to be committed."""
        pairs: set[tuple[int, str, str | None]] = set()
        for event in events:
            known = self.names.get((event.list_id, event.event))
            if known is None:
                pairs.add((event.list_id, event.event, None))
                pairs.update((event.list_id, event.event, name) for name in event.properties)
            elif not known.issuperset(event.properties):
                pairs.update((event.list_id, event.event, name) for name in event.properties if name not in known)
        return pairs

    def unknown(self, pairs: set[tuple[int, str, str | None]]) -> set[tuple[int, str, str | None]]:
        names = self.names
        return {
            pair for pair in pairs
            if (known := names.get((pair[0], pair[1]))) is None or (pair[2] is not None and pair[2] not in known)
        }

    def add(self, pairs: set[tuple[int, str, str | None]]) -> None:
        """Remember ``pairs``, once their transaction has committed."""
        if self.size + len(pairs) > self.limit:
            self.names, self.size = {}, 0
        for list_id, event, name in pairs:
            known = self.names.setdefault((list_id, event), set())
            if name is not None:
                known.add(name)
        self.size += len(pairs)


class _Writer:
    """One process's write side: the write connection, the queue, and whether a thread leads.

    :param path: the database file.
    :param busy_timeout: seconds SQLite waits for another process's lock.
    :param max_registered: see :class:`SQLiteStore`.
    """

    def __init__(self, path: str, busy_timeout: float, max_registered: int) -> None:
        self.pid = os.getpid()
        self.conn = _connect(path, busy_timeout)
        self.conn.execute("PRAGMA wal_autocheckpoint=0")  # the leader checkpoints in its turn
        self.turn = _WriterTurn(path)
        self.registered = _Registered(max_registered)
        self.lock = threading.Lock()  # guards pending and leading
        self.pending: deque[_Job] = deque()
        self.leading = False  # a thread is committing (or about to): the others queue and wait
        self.commits = 0
        getlimit = getattr(self.conn, "getlimit", None)  # Python 3.11+; 999 was SQLite's limit before 3.32
        variables = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit else 999
        self.max_rows = variables // _ROW_PARAMETERS  # most events in one INSERT statement

    def close(self) -> None:
        self.conn.close()
        self.turn.close()


def _all_stored(jobs: list[_Job]) -> None:
    """Receipts for jobs of events without email, every one stored anew."""
    for job in jobs:
        job.receipts = [Receipt(e.uuid, e.external_id, e.event == "identify") for e in job.events]


def _write(conn: sqlite3.Connection, events: Iterable[Event], now: float) -> tuple[list[Receipt], set[tuple[int, str, str | None]]]:
    """Write events inside the caller's transaction; returns receipts and registry pairs."""
    receipts = []
    pairs: set[tuple[int, str, str | None]] = set()
    for event in events:
        identify = event.event == "identify"
        linked = None
        if event.email:
            row = conn.execute(_LINKED_EMAIL, (event.list_id, event.external_id)).fetchone()
            linked = row[0] if row else None
        sent = identify or (event.email is not None and linked != event.email)
        properties = _dumps(event.properties)
        inserted = conn.execute(
            _INSERT_EVENT,
            (event.list_id, event.uuid, event.external_id, event.event, event.email, properties, sent, now),
        ).rowcount
        if not inserted:
            external_id, was_sent = conn.execute(
                "SELECT external_id, identify_sent FROM events WHERE list_id = ? AND uuid = ?",
                (event.list_id, event.uuid),
            ).fetchone()
            receipts.append(Receipt(event.uuid, external_id, bool(was_sent), duplicate=True))
            continue
        names = [event.event]
        if sent and event.email:
            conn.execute(
                "INSERT OR IGNORE INTO subscribers (list_id, email, created_at) VALUES (?, ?, ?)",
                (event.list_id, event.email, now),
            )
            conn.execute(
                "INSERT OR REPLACE INTO visitor_links (list_id, external_id, subscriber_id, linked_at)"
                " SELECT ?, ?, id, ? FROM subscribers WHERE list_id = ? AND email = ?",
                (event.list_id, event.external_id, now, event.list_id, event.email),
            )
            if not identify:
                names.append("identify")
                conn.execute(
                    "INSERT INTO events (list_id, uuid, external_id, event, email, properties,"
                    " identify_sent, created_at) VALUES (?, ?, ?, 'identify', ?, ?, 1, ?)",
                    (event.list_id, str(uuid_module.uuid4()), event.external_id, event.email, properties, now),
                )
        for name in names:
            pairs.add((event.list_id, name, None))
            pairs.update((event.list_id, name, prop) for prop in event.properties)
        receipts.append(Receipt(event.uuid, event.external_id, sent))
    return receipts, pairs


class SQLiteStore:
    """Events and accounts in one SQLite file, created (and upgraded) on first use.

    :param path: the database file; ``sqlite:///path`` is accepted too.
    :param busy_timeout: seconds a write waits for another process's lock before the
        request gets a 503 (nothing stored, safe to retry).
    :param max_batch: most events in one group commit.
    :param max_registered: most registry pairs the writer remembers as stored (to skip
        re-inserting them); it starts afresh when full.
    """

    def __init__(
        self, path: str | Path = "octeth_tracking.db", *, busy_timeout: float = 30.0, max_batch: int = 2000,
        max_registered: int = 100_000,
    ) -> None:
        path = str(path)
        self.path = path[len("sqlite:///"):] if path.startswith("sqlite:///") else path
        self.busy_timeout = busy_timeout
        self.max_batch = max_batch
        self.max_registered = max_registered
        self.checkpoint_every = 100  # commits between checkpoints of the WAL
        try:
            conn = _connect(self.path, busy_timeout)
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
        self._writer: _Writer | None = None
        self._start_lock = threading.Lock()

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
            conn = _connect(self.path, self.busy_timeout)
        try:
            yield conn
        finally:
            pool.append(conn)

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._reading() as conn:
            row = conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def ping(self) -> bool:
        try:
            return bool(self._one("SELECT count(*) FROM sqlite_master", ()))
        except sqlite3.Error:
            return False

    def properties(self, list_id: int) -> dict[str, list[str]]:
        with self._reading() as conn:
            result: dict[str, list[str]] = {
                name: [] for (name,) in conn.execute("SELECT event FROM event_types WHERE list_id = ?", (list_id,))
            }
            for name, prop in conn.execute("SELECT event, property FROM event_properties WHERE list_id = ?", (list_id,)):
                result.setdefault(name, []).append(prop)
        return {name: sorted(result[name]) for name in sorted(result)}

    def would_identify(self, list_id: int, external_id: str, email: str) -> bool:
        return bool(self._one(_LINKED_EMAIL, (list_id, external_id)) != email)

    def subscriber_email(self, list_id: int, external_id: str) -> str | None:
        return self._one(_LINKED_EMAIL, (list_id, external_id))  # type: ignore[no-any-return]

    def count_events(self, list_id: int | None = None) -> int:
        if list_id is None:
            return int(self._one("SELECT count(*) FROM events", ()))
        return int(self._one("SELECT count(*) FROM events WHERE list_id = ?", (list_id,)))

    def user_for_api_key(self, api_key: str) -> int | None:
        return self._one(  # type: ignore[no-any-return]
            "SELECT user_id FROM api_keys WHERE digest = ? AND revoked_at IS NULL", (digest(api_key),)
        )

    def user_for_session(self, session_id: str) -> int | None:
        return self._one(  # type: ignore[no-any-return]
            "SELECT user_id FROM sessions WHERE digest = ? AND expires_at > ?", (digest(session_id), time.time())
        )

    def list_owner(self, list_id: int) -> int | None:
        return self._one("SELECT user_id FROM lists WHERE id = ?", (list_id,))  # type: ignore[no-any-return]

    def count_users(self) -> int:
        return int(self._one("SELECT count(*) FROM users", ()))

    # -- account writes: rare, one short transaction each --

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._reading() as conn, conn:  # a transaction on a pooled connection
            return conn.execute(sql, params)

    def _insert(self, sql: str, params: tuple[Any, ...]) -> int:
        return int(self._execute(sql, params).lastrowid or 0)

    def create_user(self, name: str) -> int:
        return self._insert("INSERT INTO users (name, created_at) VALUES (?, ?)", (name, time.time()))

    def create_list(self, user_id: int, name: str) -> int:
        if self._one("SELECT id FROM users WHERE id = ?", (user_id,)) is None:
            raise LookupError(f"no user with id {user_id}")
        return self._insert(
            "INSERT INTO lists (user_id, name, created_at) VALUES (?, ?, ?)", (user_id, name, time.time())
        )

    def create_api_key(self, user_id: int) -> str:
        if self._one("SELECT id FROM users WHERE id = ?", (user_id,)) is None:
            raise LookupError(f"no user with id {user_id}")
        key = new_secret()
        self._insert(
            "INSERT INTO api_keys (digest, user_id, created_at) VALUES (?, ?, ?)", (digest(key), user_id, time.time())
        )
        return key

    def revoke_api_key(self, api_key: str) -> bool:
        return bool(self._execute(
            "UPDATE api_keys SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL",
            (time.time(), digest(api_key)),
        ).rowcount)

    def create_session(self, user_id: int, ttl: float) -> str:
        if self._one("SELECT id FROM users WHERE id = ?", (user_id,)) is None:
            raise LookupError(f"no user with id {user_id}")
        session_id = new_secret()
        self._insert(
            "INSERT INTO sessions (digest, user_id, expires_at) VALUES (?, ?, ?)",
            (digest(session_id), user_id, time.time() + ttl),
        )
        return session_id

    # -- event writes: leader-based group commit --

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        if not events:
            return []
        writer = self._writer_state()
        job = _Job(events)
        with writer.lock:
            writer.pending.append(job)
            lead = job.lead = not writer.leading
            writer.leading = True
        if not lead:
            job.done.acquire()  # released once our job is committed (or we are made the leader)
            if job.next is not None:
                job.next.done.release()  # wake the next of our batch: one at a time, not all at once
        if job.lead:
            self._lead(writer, job)
        if job.error is not None:
            raise job.error
        return job.receipts

    def _writer_state(self) -> _Writer:
        writer = self._writer
        if writer is not None and writer.pid == os.getpid():
            return writer
        with self._start_lock:
            if self._writer is None or self._writer.pid != os.getpid():  # first write here (or after a fork)
                self._writer = _Writer(self.path, self.busy_timeout, self.max_registered)
            return self._writer

    def _lead(self, writer: _Writer, own: _Job) -> None:
        """Commit what is queued (our own job first) in one transaction, then pass the lead on.

        The leader is a request thread: no writer thread to hand events to, no extra
        thread switch for its own request. Requests that arrive while it waits for its
        turn or commits queue up and form the next batch, whose first job leads it.
        """
        batch: list[_Job] = []
        try:
            with writer.turn:  # the batch is taken once it is our turn: what arrived meanwhile joins it
                with writer.lock:
                    pending, count = writer.pending, 0
                    while pending and count < self.max_batch:
                        job = pending.popleft()
                        batch.append(job)
                        count += len(job.events)
                self._commit(writer, batch)
                waiting = batch[1:]  # batch[0] is the leader's own job
                for job, following in zip(waiting, waiting[1:]):
                    job.next = following
                if waiting:
                    waiting[0].done.release()
                writer.commits += 1
                if writer.commits % self.checkpoint_every == 0:
                    # In our turn, after a commit whose requests are already answered, and
                    # with no other writer appending meanwhile: so it completes, and the
                    # next commit starts the WAL afresh (a checkpoint beside the commits of
                    # other processes never catches up, and the WAL grows without end).
                    try:
                        writer.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.OperationalError:
                        pass  # another process's checkpoint is running: the next one catches up
        finally:
            # Only once the turn is released: an flock belongs to the process, not the thread.
            with writer.lock:
                if writer.pending and writer.pending[0] is own:  # failed before taking the batch
                    writer.pending.popleft()
                    own.error = StoreUnavailable()
                successor = writer.pending[0] if writer.pending else None
                if successor is None:
                    writer.leading = False
                else:
                    successor.lead = True
            if successor is not None:
                successor.done.release()

    def _commit(self, writer: _Writer, jobs: list[_Job]) -> None:
        """Commit ``jobs`` in one transaction, retrying a busy or locked database until ``busy_timeout``."""
        conn = writer.conn
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self._commit_once(writer, jobs)
                break
            except sqlite3.OperationalError as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if time.monotonic() < deadline and ("locked" in str(error) or "busy" in str(error)):
                    time.sleep(0.001)
                    continue
                for job in jobs:
                    job.receipts, job.error = [], StoreUnavailable()
                break
            except BaseException as error:  # a bug must fail its requests, not leave them waiting
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for job in jobs:
                    job.receipts, job.error = [], error
                break

    @staticmethod
    def _insert_plain(writer: _Writer, events: list[Event], now: float) -> int:
        """Insert events that carry no email, ignoring uuids already stored; returns how many were inserted.

        One statement where the batch fits in one (each statement costs the writer the
        GIL again, behind the request threads), else one ``executemany``.
        """
        rows = [(e.list_id, e.uuid, e.external_id, e.event, None, _dumps(e.properties), e.event == "identify", now)
                for e in events]
        if len(rows) <= writer.max_rows:
            return int(writer.conn.execute(_insert_rows(len(rows)), [value for row in rows for value in row]).rowcount)
        return int(writer.conn.executemany(_INSERT_EVENT, rows).rowcount)

    @staticmethod
    def _write_plain(writer: _Writer, jobs: list[_Job], now: float) -> bool:
        """Inside the transaction, write the jobs whose events carry no email, if none is a duplicate.

        Such an event touches only the events table, so they all go first, together. Any
        surprise (a duplicate uuid, a bad value) rolls the transaction back, and the
        event-by-event path decides instead. (No savepoint: one more statement.)
        """
        events = [event for job in jobs for event in job.events]
        try:
            written = SQLiteStore._insert_plain(writer, events, now) == len(events)
        except _JOB_ERRORS:
            written = False
        if written:
            _all_stored(jobs)
        else:
            writer.conn.execute("ROLLBACK")
        return written

    @staticmethod
    def _write_at_once(writer: _Writer, jobs: list[_Job]) -> bool:
        """Write the batch as one INSERT, its own transaction, if it is the common kind.

        That is: no event carries an email (each touches the events table only) and the
        registry already holds every property name (nothing else to write). Returns False,
        having written nothing, for any other batch, or for a value the statement refuses:
        the transaction path decides those. A uuid already stored is ignored by the
        statement and answered afterwards from the stored row.
        """
        events = [event for job in jobs for event in job.events]
        if (len(events) > writer.max_rows or any(event.email is not None for event in events)
                or writer.registered.new_pairs(events)):
            return False
        try:
            inserted = SQLiteStore._insert_plain(writer, events, time.time())  # outside a transaction: its own
        except _JOB_ERRORS:
            return False  # one statement: it wrote nothing
        if inserted == len(events):
            _all_stored(jobs)
        else:
            SQLiteStore._answer_duplicates(writer.conn, jobs, inserted)
        return True

    @staticmethod
    def _answer_duplicates(conn: sqlite3.Connection, jobs: list[_Job], inserted: int) -> None:
        """Receipts for a one-statement batch that ignored some events as already stored.

        The statement gave the rows it inserted consecutive ids ending at this connection's
        last insert; an event whose stored row is not one of them, or was claimed by an
        earlier event of the batch (the same uuid twice), is a duplicate.
        """
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        ours = range(last - inserted + 1, last + 1) if inserted else range(0)
        claimed: set[int] = set()
        for job in jobs:
            job.receipts = []
            for e in job.events:
                row_id, external_id, sent = conn.execute(
                    "SELECT id, external_id, identify_sent FROM events WHERE list_id = ? AND uuid = ?", (e.list_id, e.uuid)
                ).fetchone()
                if row_id in ours and row_id not in claimed:
                    claimed.add(row_id)
                    job.receipts.append(Receipt(e.uuid, e.external_id, e.event == "identify"))
                else:
                    job.receipts.append(Receipt(e.uuid, external_id, bool(sent), duplicate=True))

    def _commit_once(self, writer: _Writer, jobs: list[_Job]) -> None:
        if self._write_at_once(writer, jobs):
            return
        conn, registered = writer.conn, writer.registered
        now = time.time()
        pairs: set[tuple[int, str, str | None]] = set()
        conn.execute("BEGIN IMMEDIATE")
        plain = [job for job in jobs if all(event.email is None for event in job.events)]
        if plain and self._write_plain(writer, plain, now):
            pairs = registered.new_pairs(event for job in plain for event in job.events)
            written = {id(job) for job in plain}
            jobs = [job for job in jobs if id(job) not in written]
        elif plain:
            conn.execute("BEGIN IMMEDIATE")  # afresh, after the fast path's rollback
        for job in jobs:
            # A savepoint per job: one job's failure must not undo the others in the batch.
            conn.execute("SAVEPOINT job")
            try:
                job.receipts, job_pairs = _write(conn, job.events, now)
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
