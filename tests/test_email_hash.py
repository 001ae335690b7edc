"""Identify by email hash (an ID of 64 hex characters), and the Command parameter on the /api/v1 routes."""

from __future__ import annotations

import hashlib
import logging
import sqlite3

import pytest

from conftest import codes, make_account

KEY_FIELD = 40


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def ann(store, account, api):
    """alice's list with a unique-identifier field, and a subscriber Ann whose identifier is her email as she typed it."""
    store.create_custom_field(account.list_id, "Email key", "Email-Key", unique_identifier=True, field_id=KEY_FIELD)
    store.create_custom_field(account.list_id, "Plan", "Plan", field_id=41)
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "identify",
                          "Email": "ann@example.com", "ID": " Ann@Example.com\n"})
    assert response.status_code == 200
    return account


def send(api, account, **body):
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, **body})
    return response.status_code, response.get_json()


def footprint(store) -> tuple[int, ...]:
    db = sqlite3.connect(store.path)
    try:
        return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("subscribers", "visitor_links", "subscriber_fields"))
    finally:
        db.close()


@pytest.mark.parametrize("hashed", [
    pytest.param(sha("Ann@Example.com"), id="lower-case-hex"),
    pytest.param(sha("Ann@Example.com").upper(), id="upper-case-hex"),
])
def test_a_matching_hash_identifies_as_that_subscribers_email(api, store, ann, hashed):
    status, body = send(api, ann, Event="identify", ID=hashed, IdentifyProperties={"Plan": "Gold"})
    assert (status, body["external_id"], body["identify_event_sent"]) == (200, hashed, True)
    assert store.subscriber_email(ann.list_id, hashed) == "ann@example.com"  # the visitor is linked to Ann
    # Her fields: IdentifyProperties applied; the identifier the hash came from kept, not replaced by the hash.
    assert [s.fields for s in store.subscribers(ann.list_id)] == [{KEY_FIELD: " Ann@Example.com\n", 41: "Gold"}]


def test_a_matching_hash_on_another_event_links_as_an_email_would(api, store, ann):
    hashed = sha("Ann@Example.com")
    before = store.count_events(ann.list_id)
    assert send(api, ann, Event="pageView", ID=hashed)[1]["identify_event_sent"] is True
    assert store.count_events(ann.list_id) == before + 2  # the page view and its identify event
    assert send(api, ann, Event="pageView", ID=hashed)[1]["identify_event_sent"] is False  # linked now


@pytest.mark.parametrize("hashed, reason", [
    pytest.param(sha("ann@example.com"), "no subscriber's unique identifier matches", id="case-is-kept"),
    pytest.param(sha(" Ann@Example.com\n"), "no subscriber's unique identifier matches", id="trimmed-before-hashing"),
    pytest.param("0" * 64, "no subscriber's unique identifier matches", id="nobody"),
])
def test_no_match_identifies_nobody_and_logs_the_list_and_a_prefix(api, store, ann, hashed, reason, caplog):
    before = footprint(store), [s.fields for s in store.subscribers(ann.list_id)]
    with caplog.at_level(logging.INFO, logger="octeth_tracking"):
        status, body = send(api, ann, Event="identify", ID=hashed, IdentifyProperties={"Plan": "Gold"})
    assert (status, body["identify_event_sent"]) == (200, False)
    assert (footprint(store), [s.fields for s in store.subscribers(ann.list_id)]) == before
    assert store.subscriber_email(ann.list_id, hashed) is None
    (line,) = [r.getMessage() for r in caplog.records if r.name == "octeth_tracking"]
    assert line == f"list {ann.list_id}: ID {hashed[:8].lower()}... is an email hash that {reason}: nobody identified"
    assert hashed not in caplog.text


