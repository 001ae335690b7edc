"""The storage contract for reading events back and erasing them: every store, unchanged."""

from __future__ import annotations

import threading
import uuid

import pytest

from octeth_tracking import Event
from octeth_tracking.storage import EventQuery
from octeth_tracking.storage.reads import InvalidCursor


def new_event(list_id, event="pageView", external_id="v1", email=None, properties=None, the_uuid=None):
    return Event(list_id=list_id, uuid=the_uuid or str(uuid.uuid4()), external_id=external_id,
                 event=event, email=email, properties=properties or {})


@pytest.fixture
def list_id(any_store):
    return any_store.create_list(any_store.create_user("u"), "l")


def read_all(store, query):
    """Every page of ``query``: the events in order, and how many pages it took."""
    events, pages = [], 0
    while True:
        page = store.read_events(query)
        events += page.events
        pages += 1
        if page.cursor is None:
            return events, pages
        query = EventQuery(**{**query.__dict__, "cursor": page.cursor})


@pytest.mark.parametrize("oldest_first", [pytest.param(False, id="newest-first"), pytest.param(True, id="oldest-first")])
def test_pages_hold_every_event_once_in_order(any_store, list_id, oldest_first):
    sent = []
    for batch in range(5):  # several commits, several events per commit: times tie within one
        events = [new_event(list_id, external_id=f"v{i % 3}", properties={"n": batch * 7 + i}) for i in range(7)]
        any_store.record(events)
        sent += events
    found, pages = read_all(any_store, EventQuery(list_id, limit=4, oldest_first=oldest_first))
    expected = [e.uuid for e in sent]
    assert [e.uuid for e in found] == (expected if oldest_first else expected[::-1])
    assert pages == 9  # 35 events, 4 a page: the last page is full-less and says so
    assert [e.occurred_at for e in found] == sorted((e.occurred_at for e in found), reverse=not oldest_first)


def test_an_exact_page_ends_without_a_cursor(any_store, list_id):
    any_store.record([new_event(list_id) for _ in range(4)])
    page = any_store.read_events(EventQuery(list_id, limit=4))
    assert len(page.events) == 4 and page.cursor is None
    assert any_store.read_events(EventQuery(list_id + 1000)).events == []


def test_paging_while_events_are_written_neither_repeats_nor_skips(any_store, list_id):
    before = [new_event(list_id, external_id=f"v{i % 5}") for i in range(300)]
    for start in range(0, 300, 50):
        any_store.record(before[start:start + 50])
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            any_store.record([new_event(list_id, external_id="writer") for _ in range(5)])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        found, _ = read_all(any_store, EventQuery(list_id, limit=7))
        visitor, _ = read_all(any_store, EventQuery(list_id, external_id="v2", limit=3))
    finally:
        stop.set()
        writer.join()
    uuids = [e.uuid for e in found]
    assert len(uuids) == len(set(uuids))  # nothing twice
    assert {e.uuid for e in before} <= set(uuids)  # nothing stored before the first page skipped
    assert [e.uuid for e in visitor] == [e.uuid for e in before if e.external_id == "v2"][::-1]


def test_a_stored_event_reads_back_exactly_as_sent(any_store, list_id):
    properties = {"url": "https://example.com/ü?q=1", "n": 12345678901234567890, "huge": -10**30, "x": 1.5, "ok": True,
                  "none": None, "nested": {"list": [1, "two", {"three": 3}]}, "emoji": "\U0001f600"}
    receipt, = any_store.record([new_event(list_id, "signup", external_id="ann-1", email="ann@example.com",
                                           properties=properties)])
    newest, older = any_store.read_events(EventQuery(list_id, event="signup")).events + [None]
    assert newest.uuid == receipt.uuid and newest.properties == properties
    assert (newest.event, newest.external_id, newest.email, newest.identify_sent) == ("signup", "ann-1", "ann@example.com", True)
    assert newest.occurred_at == newest.received_at > 0
    identify, = any_store.read_events(EventQuery(list_id, event="identify")).events
    assert identify.properties == properties and identify.email == "ann@example.com"


def test_names_postgresql_text_cannot_hold_are_read_and_filtered(any_store, list_id):
    any_store.record([new_event(list_id, "a\x00b", external_id="v\x00", properties={"k\x00": "v\x00"}),
                      new_event(list_id, "other", external_id="v")])
    found, = any_store.read_events(EventQuery(list_id, external_id="v\x00")).events
    assert (found.event, found.external_id, found.properties) == ("a\x00b", "v\x00", {"k\x00": "v\x00"})
    assert [e.external_id for e in any_store.read_events(EventQuery(list_id, event="a\x00b")).events] == ["v\x00"]
    assert any_store.forget(list_id, external_id="v\x00").events == 1
    assert [e.event for e in any_store.read_events(EventQuery(list_id)).events] == ["other"]


def test_a_subscribers_events_are_every_linked_visitors_past_links_included(any_store, list_id):
    any_store.record([new_event(list_id, "pageView", external_id="laptop")])  # before it was linked
    any_store.record([new_event(list_id, "identify", external_id="laptop", email="ann@example.com")])
    any_store.record([new_event(list_id, "identify", external_id="phone", email="ann@example.com")])
    any_store.record([new_event(list_id, "pageView", external_id="phone")])
    any_store.record([new_event(list_id, "identify", external_id="phone", email="bob@example.com")])  # moved on
    any_store.record([new_event(list_id, "pageView", external_id="stranger")])
    ann = any_store.read_events(EventQuery(list_id, email="ann@example.com")).events
    assert [(e.external_id, e.event) for e in ann] == [
        ("phone", "identify"), ("phone", "pageView"), ("phone", "identify"), ("laptop", "identify"), ("laptop", "pageView")]
    assert [e.email for e in ann] == ["bob@example.com", None, "ann@example.com", "ann@example.com", None]
    assert len(any_store.read_events(EventQuery(list_id, email="bob@example.com")).events) == 3  # phone's only
    paged, pages = read_all(any_store, EventQuery(list_id, email="ann@example.com", limit=2))
    assert [e.uuid for e in paged] == [e.uuid for e in ann] and pages == 3
    assert any_store.read_events(EventQuery(list_id, email="nobody@example.com")).events == []


