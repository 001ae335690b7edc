"""The storage contract for custom fields and subscribers' values: every store passes these (``any_store``)."""

from __future__ import annotations

import uuid

import pytest

from octeth_tracking import Event
from octeth_tracking.fields import CustomField, identifier_digest


def identify(list_id, email, fields, external_id="v1", the_uuid=None, event="identify"):
    return Event(list_id=list_id, uuid=the_uuid or str(uuid.uuid4()), external_id=external_id, event=event,
                 email=email, fields=fields)


@pytest.fixture
def list_id(any_store):
    return any_store.create_list(any_store.create_user("u"), "l")


def values(store, list_id):
    return {s.email: s.fields for s in store.subscribers(list_id)}


def test_fields_are_created_and_listed_by_id(any_store, list_id):
    first = any_store.create_custom_field(list_id, "First name", "First-Name")
    plan = any_store.create_custom_field(list_id, "Plan", field_id=734)
    after = any_store.create_custom_field(list_id, "Customer ID", unique_identifier=True)
    assert after > plan == 734 > first  # an id given is skipped by the store's own ids
    assert any_store.custom_fields(list_id) == [
        CustomField(first, list_id, "First name", "First-Name"), CustomField(734, list_id, "Plan"),
        CustomField(after, list_id, "Customer ID", None, True)]
    assert any_store.custom_fields(list_id + 1000) == []


@pytest.mark.parametrize("kwargs, error", [
    pytest.param({"list_id": 987654, "name": "x"}, LookupError, id="no-such-list"),
    pytest.param({"name": "x", "alias": "FIRST-name"}, ValueError, id="alias-taken-in-another-case"),
    pytest.param({"name": "x", "field_id": 5}, ValueError, id="id-taken"),
    pytest.param({"name": "x", "alias": "customField12"}, ValueError, id="alias-reads-as-customfield-id"),
    pytest.param({"name": " "}, ValueError, id="blank-name"),
    pytest.param({"name": "x", "alias": "a" * 256}, ValueError, id="alias-too-long"),
    pytest.param({"name": "x", "field_id": 0}, ValueError, id="id-0"),
    pytest.param({"name": "x", "field_id": 10**18}, ValueError, id="id-past-18-digits"),
])
def test_a_field_that_would_be_ambiguous_is_refused(any_store, list_id, kwargs, error):
    any_store.create_custom_field(list_id, "First name", "First-Name", field_id=5)
    with pytest.raises(error):
        any_store.create_custom_field(**{"list_id": list_id, **kwargs})
    assert len(any_store.custom_fields(list_id)) == 1


def test_the_same_alias_in_two_lists_is_two_fields(any_store, list_id):
    other = any_store.create_list(any_store.create_user("w"), "m")
    any_store.create_custom_field(list_id, "First name", "First-Name")
    any_store.create_custom_field(other, "First name", "First-Name")
    assert [f.list_id for f in any_store.custom_fields(other)] == [other]


def test_an_identify_writes_its_fields_on_create_and_on_update(any_store, list_id):
    # Octeth 5.9.3 fixed a CustomField<ID> that stored an empty value on create: here the first
    # identify of an email (which creates the subscriber) stores the value as given.
    any_store.record([identify(list_id, "ann@example.com", {734: "Gold", 12: "Ann"})])
    assert values(any_store, list_id) == {"ann@example.com": {12: "Ann", 734: "Gold"}}
    any_store.record([identify(list_id, "ann@example.com", {734: "Silver"})])
    assert values(any_store, list_id) == {"ann@example.com": {12: "Ann", 734: "Silver"}}


def test_fields_are_written_once_per_event_stored(any_store, list_id):
    first = identify(list_id, "ann@example.com", {1: "a"})
    any_store.record([first])
    any_store.record([identify(list_id, "ann@example.com", {1: "b"})])
    (receipt,) = any_store.record([first])  # a retry of the first: a duplicate, which writes nothing
    assert receipt.duplicate
    assert values(any_store, list_id) == {"ann@example.com": {1: "b"}}


def test_values_are_text_of_any_content(any_store, list_id):
    field = any_store.create_custom_field(list_id, "nul\x00name", "a\x00lias")
    odd = {field: "\x00", field + 1: "", field + 2: "\x01x", field + 3: "😀" * 300}
    any_store.record([identify(list_id, "ann@example.com", odd)])
    assert values(any_store, list_id) == {"ann@example.com": odd}
    assert any_store.custom_fields(list_id)[0] == CustomField(field, list_id, "nul\x00name", "a\x00lias")


def test_subscribers_page_by_id(any_store, list_id):
    any_store.record([identify(list_id, f"s{i}@example.com", {}, external_id=f"v{i}") for i in range(5)])
    page = any_store.subscribers(list_id, limit=2)
    rest = any_store.subscribers(list_id, after=page[-1].id, limit=10)
    assert [s.email for s in page + rest] == [f"s{i}@example.com" for i in range(5)]
    assert any_store.subscribers(list_id, after=rest[-1].id) == []


def test_a_value_digest_finds_its_subscriber_in_its_list_only(any_store, list_id):
    other = any_store.create_list(any_store.create_user("w"), "m")
    any_store.record([
        identify(list_id, "ann@example.com", {7: " Ann@Example.com\n"}),
        identify(list_id, "bob@example.com", {7: "bob@example.com", 8: "Ann@Example.com"}),
        identify(other, "ann@example.com", {7: "Ann@Example.com"}),
    ])
    found = any_store.subscribers_identified_by
    assert found(list_id, 7, identifier_digest("Ann@Example.com")) == ["ann@example.com"]  # trimmed, case kept
    assert found(list_id, 7, identifier_digest("ann@example.com")) == []
    assert found(other, 7, identifier_digest("Ann@Example.com")) == ["ann@example.com"]
    any_store.record([identify(list_id, "cat@example.com", {7: "Ann@Example.com"}, external_id="v2")])
    assert found(list_id, 7, identifier_digest("Ann@Example.com")) == ["ann@example.com", "cat@example.com"]


def test_an_identify_without_an_email_is_stored_but_sends_none(any_store, list_id):
    # An email hash that matched nobody: the event is kept, nobody is identified, before or on a retry.
    event = identify(list_id, None, {})
    (receipt,) = any_store.record([event])
    (again,) = any_store.record([event])
    assert (receipt.identify_event_sent, again.identify_event_sent, again.duplicate) == (False, False, True)
    assert any_store.count_events(list_id) == 1
    assert any_store.subscribers(list_id) == []
