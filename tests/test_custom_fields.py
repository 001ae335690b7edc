"""IdentifyProperties: which custom fields an identify writes, by the rules of octeth_tracking/fields.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import API, codes, make_account
from octeth_tracking import create_app
from octeth_tracking.fields import CustomField

FIRST_NAME, PLAN, CUSTOMER = 733, 734, 735


@pytest.fixture
def fields(store, account):
    """alice's list: First-Name (733), Plan (734, no alias), Customer-ID (735, the unique identifier)."""
    store.create_custom_field(account.list_id, "First name", "First-Name", field_id=FIRST_NAME)
    store.create_custom_field(account.list_id, "Plan", field_id=PLAN)
    store.create_custom_field(account.list_id, "Customer ID", "Customer-ID", unique_identifier=True, field_id=CUSTOMER)
    return account


def identify(api: API, account, email="jane@example.com", **body: Any):
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "identify", "Email": email, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stored(store, list_id) -> dict[str, dict[int, str]]:
    return {s.email: s.fields for s in store.subscribers(list_id)}


@pytest.mark.parametrize("given, written", [
    pytest.param({"First-Name": "Jane"}, {FIRST_NAME: "Jane"}, id="alias"),
    pytest.param({"first-name": "Jane"}, {FIRST_NAME: "Jane"}, id="alias-in-another-case"),
    pytest.param({"CustomField734": "Gold"}, {PLAN: "Gold"}, id="customfield-id"),
    pytest.param({"customfield734": "Gold"}, {PLAN: "Gold"}, id="customfield-id-lower-case"),
    pytest.param({"CustomField733": "Janet", "First-Name": "Jane"}, {FIRST_NAME: "Jane"}, id="alias-wins-after"),
    pytest.param({"First-Name": "Jane", "CustomField733": "Janet"}, {FIRST_NAME: "Jane"}, id="alias-wins-before"),
    pytest.param({"First-Name": "Jane", "FIRST-NAME": "Joan"}, {FIRST_NAME: "Joan"}, id="last-of-one-key-in-two-cases"),
    pytest.param({"CustomField0734": "Gold", "CustomField 734": "x", "Plan": "x", "CustomField": "x"}, {},
                 id="near-misses-name-nothing"),
    pytest.param({"CustomField736": "x"}, {}, id="no-such-field"),
    pytest.param({"CustomField734": 3, "First-Name": 2.5}, {PLAN: "3", FIRST_NAME: "2.5"}, id="numbers-as-json-writes-them"),
    pytest.param({"CustomField734": True, "First-Name": None}, {PLAN: "true", FIRST_NAME: ""}, id="boolean-and-null"),
    pytest.param({"First-Name": "\u00e9\x00 \n"}, {FIRST_NAME: "\u00e9\x00 \n"}, id="text-as-sent"),
])
def test_identify_properties_name_fields_by_alias_or_customfield_id(api, store, fields, given, written):
    identify(api, fields, IdentifyProperties=given)
    assert stored(store, fields.list_id) == {"jane@example.com": written}


def test_the_same_on_create_and_on_update(api, store, fields):
    # Octeth 5.9.3 fixed CustomField<ID> storing an empty value on create: the creating identify stores it.
    identify(api, fields, IdentifyProperties={"CustomField734": "Gold", "First-Name": "Jane"})
    assert stored(store, fields.list_id) == {"jane@example.com": {FIRST_NAME: "Jane", PLAN: "Gold"}}
    identify(api, fields, IdentifyProperties={"CustomField734": "Platinum"})
    assert stored(store, fields.list_id) == {"jane@example.com": {FIRST_NAME: "Jane", PLAN: "Platinum"}}


def test_unmatched_keys_are_dropped_and_logged_at_debug_by_name_only(api, store, fields, caplog):
    with caplog.at_level(logging.DEBUG, logger="octeth_tracking"):
        identify(api, fields, IdentifyProperties={"Nickname": "secret-value", "First-Name": "Jane"})
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and "IdentifyProperties" in r.getMessage()]
    assert lines == [f"list {fields.list_id}: IdentifyProperties 'Nickname' name no custom field of the list: dropped"]
    assert "secret-value" not in caplog.text
    assert stored(store, fields.list_id) == {"jane@example.com": {FIRST_NAME: "Jane"}}


def test_only_the_callers_lists_fields_match(api, store, fields):
    bob = make_account(store, "bob")
    bobs = store.create_custom_field(bob.list_id, "Bob's", "Nickname")
    identify(api, fields, IdentifyProperties={f"CustomField{bobs}": "x", "Nickname": "y"})
    assert stored(store, fields.list_id) == {"jane@example.com": {}}
    assert stored(store, bob.list_id) == {}


@pytest.mark.parametrize("body, written", [
    pytest.param({"ID": "cust-42"}, {CUSTOMER: "cust-42"}, id="from-id"),
    pytest.param({"ID": 42}, {CUSTOMER: "42"}, id="from-integer-id"),
    pytest.param({"ID": "cust-42", "IdentifyProperties": {"Customer-ID": "other", "CustomField735": "x"}},
                 {CUSTOMER: "cust-42"}, id="after-identify-properties"),
    pytest.param({"IdentifyProperties": {"Customer-ID": "c-1"}}, {CUSTOMER: "c-1"}, id="no-id-no-overwrite"),
    pytest.param({"ID": ""}, {}, id="empty-id-is-none"),
    pytest.param({"ID": "a" * 64}, {}, id="an-email-hash-is-not-an-identifier"),
])
def test_the_unique_identifier_is_written_from_id_after_identify_properties(api, store, fields, body, written):
    identify(api, fields, **body)
    assert stored(store, fields.list_id) == {"jane@example.com": written}