def test_filters_by_event_and_time(any_store, list_id):
    clock = any_store.clock
    any_store.record([new_event(list_id, "a")])
    middle = clock()
    any_store.record([new_event(list_id, "b"), new_event(list_id, "a")])
    after = [e.event for e in any_store.read_events(EventQuery(list_id, since=middle)).events]
    before = [e.event for e in any_store.read_events(EventQuery(list_id, until=middle)).events]
    assert sorted(after) == ["a", "b"] and before == ["a"]
    assert [e.event for e in any_store.read_events(EventQuery(list_id, event="a", since=middle)).events] == ["a"]
    assert any_store.read_events(EventQuery(list_id, since=middle, until=middle)).events == []


def test_a_cursor_not_of_the_store_is_refused(any_store, list_id):
    with pytest.raises(InvalidCursor):
        any_store.read_events(EventQuery(list_id, cursor="bm90IGEgY3Vyc29y"))


def test_forgetting_a_visitor_removes_their_events_and_links_only(any_store, list_id):
    other = any_store.create_list(any_store.create_user("w"), "m")
    any_store.record([new_event(list_id, "identify", external_id="v1", email="ann@example.com"),
                      new_event(list_id, "pageView", external_id="v1", properties={"url": "/"}),
                      new_event(list_id, "pageView", external_id="v2"), new_event(other, external_id="v1")])
    erased = any_store.forget(list_id, external_id="v1")
    assert (erased.events, erased.links, erased.subscribers) == (2, 1, 0)
    assert any_store.subscriber_email(list_id, "v1") is None
    assert [s.email for s in any_store.subscribers(list_id)] == ["ann@example.com"]  # a visitor is not the subscriber
    assert [e.external_id for e in any_store.read_events(EventQuery(list_id)).events] == ["v2"]
    assert any_store.count_events(other) == 1
    assert any_store.properties(list_id) == {"identify": [], "pageView": ["url"]}  # the registry keeps its names
    assert any_store.forget(list_id, external_id="v1") == type(erased)()  # idempotent


def test_forgetting_a_subscriber_removes_every_visitor_they_had_and_the_subscriber(any_store, list_id):
    other = any_store.create_list(any_store.create_user("w"), "m")
    field = any_store.create_custom_field(list_id, "First name", "First-Name")
    any_store.record([
        Event(list_id, str(uuid.uuid4()), "laptop", "identify", "ann@example.com", {}, {field: "Ann"}),
        new_event(list_id, "pageView", external_id="laptop"),
        new_event(list_id, "signup", external_id="phone", email="ann@example.com"),  # and its identify
        new_event(list_id, "identify", external_id="bob-1", email="bob@example.com"),
        new_event(other, "identify", external_id="laptop", email="ann@example.com"),
    ])
    erased = any_store.forget(list_id, email="ann@example.com")
    assert (erased.events, erased.links, erased.subscribers) == (4, 2, 1)
    assert [s.email for s in any_store.subscribers(list_id)] == ["bob@example.com"]
    assert any_store.read_events(EventQuery(list_id, email="ann@example.com")).events == []
    assert [e.external_id for e in any_store.read_events(EventQuery(list_id)).events] == ["bob-1"]
    assert any_store.subscriber_email(list_id, "laptop") is None and any_store.subscriber_email(list_id, "phone") is None
    assert any_store.subscriber_email(other, "laptop") == "ann@example.com"  # another list keeps its own
    assert any_store.count_events(other) == 1
    assert any_store.forget(list_id, email="ann@example.com") == type(erased)()
    # Tracked again, the subscriber comes back anew, without the fields erased with them.
    any_store.record([new_event(list_id, "identify", external_id="laptop", email="ann@example.com")])
    assert [(s.email, s.fields) for s in any_store.subscribers(list_id)] == [("bob@example.com", {}), ("ann@example.com", {})]


def test_replaying_what_was_read_stores_nothing_twice(any_store, list_id):
    """An event that identifies its visitor is followed by an identify event of a uuid derived from
    its own: re-sending both (an export imported again) stores each once."""
    any_store.record([new_event(list_id, "signup", email="ann@example.com"), new_event(list_id)])
    stored, _ = read_all(any_store, EventQuery(list_id, oldest_first=True))
    assert [e.event for e in stored] == ["signup", "identify", "pageView"]
    replay = [Event(list_id, e.uuid, e.external_id, e.event, e.email, e.properties) for e in stored]
    receipts = any_store.record(replay)
    assert [r.duplicate for r in receipts] == [True, True, True]
    assert any_store.count_events(list_id) == 3


def test_a_visitors_events_in_every_list_are_read_without_a_list(any_store, list_id):
    # A micro server reads every list's events (list_id None), by visitor too (/micro/good?ID=).
    other = any_store.create_list(any_store.create_user("w"), "other")
    mine = [new_event(list_id, external_id="shared"), new_event(other, external_id="shared")]
    any_store.record(mine + [new_event(list_id, external_id="someone else")])
    found = any_store.read_events(EventQuery(None, external_id="shared", oldest_first=True)).events
    assert [(e.uuid, e.list_id) for e in found] == [(e.uuid, e.list_id) for e in mine]
