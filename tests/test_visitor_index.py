"""The SQLite store's visitor index, built in bulk off the commit path (storage/visitor_index.py).

What a user would notice if it broke: a visitor's (or subscriber's) events missing, repeated,
or out of order in ``website_events.list``, whether they are indexed yet or not; an erased
visitor still in the index; events written after an erasure or a reset never found again.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from octeth_tracking import SQLiteStore
from octeth_tracking.storage import Event, EventQuery
from octeth_tracking.storage.sqlite import MIGRATIONS, migrate
from test_storage_contract import new_event


def index_state(path: Path | str) -> tuple[int, int, int, int]:
    """(mark, events up to the mark without their entry, entries without their event, entries)."""
    with closing(sqlite3.connect(path, uri=str(path).startswith("file:"))) as conn:
        mark = conn.execute("SELECT upto FROM visitor_index_mark").fetchone()[0]
        missing = conn.execute(
            "SELECT count(*) FROM events e WHERE e.id <= ? AND NOT EXISTS (SELECT 1 FROM visitor_index v WHERE"
            " v.list = e.list_id AND v.period = e.id >> 20 AND v.visitor = e.external_id AND v.at = e.occurred_at AND v.event_id = e.id)",
            (mark,)).fetchone()[0]
        stale = conn.execute(
            "SELECT count(*) FROM visitor_index v WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = v.event_id"
            " AND e.list_id = v.list AND v.period = e.id >> 20 AND e.external_id = v.visitor AND e.occurred_at = v.at)").fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM visitor_index").fetchone()[0]
    return mark, missing, stale, entries


def sound(path: Path | str) -> int:
    """The index's invariants hold; its mark."""
    mark, missing, stale, _ = index_state(path)
    assert (missing, stale) == (0, 0)
    return mark


def every_page(store: SQLiteStore, **query) -> list[str]:
    """Every event the query selects, page by page (pages of 3): their UUIDs in order."""
    found, cursor = [], None
    while True:
        page = store.read_events(EventQuery(limit=3, cursor=cursor, **query))
        found += [event.uuid for event in page.events]
        if page.cursor is None:
            return found
        cursor = page.cursor


@pytest.fixture
def file_store(tmp_path):
    store = SQLiteStore(tmp_path / "index.db", visitor_index_every=10**9)  # steps only when a test asks
    yield store
    store.close()


def session_events(list_id: int, count: int, visitors: int = 4, start: float = 1_700_000_000.0) -> list[Event]:
    return [Event(list_id=list_id, uuid=f"00000000-0000-4000-8000-{n:012x}", external_id=f"visitor-{n % visitors}",
                  event="pageView" if n % 3 else "signup", properties={"n": n}, occurred_at=start + n)
            for n in range(count)]


def expected(events: list[Event], visitor: str, oldest_first: bool = False, event: str | None = None,
             since: float | None = None, until: float | None = None) -> list[str]:
    chosen = [e for e in events if e.external_id == visitor and (event is None or e.event == event)
              and (since is None or e.occurred_at >= since) and (until is None or e.occurred_at < until)]
    return [e.uuid for e in sorted(chosen, key=lambda e: e.occurred_at, reverse=not oldest_first)]