def test_a_hash_that_two_subscribers_identifiers_match_identifies_nobody(api, store, ann, caplog):
    send(api, ann, Event="identify", Email="other@example.com", ID="Ann@Example.com", UUID=None)
    with caplog.at_level(logging.INFO, logger="octeth_tracking"):
        assert send(api, ann, Event="identify", ID=sha("Ann@Example.com"))[1]["identify_event_sent"] is False
    assert "several subscribers' unique identifiers match" in caplog.text


def test_a_list_without_a_unique_identifier_field_matches_no_hash(api, store, account, caplog):
    api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "identify", "Email": "ann@example.com"})
    with caplog.at_level(logging.INFO, logger="octeth_tracking"):
        assert send(api, account, Event="identify", ID=sha("ann@example.com"))[1]["identify_event_sent"] is False
    assert "the list has no unique-identifier field" in caplog.text


def test_only_the_callers_list_is_searched(api, store, ann):
    bob = make_account(store, "bob")
    store.create_custom_field(bob.list_id, "Key", unique_identifier=True)
    api.event({"APIKey": bob.api_key, "ListID": bob.list_id, "Event": "identify", "Email": "b@example.com", "ID": "B@x"})
    assert send(api, ann, Event="identify", ID=sha("B@x"))[1]["identify_event_sent"] is False


@pytest.mark.parametrize("body, expected", [
    pytest.param({"Email": sha("ann@example.com")}, [7], id="an-email-holding-a-hash-is-invalid"),
    pytest.param({"ID": sha("x")[:63]}, [6], id="63-characters-are-no-hash"),
    pytest.param({"ID": sha("x") + "0"}, [6], id="65-characters-are-no-hash"),
    pytest.param({"ID": sha("x")[:63] + "g"}, [6], id="not-hex"),
    pytest.param({"ID": sha("x") + "\n"}, [6], id="a-final-newline"),
    pytest.param({"ID": int("9" * 64)}, [6], id="an-integer-is-no-hash"),
])
def test_an_identify_without_email_needs_a_hash(api, store, ann, body, expected):
    status, answer = send(api, ann, Event="identify", **body)
    assert (status, [error["Code"] for error in answer["Errors"]]) == (422, expected)


def test_with_an_email_the_email_identifies_and_a_hash_id_is_a_visitor_id(api, store, ann):
    hashed = sha("Ann@Example.com")
    status, body = send(api, ann, Event="identify", Email="bob@example.com", ID=hashed)
    assert (status, body["identify_event_sent"]) == (200, True)
    assert store.subscriber_email(ann.list_id, hashed) == "bob@example.com"


@pytest.mark.parametrize("path, command, expected", [
    pytest.param("/event", "event.track", 200, id="event-track"),
    pytest.param("/website_events.properties", "website_events.properties", 200, id="properties"),
    pytest.param("/event", "website_events.properties", 422, id="event-given-the-other-command"),
    pytest.param("/website_events.properties", "event.track", 422, id="properties-given-the-other-command"),
    pytest.param("/event", "Event.Track", 422, id="case-matters"),
    pytest.param("/event", "", 422, id="empty"),
    pytest.param("/event", 1, 422, id="not-a-string"),
    pytest.param("/event", None, 200, id="null-is-absent"),
])
def test_command_must_name_the_route_it_is_sent_to(api, store, account, path, command, expected):
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", "Command": command}
    response = api.post(path, body)
    assert response.status_code == expected
    if expected == 422:
        endpoint = "event.track" if path == "/event" else "website_events.properties"
        assert response.get_json() == {"Errors": [{"Code": 71, "Message": "Invalid Command parameter.",
                                                   "Detail": f'Command, if given, must be "{endpoint}" on this endpoint'}]}
    assert store.count_events() == (1 if expected == 200 and path == "/event" else 0)


def test_a_wrong_command_is_listed_with_the_bodys_other_codes(api, account):
    response = api.event({"APIKey": account.api_key, "ListID": "x", "Command": "nope"})
    assert codes(response) == [4, 5, 71]
