"""The default store: one SQLite file, WAL mode, group commit.

Threading strategy: reads use one connection per thread (WAL lets them run beside a
writer); writes go through one writer thread per process that owns the write
connection. Request threads hand it their events and wait; it writes everything
waiting in one transaction, commits once (``synchronous=FULL``: the commit is on disk),
and wakes them all. The fsync is shared by the whole batch, no 200 leaves before its
commit, and a lock held by another process is waited out by the writer, never
reported to a client as "database is locked".
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
import uuid as uuid_module
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

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
    __slots__ = ("events", "receipts", "error", "done")

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.receipts: list[Receipt] = []
        self.error: BaseException | None = None
        self.done = threading.Lock()  # held until the writer releases it: cheaper than an Event
        self.done.acquire()


_LINKED_EMAIL = (
    "SELECT s.email FROM visitor_links l JOIN subscribers s ON s.id = l.subscriber_id"
    " WHERE l.list_id = ? AND l.external_id = ?"
)


_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (list_id, uuid, external_id, event, email, properties,"
    " identify_sent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

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
        self._registered = _Registered(max_registered)
        conn = _connect(self.path, busy_timeout)
        try:
            migrate(conn)
        finally:
            conn.close()
        self._local = threading.local()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_pid = 0
        self._start_lock = threading.Lock()

    # -- reads: a connection per thread (and per process, after a fork) --

    def _reader(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.conn = _connect(self.path, self.busy_timeout)
            local.pid = os.getpid()
        conn: sqlite3.Connection = local.conn
        return conn

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        row = self._reader().execute(sql, params).fetchone()
        return row[0] if row else None

    def ping(self) -> bool:
        try:
            return bool(self._one("SELECT count(*) FROM sqlite_master", ()))
        except sqlite3.Error:
            return False

    def properties(self, list_id: int) -> dict[str, list[str]]:
        conn = self._reader()
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
        with self._reader() as conn:  # a transaction on this thread's connection
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

    # -- event writes: the group-commit writer --

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        if not events:
            return []
        job = _Job(events)
        self._ensure_writer()
        self._queue.put(job)
        job.done.acquire()
        if job.error is not None:
            raise job.error
        return job.receipts

    def _ensure_writer(self) -> None:
        if self._writer_pid == os.getpid():
            return
        with self._start_lock:
            if self._writer_pid != os.getpid():  # first write in this process (or after a fork)
                self._queue = queue.SimpleQueue()
                self._registered = _Registered(self.max_registered)
                self._writer = threading.Thread(target=self._write_forever, name="octeth-writer", daemon=True)
                self._writer.start()
                self._writer_pid = os.getpid()

    def _write_forever(self) -> None:
        conn = _connect(self.path, self.busy_timeout)
        # Checkpoints happen in our turn, after a commit whose requests are already
        # answered, and with no other writer appending meanwhile: so each completes, and
        # the next commit starts the WAL afresh (a checkpoint beside the commits of other
        # processes never catches up, and the WAL grows without end).
        conn.execute("PRAGMA wal_autocheckpoint=0")
        turn = _WriterTurn(self.path)
        jobs_queue = self._queue
        commits = 0
        while True:
            job = jobs_queue.get()
            if job is None:
                conn.close()
                turn.close()
                return
            with turn:  # the batch is taken once it is our turn: what arrived meanwhile joins it
                jobs, count = [job], len(job.events)
                while count < self.max_batch:
                    try:
                        job = jobs_queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        jobs_queue.put(None)  # stop after this batch
                        break
                    jobs.append(job)
                    count += len(job.events)
                self._commit(conn, jobs)
                commits += 1
                if commits % self.checkpoint_every == 0:
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.OperationalError:
                        pass  # another process's checkpoint is running: the next one catches up

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self._commit_once(conn, jobs)
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
            except BaseException as error:  # a bug must fail its requests, not the writer thread
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for job in jobs:
                    job.receipts, job.error = [], error
                break
        for job in jobs:
            job.done.release()

    @staticmethod
    def _write_plain(conn: sqlite3.Connection, jobs: list[_Job], now: float) -> bool:
        """Write the events that carry no email with one ``executemany``, if none is a duplicate.

        Such an event touches only the events table, so the whole batch is one
        statement, the first of the transaction. Any surprise (a duplicate uuid, a bad
        value) rolls the transaction back, and the event-by-event path decides instead.
        (No savepoint: every statement costs the writer the GIL again, behind the
        request threads.)
        """
        rows = [
            (e.list_id, e.uuid, e.external_id, e.event, None, _dumps(e.properties), e.event == "identify", now)
            for job in jobs for e in job.events
        ]
        try:
            written = conn.executemany(_INSERT_EVENT, rows).rowcount == len(rows)
        except _JOB_ERRORS:
            written = False
        if written:
            for job in jobs:
                job.receipts = [Receipt(e.uuid, e.external_id, e.event == "identify") for e in job.events]
        else:
            conn.execute("ROLLBACK")
        return written

    def _commit_once(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        now = time.time()
        pairs: set[tuple[int, str, str | None]] = set()
        conn.execute("BEGIN IMMEDIATE")
        plain = [job for job in jobs if all(event.email is None for event in job.events)]
        if plain and self._write_plain(conn, plain, now):
            pairs = self._registered.new_pairs(event for job in plain for event in job.events)
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
        pairs = self._registered.unknown(pairs)
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
        self._registered.add(pairs)

    def close(self) -> None:
        if self._writer is not None and self._writer_pid == os.getpid():
            self._queue.put(None)
            self._writer.join()
            self._writer, self._writer_pid = None, 0
        if getattr(self._local, "pid", None) == os.getpid():
            self._local.conn.close()
            del self._local.pid