QUERIES = [
    pytest.param({}, id="newest-first"),
    pytest.param({"oldest_first": True}, id="oldest-first"),
    pytest.param({"event": "signup"}, id="one-event-name"),
    pytest.param({"since": 1_700_000_010.0, "until": 1_700_000_030.0}, id="a-time-range"),
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_visitors_events_read_the_same_before_during_and_after_a_step(file_store, query):
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    events = session_events(list_id, 40)
    file_store.record(events[:25])
    want = expected(events[:25], "visitor-1", **query)
    assert every_page(file_store, list_id=list_id, external_id="visitor-1", **query) == want  # all in the tail
    assert file_store._writer.index.step()
    assert sound(file_store.path) == 25
    file_store.record(events[25:])  # half indexed, half in the tail
    want = expected(events, "visitor-1", **query)
    assert every_page(file_store, list_id=list_id, external_id="visitor-1", **query) == want
    # A step that crashed after some chunks: entries past the mark, their events in the tail too.
    with closing(sqlite3.connect(file_store.path)) as conn:
        conn.execute("INSERT INTO visitor_index SELECT list_id, id >> 20, external_id, occurred_at, id FROM events WHERE id > 30")
        conn.commit()
    assert every_page(file_store, list_id=list_id, external_id="visitor-1", **query) == want  # none twice
    assert file_store._writer.index.step()
    assert sound(file_store.path) == 40
    assert every_page(file_store, list_id=list_id, external_id="visitor-1", **query) == want


def test_a_file_of_schema_7_gets_the_index_of_every_event_it_holds(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    from sqlite_utils import Database
    for migration in MIGRATIONS[:7]:
        migration(Database(conn))
    conn.execute("PRAGMA user_version = 7")
    conn.executemany("INSERT INTO events (list_id, uuid, external_id, event, properties, identify_sent, created_at,"
                     " occurred_at) VALUES (1, ?, ?, 'pageView', '{}', 0, ?, ?)",
                     [(f"u{n}", f"visitor-{n % 3}", 100.0 + n, 100.0 + n) for n in range(30)])
    conn.close()
    store = SQLiteStore(path)
    try:
        assert sound(path) == 30 and index_state(path)[3] == 30
        names = {name for (name,) in store._read_rows("SELECT name FROM sqlite_master WHERE tbl_name = 'events'", ())}
        assert "events_list_visitor_occurred" not in names  # the write no longer pays for it
        assert every_page(store, list_id=1, external_id="visitor-2") == [f"u{n}" for n in range(29, -1, -1) if n % 3 == 2]
    finally:
        store.close()
    assert migrate(sqlite3.connect(path, isolation_level=None)) == len(MIGRATIONS)


def test_steps_start_in_the_background_once_enough_events_are_written(tmp_path):
    store = SQLiteStore(tmp_path / "bg.db", visitor_index_every=50)
    try:
        list_id = store.create_list(store.create_user("u"), "l")
        events = session_events(list_id, 230, visitors=17)
        for start in range(0, 230, 10):
            store.record(events[start:start + 10])
        deadline = time.monotonic() + 10
        while index_state(store.path)[0] < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        mark = sound(store.path)
        assert 200 <= mark <= 230 and store._writer.index.steps >= 4
        assert every_page(store, list_id=list_id, external_id="visitor-5") == expected(events, "visitor-5")
    finally:
        store.close()


def test_a_step_in_small_chunks_indexes_every_event_once(file_store):
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    events = session_events(list_id, 300, visitors=41)
    file_store.record(events)
    file_store._writer.index.chunk, file_store._writer.index.sample = 7, 1  # 43 chunks, each its own transaction
    assert file_store._writer.index.step()
    assert sound(file_store.path) == 300 and index_state(file_store.path)[3] == 300


def test_erasing_the_newest_events_lowers_the_mark_so_later_events_are_found(file_store):
    # SQLite gives a new row the largest id plus one: after erasing the newest events, ids
    # below the old mark come again, and must not be taken for indexed ones.
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    file_store.record([new_event(list_id, external_id="old") for _ in range(5)])
    file_store.record([new_event(list_id, external_id="gone") for _ in range(5)])
    assert file_store._writer.index.step() and sound(file_store.path) == 10
    assert file_store.forget(list_id, external_id="gone").events == 5
    assert sound(file_store.path) == 5 and index_state(file_store.path)[3] == 5
    later = [new_event(list_id, external_id="new") for _ in range(3)]
    file_store.record(later)  # ids 6, 7, 8 again
    assert every_page(file_store, list_id=list_id, external_id="new") == [e.uuid for e in reversed(later)]
    assert every_page(file_store, list_id=list_id, external_id="gone") == []
    assert file_store._writer.index.step() and sound(file_store.path) == 8


def test_an_erasure_while_a_step_is_under_way_stops_it_and_the_next_step_indexes_the_rest(file_store, monkeypatch):
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    file_store.record([new_event(list_id, external_id=f"v{n % 2}") for n in range(10)])
    writer = file_store._writer
    exclusive = writer.exclusive

    def erase_first(work):  # the step has found its chunks; the erasure commits before the first
        monkeypatch.setattr(writer, "exclusive", exclusive)
        assert file_store.forget(list_id, external_id="v1").events == 5
        exclusive(work)

    monkeypatch.setattr(writer, "exclusive", erase_first)
    assert not writer.index.step()
    assert index_state(file_store.path)[3] == 0  # it gave up before writing an entry
    assert writer.index.step()
    assert sound(file_store.path) == 9 and index_state(file_store.path)[3] == 5  # none for an erased event (id 10 was one)
    assert every_page(file_store, list_id=list_id, external_id="v1") == []
    assert len(every_page(file_store, list_id=list_id, external_id="v0")) == 5


def test_events_given_the_ids_of_erased_ones_during_a_step_are_indexed(file_store, monkeypatch):
    """SQLite gives an erased newest event's id again: a step that had already passed that
    key range must not move the mark over the new event's missing entry."""
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    file_store.record(session_events(list_id, 20))
    writer = file_store._writer
    writer.index.chunk, writer.index.sample = 5, 1  # several chunks: the erasure and the new events fall between two
    exclusive, calls = writer.exclusive, []

    def erase_between(work):
        calls.append(work)
        if len(calls) == 2:  # after the first chunk: the newest events erased, new ones take their ids
            assert file_store.forget(list_id, external_id="visitor-3").events == 5
            file_store.record([new_event(list_id, external_id="visitor-0") for _ in range(3)])
        exclusive(work)

    monkeypatch.setattr(writer, "exclusive", erase_between)
    while writer.index.step() or file_store.count_events(list_id) > sound(file_store.path):
        pass
    assert sound(file_store.path) == 22 and index_state(file_store.path)[3] == 18  # ids 20-22 are the new ones
    assert len(every_page(file_store, list_id=list_id, external_id="visitor-0")) == 8


def test_a_step_gives_up_when_another_process_moved_the_mark(tmp_path):
    path = tmp_path / "two.db"
    first, second = SQLiteStore(path, visitor_index_every=10**9), SQLiteStore(path, visitor_index_every=10**9)
    try:
        list_id = first.create_list(first.create_user("u"), "l")
        first.record(session_events(list_id, 20))
        second.record([new_event(list_id)])
        exclusive = first._writer.exclusive

        def other_first(work):
            first._writer.exclusive = exclusive
            assert second._writer.index.step()  # the other process indexes the tail meanwhile
            exclusive(work)

        first._writer.exclusive = other_first
        assert not first._writer.index.step()
        assert sound(path) == 21
    finally:
        first.close()
        second.close()


def test_deleting_every_event_starts_the_index_afresh(file_store):
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    file_store.record([new_event(list_id) for _ in range(6)])
    assert file_store._writer.index.step() and sound(file_store.path) == 6
    assert file_store.delete_all_events() == 6
    assert index_state(file_store.path)[::3] == (0, 0)
    again = [new_event(list_id) for _ in range(2)]
    file_store.record(again)  # ids 1 and 2 again
    assert every_page(file_store, list_id=list_id, external_id="v1") == [e.uuid for e in reversed(again)]
    assert file_store._writer.index.step() and sound(file_store.path) == 2


def test_a_subscribers_erasure_takes_their_entries_and_no_one_elses(file_store):
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    file_store.record([new_event(list_id, external_id="a", email="ada@example.com", event="identify")])
    file_store.record([new_event(list_id, external_id="a") for _ in range(3)] + [new_event(list_id, external_id="b")])
    assert file_store._writer.index.step()
    file_store.record([new_event(list_id, external_id="a")])  # in the tail
    erased = file_store.forget(list_id, email="ada@example.com")
    assert erased.events == 5 and erased.subscribers == 1
    mark, missing, stale, entries = index_state(file_store.path)
    assert (missing, stale, entries) == (0, 0, 1)
    assert every_page(file_store, list_id=list_id, external_id="b") != []


def test_a_visitor_with_events_in_several_periods_reads_them_in_order(file_store):
    # The index's key begins with id >> 20; SQLite gives the next row the largest id plus one,
    # so one row at a later period's first id moves every later event there.
    list_id = file_store.create_list(file_store.create_user("u"), "l")
    first = session_events(list_id, 6, visitors=2)
    file_store.record(first)
    with closing(sqlite3.connect(file_store.path)) as conn:
        conn.execute("INSERT INTO events (id, list_id, uuid, external_id, event, properties, identify_sent, created_at,"
                     " occurred_at) VALUES (?, ?, 'far', 'someone', 'pageView', '{}', 0, 1, 1)", (3 << 20, list_id))
        conn.commit()
    later = session_events(list_id, 6, visitors=2, start=1_600_000_000.0)  # older times, later ids
    later = [Event(**{**e.__dict__, "uuid": e.uuid.replace("8000-", "9000-")}) for e in later]
    file_store.record(later)
    want = expected(first + later, "visitor-1")
    assert every_page(file_store, list_id=list_id, external_id="visitor-1") == want
    assert file_store._writer.index.step() and sound(file_store.path) == (3 << 20) + 6
    assert {period for (period,) in file_store._read_rows("SELECT DISTINCT period FROM visitor_index", ())} == {0, 3}
    assert every_page(file_store, list_id=list_id, external_id="visitor-1") == want
    assert file_store.forget(list_id, external_id="visitor-1").events == 6
    assert every_page(file_store, list_id=list_id, external_id="visitor-1") == [] and sound(file_store.path)


def test_a_writer_steps_itself_when_the_index_thread_falls_behind(tmp_path):
    # The thread can be starved of the GIL by writing threads; past 3 x visitor_index_every the
    # writing thread takes the step, so the tail every visitor read scans stays bounded.
    store = SQLiteStore(tmp_path / "lag.db", visitor_index_every=10)
    try:
        list_id = store.create_list(store.create_user("u"), "l")
        store.record([new_event(list_id)])
        store._writer.index.wake.set()  # as if a step were already asked of the thread: it never runs one
        for _ in range(10):
            store.record([new_event(list_id, external_id=f"v{n}") for n in range(10)])
            assert store._read_one("SELECT max(id) - upto FROM events, visitor_index_mark", ()) < 30
        assert store._writer.index.thread is None and sound(store.path) >= 71
    finally:
        store.close()
