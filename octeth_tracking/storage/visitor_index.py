"""The SQLite store's visitor index, built in bulk off the commit path.

An index keyed by visitor costs the durable write one random page per event: a commit's
events each dirty a leaf no other event of the commit shares, and the WAL takes every such
page whole (``bench/index_cost.py``: at 200,000 events, half of ``Store.record``'s cost).
So the events table keeps only indexes that grow at one end, and a visitor's events are
found through ``visitor_index`` (list, visitor, time, event id), which a bulk step fills
from the *tail*: the events past ``visitor_index_mark``, the highest event id up to which
every event has its entry. The step finds where its chunks' key ranges end (SQLite sorts
the tail's keys, outside the write lock), then writes each range's entries in key order,
each chunk a transaction of its own in the writer's turn (so commits go on between
chunks): every leaf page it dirties takes many entries, and is written once per chunk
instead of once per commit. All of it runs inside SQLite, a statement a chunk: a step
that handled rows in Python took the GIL back once a row, and under request threads'
load it was starved (it fell behind, and requests took its steps).

The index's key begins with the event id's *period* (id >> 20: 1,048,576 events each), so
a step writes only into the pages of the newest period or two, however large the store
grows: the pages a step of 20,000 events dirties are those of one period's index, not of
the whole history's (measured at 10M events: 7 µs an event, against 10.6 for one index
over all periods and about 20 for the events table's own). A visitor's read seeks once
per period (ten at 10M events), each seek a few microseconds.

What holds, whatever crashes when:

- every event with ``id <= upto`` has its entry: the mark moves only in the transaction
  that writes the step's last chunk. Every event of the step's id range existed when it
  began (SQLite gives each new row the largest id plus one), so the chunks' key ranges
  cover them all; only an erasure lets SQLite give a lower id again, and it counts
  (``erasures``), so a step that saw one gives up;
- an entry is written from the event row in the same transaction (``INSERT ... SELECT``),
  so an event erased meanwhile gets none; an erasure removes its events' entries in its
  own transaction, and lowers the mark to the largest id left (SQLite gives the next row
  the largest id plus one: a new event must land past the mark). A step whose mark or
  erasure count changed meanwhile (another process's step, an erasure) gives up: its
  chunks were entries of existing events, never wrong;
- a read of a visitor's events takes the index's range and the tail's matching rows in
  one statement (one snapshot), without duplicates (a chunk may index events past the
  mark): a 200 is readable at once, as before, and nothing is read twice.

PostgreSQL keeps its visitor index on the events table: its write path is another matter.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

from .reads import _COLUMNS, _VISITORS_OF, TIME, EventQuery, SQLEventReads, Statement

if TYPE_CHECKING:
    from .group_commit import Writer

log = logging.getLogger("octeth_tracking")

MARK = "(SELECT upto FROM visitor_index_mark)"
PERIOD_BITS = 20  # an entry's period: its event id >> 20, so 1,048,576 events a period
# Every period an entry can be in (one snapshot with the statement that names them).
PERIODS = (f"(WITH RECURSIVE period(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM period"
           f" WHERE n < (SELECT COALESCE(max(id), 0) FROM events) >> {PERIOD_BITS}) SELECT n FROM period)")
_KEY = f"list_id, id >> {PERIOD_BITS}, external_id"  # an event's entry's key, but for its time and id
_ENTRIES = f"SELECT {_KEY}, occurred_at, id FROM events NOT INDEXED WHERE id > ? AND id <= ?"
# Every ``chunk``-th key of the tail's entries in key order, about: where each chunk's key range ends.
_BOUNDS = (f"SELECT list_id, period, external_id FROM (SELECT list_id, id >> {PERIOD_BITS} AS period, external_id,"
           f" row_number() OVER (ORDER BY {_KEY}) AS n FROM events NOT INDEXED WHERE id > ? AND id <= ?"
           " AND id % ? = 0 AND external_id IS NOT NULL) WHERE n % ? = 0")
_LAST_ID = "SELECT COALESCE(max(id), 0) FROM events"
# After an erasure, the largest id left bounds the mark (see the module's docstring), and a step under way gives up.
LOWER_MARK = f"UPDATE visitor_index_mark SET upto = min(upto, ({_LAST_ID})), erasures = erasures + 1"


def create_visitor_index(execute: Any) -> None:
    """Migration 8: the index and its mark, filled from the events already stored, in place of
    the events table's own visitor index."""
    execute("CREATE TABLE visitor_index (list INTEGER NOT NULL, period INTEGER NOT NULL, visitor TEXT NOT NULL,"
            " at REAL NOT NULL, event_id INTEGER NOT NULL, PRIMARY KEY (list, period, visitor, at, event_id)) WITHOUT ROWID")
    execute("CREATE TABLE visitor_index_mark (upto INTEGER NOT NULL)")
    execute(f"INSERT OR IGNORE INTO visitor_index SELECT list_id, id >> {PERIOD_BITS}, external_id, occurred_at, id"
            f" FROM events ORDER BY list_id, id >> {PERIOD_BITS}, external_id, occurred_at, id")
    execute(f"INSERT INTO visitor_index_mark {_LAST_ID}")
    execute("DROP INDEX events_list_visitor_occurred")


