"""The storage contract: every Store implementation passes these, unchanged (see STORE_BACKENDS)."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest

from octeth_tracking import Event


def new_event(list_id, event="pageView", external_id="v1", email=None, properties=None, the_uuid=None):
    return Event(list_id=list_id, uuid=the_uuid or str(uuid.uuid4()), external_id=external_id,
                 event=event, email=email, properties=properties or {})


@pytest.fixture
def list_id(any_store):
    user = any_store.create_user("u")
    return any_store.create_list(user, "l")


def test_record_returns_a_receipt_per_event_in_order(any_store, list_id):
    events = [new_event(list_id, external_id=f"v{i}") for i in range(5)]
    receipts = any_store.record(events)
    assert [(r.uuid, r.external_id, r.duplicate) for r in receipts] == [(e.uuid, e.external_id, False) for e in events]
    assert any_store.count_events(list_id) == 5
    assert any_store.count_events() == 5


def test_duplicate_uuid_is_stored_once_even_within_one_batch(any_store, list_id):
    event = new_event(list_id, email="a@example.com")
    first, second = any_store.record([event, event])
    third, = any_store.record([event])
    assert (first.duplicate, second.duplicate, third.duplicate) == (False, True, True)
    assert first.identify_event_sent and second.identify_event_sent and third.identify_event_sent
    assert any_store.count_events(list_id) == 2  # the event and its identify event


def test_same_uuid_in_two_lists_is_two_events(any_store, list_id):
    other = any_store.create_list(any_store.create_user("w"), "m")
    the_uuid = str(uuid.uuid4())
    receipts = any_store.record([new_event(list_id, the_uuid=the_uuid), new_event(other, the_uuid=the_uuid)])
    assert [r.duplicate for r in receipts] == [False, False]
    assert any_store.count_events(list_id) == any_store.count_events(other) == 1


def test_registry_collects_names_per_event_and_list(any_store, list_id):
    other = any_store.create_list(any_store.create_user("w"), "m")
    any_store.record([
        new_event(list_id, "pageView", properties={"url": 1, "$b": 2}),
        new_event(list_id, "pageView", properties={"url": 3, "Z": 4}),
        new_event(list_id, "signup"),
        new_event(other, "pageView", properties={"elsewhere": 1}),
    ])
    assert any_store.properties(list_id) == {"pageView": ["$b", "Z", "url"], "signup": []}
    assert any_store.properties(other) == {"pageView": ["elsewhere"]}
    assert any_store.properties(424242) == {}


def test_identify_links_and_moves(any_store, list_id):
    assert any_store.subscriber_email(list_id, "v1") is None
    r, = any_store.record([new_event(list_id, "identify", email="a@example.com")])
    assert r.identify_event_sent
    assert any_store.subscriber_email(list_id, "v1") == "a@example.com"
    r, = any_store.record([new_event(list_id, "click", email="a@example.com")])
    assert not r.identify_event_sent
    r, = any_store.record([new_event(list_id, "click", email="b@example.com", properties={"k": 1})])
    assert r.identify_event_sent
    assert any_store.subscriber_email(list_id, "v1") == "b@example.com"
    assert any_store.properties(list_id) == {"click": ["k"], "identify": ["k"]}
    assert any_store.count_events(list_id) == 4  # identify, click, click, identify
    assert any_store.subscriber_email(list_id, "never-seen") is None


def test_identify_in_one_batch_sees_the_earlier_link(any_store, list_id):
    receipts = any_store.record([new_event(list_id, email="a@example.com"), new_event(list_id, email="a@example.com")])
    assert [r.identify_event_sent for r in receipts] == [True, False]


def test_properties_and_values_round_trip(any_store, list_id):
    names = ['"); DROP TABLE events;--', "$__proto__", "\u0000", "n" * 10_000, "ключ", "💥", "a'b"]
    any_store.record([new_event(list_id, "e'); --", properties={n: {"nested": [n, None, 1.5]} for n in names})])
    assert any_store.properties(list_id) == {"e'); --": sorted(names)}


# 255 characters (the schemas' limit) outside the BMP around a U+0000: PostgreSQL text cannot
# hold the NUL, and the escaped form of such a name must still fit its indexes, paired.
_rng = random.Random(1)
LONGEST_NAMES = [
    pytest.param("".join(chr(0x10000 + (i * 7919) % 0xF0000) for i in range(254)) + "\x00", id="astral-then-nul"),
    pytest.param("\x00" + "".join(chr(0x1F300 + (i * 31) % 0x300) for i in range(254)), id="nul-then-emoji"),
    pytest.param("\x01" + "\x00\x01" * 127, id="escape-chars"),
    pytest.param("\x01" + "".join(chr(0x10000 + i * 977) for i in range(107)) + "\x00", id="ascii-form-at-its-limit"),
    # Past the ASCII form's limit, in a form that does not compress (6 bytes a character there).
    pytest.param("\x00" + "".join(chr(_rng.randrange(0x4E00, 0x9FA6)) for _ in range(254)), id="nul-then-cjk"),
    # The longest UTF-8 JSON forms: a control character is 6 bytes there (\u001f).
    pytest.param("\x00" + "".join(chr(_rng.randrange(1, 32)) for _ in range(254)), id="controls"),
    pytest.param("\x00" + "".join(chr(_rng.randrange(1, 32)) if _rng.random() < 0.56 else chr(_rng.randrange(0x10000, 0x110000))
                                   for _ in range(254)), id="controls-and-astral"),
]


@pytest.mark.parametrize("name", LONGEST_NAMES)
def test_longest_names_with_nul_are_stored_and_read_back(any_store, list_id, name):
    other = "\x00" + name[-2::-1]  # as long, and different
    receipts = any_store.record([new_event(list_id, name, external_id=name, email="a@example.com",
                                           properties={name: 1, other: 2})])
    assert receipts[0].identify_event_sent and receipts[0].external_id == name
    assert any_store.properties(list_id) == {name: sorted([name, other]), "identify": sorted([name, other])}
    assert any_store.subscriber_email(list_id, name) == "a@example.com"
    again, = any_store.record([new_event(list_id, "click", external_id=name, email="a@example.com")])
    assert not again.identify_event_sent


def test_concurrent_writers_lose_nothing(any_store, list_id):
    uuids = [[str(uuid.uuid4()) for _ in range(25)] for _ in range(8)]

    def send(batch):
        for the_uuid in batch:
            any_store.record([new_event(list_id, the_uuid=the_uuid)])
            any_store.record([new_event(list_id, the_uuid=uuids[0][0])])  # and a racing duplicate

    threads = [threading.Thread(target=send, args=(batch,)) for batch in uuids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any_store.count_events(list_id) == 8 * 25


class TestAccounts:
    def test_users_lists_keys(self, any_store):
        assert any_store.count_users() == 0 and any_store.first_user_id() is None
        user = any_store.create_user("ann")
        assert any_store.first_user_id() == user != any_store.create_user("bob")
        key = any_store.create_api_key(user)
        second_key = any_store.create_api_key(user)
        assert key != second_key and len(key) >= 32
        assert any_store.user_for_api_key(key) == any_store.user_for_api_key(second_key) == user
        assert any_store.user_for_api_key("nope") is None
        list_id = any_store.create_list(user, "l")
        assert any_store.list_owner(list_id) == user
        assert any_store.list_owner(list_id + 1000) is None
        assert any_store.count_users() == 2 and any_store.first_user_id() == user

    def test_revoke(self, any_store):
        user = any_store.create_user("ann")
        key, other = any_store.create_api_key(user), any_store.create_api_key(user)
        assert any_store.revoke_api_key(key) is True
        assert any_store.user_for_api_key(key) is None
        assert any_store.user_for_api_key(other) == user
        assert any_store.revoke_api_key(key) is False
        assert any_store.revoke_api_key("never-issued") is False

    def test_sessions_expire(self, any_store):
        user = any_store.create_user("ann")
        live, dead = any_store.create_session(user, ttl=3600), any_store.create_session(user, ttl=-1)
        assert any_store.user_for_session(live) == user
        assert any_store.user_for_session(dead) is None
        assert any_store.user_for_session("nope") is None

    @pytest.mark.parametrize("create", [
        pytest.param(lambda s: s.create_list(999, "x"), id="list"),
        pytest.param(lambda s: s.create_api_key(999), id="api-key"),
        pytest.param(lambda s: s.create_session(999, 60), id="session"),
    ])
    def test_unknown_user_is_refused(self, any_store, create):
        with pytest.raises(LookupError):
            create(any_store)

    def test_revoke_session(self, any_store):
        user = any_store.create_user("ann")
        session, other, dead = (any_store.create_session(user, ttl=3600), any_store.create_session(user, ttl=3600),
                                any_store.create_session(user, ttl=-1))
        assert any_store.revoke_session(session) is True
        assert any_store.user_for_session(session) is None
        assert any_store.user_for_session(other) == user
        assert any_store.revoke_session(session) is False
        assert any_store.revoke_session(dead) is False  # expired already: nothing taken away
        assert any_store.revoke_session("never-issued") is False


def reopen(store):
    """Another store on the same database: what another process (or host) sees. A memory store
    has no other process: its own generation is what its readers see (closing it is a no-op here)."""
    if getattr(store, "memory", False):
        return type("SameStore", (), {"revocation_generation": store.revocation_generation, "close": lambda self: None})()
    return type(store)(store.url) if hasattr(store, "url") else type(store)(store.path)


def known_generation(store, timeout=10.0):
    """The generation once it can be known (PostgreSQL: once the listener of this process listens)."""
    deadline = time.monotonic() + timeout
    while (generation := store.revocation_generation()) is None:
        assert time.monotonic() < deadline, "the revocation generation stayed unknown"
        time.sleep(0.01)
    return generation


def moved_from(store, generation, timeout=10.0):
    deadline = time.monotonic() + timeout
    while store.revocation_generation() in (generation, None):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


@pytest.mark.parametrize("revoke", [
    pytest.param(lambda store, key, session: store.revoke_api_key(key), id="api-key"),
    pytest.param(lambda store, key, session: store.revoke_session(session), id="session"),
])
def test_a_revocation_moves_the_generation_that_every_store_on_the_database_reads(any_store, revoke):
    user = any_store.create_user("ann")
    key, session = any_store.create_api_key(user), any_store.create_session(user, ttl=3600)
    elsewhere = reopen(any_store)
    try:
        before = known_generation(elsewhere)
        mine = known_generation(any_store)
        any_store.create_api_key(user)  # giving access takes nothing away
        any_store.revoke_api_key("never-issued")  # nor does revoking nothing
        time.sleep(0.05)
        assert (elsewhere.revocation_generation(), any_store.revocation_generation()) == (before, mine)
        assert revoke(any_store, key, session) is True
        assert moved_from(elsewhere, before) and moved_from(any_store, mine)
    finally:
        elsewhere.close()

class TestTrackers:
    def test_create_find_list_and_revoke(self, any_store, list_id):
        other = any_store.create_list(any_store.create_user("w"), "m")
        tracker_id, key = any_store.create_tracker(list_id, ["https://Shop.Example:443/", "https://*.example.com"])
        server_id, server_key = any_store.create_tracker(other, [], server_side=True)
        assert key.startswith("otk_") and len(key) >= 32 and key != server_key
        found = any_store.tracker_for_key(key)
        assert (found.id, found.list_id, found.origins, found.server_side, found.revoked_at) == (
            tracker_id, list_id, ("https://*.example.com", "https://shop.example"), False, None)
        assert found.created_at.endswith("+00:00")
        assert any_store.tracker_for_key(server_key).server_side is True
        assert any_store.tracker_for_key("otk_never-issued") is None
        assert [t.id for t in any_store.trackers()] == [tracker_id, server_id]
        assert [t.id for t in any_store.trackers(list_id)] == [tracker_id]

        assert any_store.revoke_tracker(tracker_id) is True
        assert any_store.tracker_for_key(key) is None
        assert any_store.revoke_tracker(tracker_id) is False
        assert any_store.revoke_tracker(424242) is False
        listed, = any_store.trackers(list_id)
        assert listed.revoked_at is not None and listed.origins == found.origins  # revoked keys stay listed
        assert any_store.tracker_for_key(server_key) is not None

    @pytest.mark.parametrize("list_ok, origins, server_side, error", [
        pytest.param(False, ["https://example.com"], False, LookupError, id="no-such-list"),
        pytest.param(True, [], False, ValueError, id="neither-origin-nor-server"),
        pytest.param(True, ["example.com"], False, ValueError, id="not-an-origin"),
        pytest.param(True, ["https://example.com/shop"], False, ValueError, id="a-path"),
    ])
    def test_refused(self, any_store, list_id, list_ok, origins, server_side, error):
        with pytest.raises(error):
            any_store.create_tracker(list_id if list_ok else list_id + 1000, origins, server_side=server_side)
        assert any_store.trackers() == []


class TestJournal:
    def test_kept_newest_first_bounded_per_user_and_cleared(self, any_store):
        from octeth_tracking.storage import Rejection

        for n in range(4):
            any_store.journal_rejection("1", Rejection(float(n), "/event", 422, [{"Code": 5, "Message": "m"}], f'{{"n":{n}}}'), keep=3)
        any_store.journal_rejection("2", Rejection(9.0, "/x", 429, [{"Code": 25, "Message": "r"}], "{}"), keep=3)
        assert [r.body for r in any_store.rejections("1")] == ['{"n":3}', '{"n":2}', '{"n":1}']
        assert any_store.rejections("1", limit=1)[0] == Rejection(3.0, "/event", 422, [{"Code": 5, "Message": "m"}], '{"n":3}')
        assert [r.route for r in any_store.rejections(None)] == ["/x", "/event", "/event", "/event"]
        assert any_store.clear_rejections("2") == 1
        assert any_store.clear_rejections() == 3
        assert any_store.rejections(None) == []

    def test_delete_all_events_keeps_the_accounts(self, any_store):
        user = any_store.create_user("u")
        key = any_store.create_api_key(user, "a-fixed-key")
        list_id = any_store.create_list(user, "l")
        any_store.record([new_event(list_id, email="a@example.com", properties={"p": 1})])
        assert any_store.delete_all_events() == 2  # the event and its identify event
        assert (any_store.count_events(), any_store.properties(list_id)) == (0, {})
        assert any_store.subscriber_email(list_id, "v1") is None
        assert key == "a-fixed-key" and any_store.user_for_api_key(key) == user and any_store.list_owner(list_id) == user
