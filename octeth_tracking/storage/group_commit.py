"""Leader-based group commit: how the SQLite store commits the events of concurrent requests.

Each process has one :class:`Writer`: one write connection, used by one request thread at a
time, the leader (as in LevelDB's write queue or MySQL's binlog group commit). A request
thread queues its events as a :class:`Job`; if no commit is in progress it leads: it takes
everything queued, writes it in one transaction (the write paths are
:mod:`~octeth_tracking.storage.sqlite_writes`), commits once (``synchronous=FULL``: the
commit is on disk), wakes the others, and passes the lead to the first job queued
meanwhile. The fsync is shared by the whole batch, no 200 leaves before its commit, no
thread switch is spent on a writer thread, and a lock held by another process is waited
out by the leader, never reported to a client as "database is locked". The woken threads
of a batch wake one another in turn rather than all at once, so they do not all queue for
the GIL together.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable, Sequence

from .base import Event, Receipt, StorageUnavailable, sends_identify
from .registry import RegistryCache
from .sqlite_writes import _ROW_PARAMETERS, EventWrites, connect
from .visitor_index import MARK, VisitorIndexer

if TYPE_CHECKING:
    from .sqlite import SQLiteStore

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone takes turns
    fcntl = None  # type: ignore[assignment]


class WriterTurn:
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


class Job:
    """One ``record`` call's events, waiting for (or being) the commit that stores them."""

    __slots__ = ("events", "work", "receipts", "error", "done", "lead", "next", "queued_at")

    def __init__(self, events: Sequence[Event], work: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self.events = events
        self.work = work  # instead of events: a transaction of its own in the writer's turn (exclusive())
        self.queued_at = time.monotonic()  # its wait for a commit counts from here
        self.receipts: list[Receipt] = []
        self.error: BaseException | None = None
        self.lead = False  # this job's thread commits the next batch
        self.done = threading.Lock()  # held until released (by a leader, or the job before): cheaper than an Event
        self.done.acquire()
        self.next: Job | None = None  # the job of the same batch that this job's thread wakes

    def all_stored(self) -> None:
        """Receipts for a job of events without email, every one stored anew."""
        self.receipts = [Receipt(e.uuid, e.external_id, sends_identify(e, None)) for e in self.events]


class Writer(EventWrites):
    """One process's write side: the write connection, the queue, and whether a thread leads.

    :param store: the store whose file it writes, and whose knobs it follows
        (``busy_timeout``, ``max_batch``, ``max_registered``, ``checkpoint_every``, ``clock``).

    No request waits much longer than ``busy_timeout`` in all: a batch's deadline is its oldest
    job's arrival plus ``busy_timeout``, whatever it spent waiting for its turn; past it the
    batch gets a 503 (nothing stored). The turn itself is held only by leaders of other
    processes, each of which gives up by its own deadline.
    """

    busy_step = 0.05  # seconds SQLite's busy handler waits within one attempt

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.clock = store.clock
        self.pid = os.getpid()
        # SQLite's own busy wait in short steps: the deadline is the oldest job's (commit_with_retries).
        self.conn = connect(store.path, min(store.busy_timeout, self.busy_step))
        self.conn.execute("PRAGMA wal_autocheckpoint=0")  # the leader checkpoints in its turn
        self.turn = WriterTurn(store.path)
        self.registered = RegistryCache(store.max_registered)
        self.lock = threading.Lock()  # guards pending and leading
        self.pending: deque[Job] = deque()
        self.leading = False  # a thread is committing (or about to): the others queue and wait
        self.commits = 0
        getlimit = getattr(self.conn, "getlimit", None)  # Python 3.11+; 999 was SQLite's limit before 3.32
        variables = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit else 999
        self.max_rows = variables // _ROW_PARAMETERS  # most events in one INSERT statement
        self.index = VisitorIndexer(self, store.visitor_index_every)
        self.index.unindexed = int(self.conn.execute(f"SELECT COALESCE(max(id), 0) - {MARK} FROM events").fetchone()[0])

    def close(self) -> None:
        self.index.close()
        self.conn.close()
        self.turn.close()

    def record(self, events: Sequence[Event]) -> list[Receipt]:
        """Store ``events`` in the next group commit; returns once it is on disk."""
        receipts = self._queue(Job(events))
        self.index.written(len(events))
        return receipts

    def exclusive(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``work`` on the write connection in one transaction of its own, in its turn among
        the commits (as a batch of its own, no request's events in it); returns once committed.
        The visitor index's bulk steps (storage/visitor_index.py) go through here."""
        self._queue(Job((), work))

    def _queue(self, job: Job) -> list[Receipt]:
        with self.lock:
            self.pending.append(job)
            lead = job.lead = not self.leading
            self.leading = True
        if not lead:
            job.done.acquire()  # released once our job is committed (or we are made the leader)
            if job.next is not None:
                job.next.done.release()  # wake the next of our batch: one at a time, not all at once
        if job.lead:
            self.lead(job)
        if job.error is not None:
            raise job.error
        return job.receipts

    def lead(self, own: Job) -> None:
        """Commit what is queued (our own job first) in one transaction, then pass the lead on.

        The leader is a request thread: no writer thread to hand events to, no extra
        thread switch for its own request. Requests that arrive while it waits for its
        turn or commits queue up and form the next batch, whose first job leads it.
        """
        batch: list[Job] = []
        try:
            with self.turn:  # the batch is taken once it is our turn: what arrived meanwhile joins it
                with self.lock:
                    pending, count = self.pending, 0
                    if own.work is not None:  # a batch of its own
                        batch.append(pending.popleft())
                    while own.work is None and pending and count < self.store.max_batch and pending[0].work is None:
                        job = pending.popleft()
                        batch.append(job)
                        count += len(job.events)
                started = time.perf_counter()
                self.commit_with_retries(batch)
                seconds = time.perf_counter() - started
                waiting = batch[1:]  # batch[0] is the leader's own job
                for job, following in zip(waiting, waiting[1:]):
                    job.next = following
                if waiting:
                    waiting[0].done.release()
                observer = self.store.commit_observer
                if observer is not None and own.work is None:
                    observer.committed([r for job in batch if job.error is None for r in job.receipts], seconds)
                self.commits += 1
                if self.commits % self.store.checkpoint_every == 0:
                    self.checkpoint()
        finally:
            # Only once the turn is released: an flock belongs to the process, not the thread.
            with self.lock:
                if self.pending and self.pending[0] is own:  # failed before taking the batch
                    self.pending.popleft()
                    own.error = StorageUnavailable("the store could not take its turn to write")
                successor = self.pending[0] if self.pending else None
                if successor is None:
                    self.leading = False
                else:
                    successor.lead = True
            if successor is not None:
                successor.done.release()

    def checkpoint(self) -> None:
        """In our turn, after a commit whose requests are already answered, and with no other
        writer appending meanwhile: so it completes, and the next commit starts the WAL afresh
        (a checkpoint beside the commits of other processes never catches up, and the WAL
        grows without end)."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError:
            pass  # another process's checkpoint is running: the next one catches up

    def commit_with_retries(self, jobs: list[Job]) -> None:
        """Commit ``jobs`` in one transaction, retrying a busy or locked database until the oldest
        job has waited ``busy_timeout`` (a first attempt is made whatever the time)."""
        conn, work = self.conn, jobs[0].work
        deadline = jobs[0].queued_at + self.store.busy_timeout  # jobs are taken in the order they queued
        while True:
            try:
                if work is not None:  # exclusive(): a batch of its own, its work in one transaction
                    conn.execute("BEGIN IMMEDIATE")
                    work(conn)
                    conn.execute("COMMIT")
                elif not self.write_as_one_statement(jobs):
                    self.write_in_transaction(jobs)
                return
            except sqlite3.OperationalError as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if time.monotonic() < deadline and ("locked" in str(error) or "busy" in str(error)):
                    time.sleep(0.001)
                    continue
                failure: BaseException = StorageUnavailable(str(error))
            except BaseException as error:  # a bug must fail its requests, not leave them waiting
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                failure = error
            for job in jobs:
                job.receipts, job.error = [], failure
            return