def count_erasures(execute: Any) -> None:
    """Migration 9: the mark counts erasures, so that a step sees one that happened during it."""
    execute("ALTER TABLE visitor_index_mark ADD COLUMN erasures INTEGER NOT NULL DEFAULT 0")


class _MarkMoved(Exception):
    """Another step (or an erasure) moved the mark since this step read it."""


class VisitorIndexer:
    """One process's bulk steps: a thread woken once ``every`` events were written since its last step.

    :param writer: the process's writer, whose turn each chunk takes (:meth:`Writer.exclusive`).
    :param every: events past the mark that start a step; what a visitor's read scans at most
        beyond it (85-300 ns an event, by its size), against what a step saves (more, the bigger it is).
    :param chunk: entries a chunk writes (about, split between visitors): how long a commit may
        wait behind one (a few µs each).
    :param most: most tail events one step takes (how long it runs); the rest wait for the next.
    """

    def __init__(self, writer: Writer, every: int, chunk: int = 5_000, most: int = 500_000) -> None:
        self.writer, self.every, self.chunk, self.most = writer, every, chunk, most
        self.unindexed = 0  # events written since the last step, as this process counts them
        self.wake = threading.Event()
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.steps = 0  # steps completed by this process (for tests and benchmarks)
        self.stepping = threading.Lock()  # one step at a time in a process
        self.lag = 3  # times every: past it the writing thread steps itself
        self.sample = 16  # one tail event in 16 (by id) places the chunks' bounds: sorting them all cost a step a third more

    def written(self, count: int) -> None:
        """Count ``count`` events just committed; start a step past ``every``. Past ``lag`` times
        ``every`` (the thread starved of the GIL by writing threads), the writing thread steps
        itself: the tail a visitor's read scans stays bounded."""
        self.unindexed += count
        if self.unindexed >= self.lag * self.every and not self.stepping.locked():
            self.step()
        elif self.unindexed >= self.every and not self.wake.is_set():
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="octeth-visitor-index", daemon=True)
                self.thread.start()
            self.wake.set()

    def close(self) -> None:
        self.stopping = True
        self.wake.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=self.writer.store.busy_timeout + 1)

    def _run(self) -> None:
        while True:
            self.wake.wait()
            if self.stopping:
                return
            try:
                self.step()
            except Exception:  # the tail stays readable; the next step takes it
                log.warning("the visitor index step failed; the next one retries", exc_info=True)
            self.wake.clear()

    def step(self) -> bool:
        """Index the tail, up to ``most`` events of it; whether the mark moved to its end."""
        with self.stepping:
            return self._step()

    def _step(self) -> bool:
        store = self.writer.store
        with store._reading() as conn:
            seen = conn.execute("SELECT upto, erasures FROM visitor_index_mark").fetchone()
            last = int(conn.execute(_LAST_ID).fetchone()[0])
            mark = int(seen[0])
            target = int(conn.execute("SELECT COALESCE(max(id), 0) FROM (SELECT id FROM events WHERE id > ? ORDER BY id"
                                      " LIMIT ?)", (mark, self.most)).fetchone()[0])  # the most-th event past the mark
            if target <= mark:
                self.unindexed = 0
                return False
            # The sort is SQLite's, and so is every chunk's work: the step holds the GIL for a few
            # calls a chunk, never once a row (a thread that did was starved by the request threads).
            bounds = list(dict.fromkeys(conn.execute(_BOUNDS, (mark, target, self.sample, max(1, self.chunk // self.sample))).fetchall()))
        self.unindexed = self.every if target < last else 0  # more left: the next commit wakes the next step
        edges: list[tuple[Any, ...] | None] = [None, *bounds, None]
        ranges = list(zip(edges, edges[1:]))

        def write(conn: sqlite3.Connection, low: tuple[Any, ...] | None, high: tuple[Any, ...] | None, final: bool) -> None:
            if conn.execute("SELECT upto, erasures FROM visitor_index_mark").fetchone() != seen:
                raise _MarkMoved
            # Every event of (mark, target] existed when the step began (ids grow; only an erasure
            # lets SQLite give one again, and it counts): each chunk indexes those of its key range.
            sql = ("INSERT OR IGNORE INTO visitor_index (list, period, visitor, at, event_id) " + _ENTRIES
                   + (f" AND ({_KEY}) > (?, ?, ?)" if low else "") + (f" AND ({_KEY}) <= (?, ?, ?)" if high else "")
                   + f" ORDER BY {_KEY}, occurred_at, id")
            conn.execute(sql, (mark, target, *(low or ()), *(high or ())))
            if final:
                conn.execute("UPDATE visitor_index_mark SET upto = ?", (target,))

        try:
            for number, (low, high) in enumerate(ranges):
                if self.stopping:
                    return False
                self.writer.exclusive(functools.partial(write, low=low, high=high, final=number == len(ranges) - 1))
        except _MarkMoved:
            return False
        self.steps += 1
        return True


class VisitorIndexReads(SQLEventReads):
    """The SQLite store's reads and erasures of a visitor's events, through the index and the tail
    (overriding :class:`~octeth_tracking.storage.reads.SQLEventReads`' direct ones)."""

    def _visitor_sql(self, query: EventQuery) -> tuple[str, list[Any], list[Any]]:
        """One visitor's page: the index's range, and the tail's matching rows, in one statement."""
        order = "ASC" if query.oldest_first else "DESC"
        indexed, indexed_params = self._filters(query, time="at", row_id="event_id")
        tail, tail_params = self._filters(query)
        joined = _COLUMNS.replace("id, uuid", "events.id, uuid", 1)
        entries = (f"visitor_index WHERE list = ? AND period IN {PERIODS} AND visitor = ?"
                   f"{''.join(' AND ' + term for term in indexed)}")
        if query.event is None:  # the page's entries first, then only their events' rows
            index_arm = (f"SELECT {joined} FROM (SELECT list, visitor, at, event_id FROM {entries}"
                         f" ORDER BY at {order}, event_id {order} LIMIT ?) JOIN events ON events.id = event_id"
                         f" WHERE list_id = list AND external_id = visitor")
        else:  # the event's name is in its row: each entry's row is read until the page is full
            index_arm = (f"SELECT {joined} FROM {entries.replace(' WHERE ', ' JOIN events ON events.id = event_id WHERE ', 1)}"
                         f" AND list_id = list AND external_id = visitor ORDER BY at {order}, event_id {order} LIMIT ?")
        sql = (f"SELECT * FROM ({index_arm})"
               f" UNION SELECT * FROM (SELECT {_COLUMNS} FROM events NOT INDEXED WHERE id > {MARK}"
               f" AND list_id = ? AND external_id = ?{''.join(' AND ' + term for term in tail)}"
               f" ORDER BY {TIME} {order}, id {order} LIMIT ?) ORDER BY 8 {order}, 1 {order} LIMIT ?")
        return sql, indexed_params, tail_params

    def _visitor_rows(self, query: EventQuery, visitor: str) -> list[tuple[Any, ...]]:
        sql, indexed, tail = self._visitor_sql(query)
        limit = query.limit + 1
        return self._read_rows(sql, (query.list_id, visitor, *indexed, limit, query.list_id, visitor, *tail, limit, limit))

    def _visitor_erasure(self, list_id: int, external_id: str) -> tuple[list[Statement], list[Statement]]:
        visitor = (list_id, external_id)
        return [
            (f"DELETE FROM events NOT INDEXED WHERE id IN (SELECT event_id FROM visitor_index WHERE list = ?"
             f" AND period IN {PERIODS} AND visitor = ?)"
             " AND list_id = ? AND external_id = ?", visitor * 2),
            (f"DELETE FROM events NOT INDEXED WHERE id > {MARK} AND list_id = ? AND external_id = ?", visitor),
        ], [(f"DELETE FROM visitor_index WHERE list = ? AND period IN {PERIODS} AND visitor = ?", visitor), (LOWER_MARK, ())]

    def _subscriber_erasure(self, list_id: int, email: str) -> tuple[list[Statement], list[Statement]]:
        # Every linked visitor's events go: so do all their entries. An event carrying the email
        # under another visitor (none is stored so, but it is what the erasure selects) takes its own.
        return [
            (f"DELETE FROM visitor_index WHERE list = ? AND period IN {PERIODS} AND visitor IN ({_VISITORS_OF})",
             (list_id, list_id, list_id, email)),
            (f"DELETE FROM visitor_index WHERE list = ? AND period IN {PERIODS} AND visitor IN (SELECT external_id FROM events WHERE list_id = ?"
             f" AND email = ?) AND event_id IN (SELECT id FROM events WHERE list_id = ? AND email = ?)",
             (list_id, list_id, email, list_id, email)),
        ], [(LOWER_MARK, ())]