def test_of_several_unique_identifier_fields_the_lowest_id_counts(api, store, fields):
    store.create_custom_field(fields.list_id, "Older ID", unique_identifier=True, field_id=700)
    identify(api, fields, ID="cust-42")
    assert stored(store, fields.list_id) == {"jane@example.com": {700: "cust-42"}}


@pytest.mark.parametrize("body", [
    pytest.param({"Event": "identify", "Properties": {"First-Name": "Jane", "CustomField734": "Gold"}},
                 id="properties-of-an-identify"),
    pytest.param({"Event": "pageView", "ID": "cust-1", "IdentifyProperties": {"First-Name": "Jane"}},
                 id="identify-properties-of-another-event"),
    pytest.param({"Event": "identify", "ID": "cust-1", "IdentifyProperties": {"First-Name": "Jane"},
                  "Properties": {"isTest": True}}, id="a-test-event"),
])
def test_nothing_else_writes_a_subscriber_field(api, store, fields, body):
    before = stored(store, fields.list_id)
    response = api.event({"APIKey": fields.api_key, "ListID": fields.list_id, "Email": "jane@example.com", **body})
    assert response.status_code == 200
    assert all(not values for values in stored(store, fields.list_id).values())
    if body.get("Properties", {}).get("isTest"):
        assert stored(store, fields.list_id) == before == {}


@pytest.mark.parametrize("value, options", [
    pytest.param([], {}, id="a-list"),
    pytest.param("Jane", {}, id="a-string"),
    pytest.param({"First-Name": {"nested": 1}}, {}, id="an-object-value"),
    pytest.param({"First-Name": ["a"]}, {}, id="a-list-value"),
    pytest.param({f"k{i}": 1 for i in range(201)}, {}, id="over-200-names"),
    pytest.param({"k" * 256: 1}, {}, id="name-over-255"),
    pytest.param({"k": "v" * 8193}, {}, id="value-over-8192"),
    pytest.param({"a": 1, "b": 2}, {"max_properties": 1}, id="configured-names"),
    pytest.param({"k": "v" * 11}, {"max_string_length": 10}, id="configured-value-length"),
])
def test_invalid_identify_properties_are_code_70_and_store_nothing(store, fields, make_api, value, options):
    response = make_api(**options).event({"APIKey": fields.api_key, "ListID": fields.list_id, "Event": "identify",
                                          "Email": "jane@example.com", "IdentifyProperties": value})
    assert (response.status_code, codes(response)) == (422, [70])
    assert store.count_events() == 0 and stored(store, fields.list_id) == {}


class SiteFields:
    """A host site's own fields (a FieldDirectory): the plug point, as a site would fill it."""

    def __init__(self, fields: list[CustomField]) -> None:
        self.fields = fields
        self.asked: list[int] = []

    def custom_fields(self, list_id: int) -> list[CustomField]:
        self.asked.append(list_id)
        return [f for f in self.fields if f.list_id == list_id]


def test_a_host_sites_own_fields_plug_in(store, account):
    site = SiteFields([CustomField(9001, account.list_id, "Name", "Name", unique_identifier=True)])
    api = API(create_app(store=store, custom_fields=site))
    store.create_custom_field(account.list_id, "ignored: the site's directory replaces the store's", "Plan")
    identify(api, account, ID="u-7", IdentifyProperties={"name": "Jane", "Plan": "x"})
    assert stored(store, account.list_id) == {"jane@example.com": {9001: "u-7"}}  # the ID after IdentifyProperties
    assert site.asked == [account.list_id]
    api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"})
    assert site.asked == [account.list_id]  # an event that identifies nobody reads no fields


def test_the_cli_creates_and_lists_fields_and_shows_subscribers(store, account, capsys):
    from octeth_tracking.cli import main

    db = ["--db", str(store.path)]
    assert main(["create-custom-field", "--list-id", str(account.list_id), "--name", "First name",
                 "--alias", "First-Name", "--id", "733", *db]) == 0
    assert main(["create-custom-field", "--list-id", str(account.list_id), "--name", "Customer ID",
                 "--unique-identifier", *db]) == 0
    assert main(["create-custom-field", "--list-id", str(account.list_id), "--name", "x", "--alias", "FIRST-NAME", *db]) == 1
    identify(API(create_app(store=store)), account, ID="c-9", IdentifyProperties={"First-Name": "Jane"})
    assert main(["custom-fields", "--list-id", str(account.list_id), *db]) == 0
    assert main(["subscribers", "--list-id", str(account.list_id), *db]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        '{"custom_field_id":733}', '{"custom_field_id":734}',
        f'{{"list_id":{account.list_id},"custom_fields":['
        '{"id":733,"name":"First name","alias":"First-Name","key":"CustomField733","unique_identifier":false},'
        '{"id":734,"name":"Customer ID","alias":null,"key":"CustomField734","unique_identifier":true}]}',
        f'{{"list_id":{account.list_id},"subscribers":[{{"id":1,"email":"jane@example.com",'
        '"fields":{"CustomField733":"Jane","CustomField734":"c-9"}}]}',
    ]
    assert err == f"octeth-tracking: list {account.list_id} has a field with the alias 'FIRST-NAME' already (aliases compare in any case)\n"
    with pytest.raises(SystemExit):
        main(["subscribers", "--list-id", "1", "--limit", "-1", *db])
    assert "-1 is below 0" in capsys.readouterr().err
