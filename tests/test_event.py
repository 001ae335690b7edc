"""POST {mount}/event: the success shape, every row of the error table, and what is stored."""

from __future__ import annotations

import re
import uuid

import pytest

from conftest import REFERENCE, codes
from octeth_tracking.schemas import BodySchema

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_reference_example_request_gives_reference_response_shape(api, account, store):
    body = {**REFERENCE["event_example_request"], "APIKey": account.api_key, "ListID": account.list_id}
    response = api.event(body)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    answer = response.get_json()
    # Octeth's four names, in its order, then the stored time (the issue-16 addition).
    assert list(answer) == [*REFERENCE["event_success_response"], "occurred_at"]
    assert answer["status"] == "success"
    assert UUID7.match(answer["uuid"])  # the server names an event without a UUID by a time-ordered one
    assert answer["external_id"] == "user-id-2006"
    assert answer["identify_event_sent"] is True  # the email is new to this visitor
    # The event and the identify event it triggered are both stored.
    assert store.count_events(account.list_id) == 2
    assert store.subscriber_email(account.list_id, "user-id-2006") == "2006@test.com"


def valid(account, **changes):
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def nested(depth):
    """A Properties object ``depth`` levels deep: nested(1) is {"k": 0}."""
    value = 0
    for _ in range(depth):
        value = {"k": value}
    return value


CONVERSION = {"conversion-id": "my-order-234", "conversion-name": "purchase", "conversion-value": 290.50}


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param({"ListID": ...}, [4], id="listid-missing"),
        pytest.param({"ListID": True}, [4], id="listid-true"),
        pytest.param({"ListID": 3.5}, [4], id="listid-float"),
        pytest.param({"ListID": 0}, [4], id="listid-zero"),
        pytest.param({"ListID": -1}, [4], id="listid-negative"),
        pytest.param({"ListID": "abc"}, [4], id="listid-letters"),
        pytest.param({"ListID": "12a"}, [4], id="listid-mixed"),
        pytest.param({"ListID": "1\n"}, [4], id="listid-trailing-newline"),
        pytest.param({"ListID": [1]}, [4], id="listid-array"),
        pytest.param({"ListID": 10**30}, [4], id="listid-huge"),
        pytest.param({"ListID": "0" * 5000 + "1"}, [4], id="listid-5000-leading-zeros"),
        pytest.param({"ListID": 999}, [4], id="listid-unknown"),
        pytest.param({"Event": ...}, [5], id="event-missing"),
        pytest.param({"Event": ""}, [5], id="event-empty"),
        pytest.param({"Event": 7}, [5], id="event-not-string"),
        pytest.param({"Event": "identify"}, [6], id="identify-without-email"),
        pytest.param({"Event": "identify", "Email": ""}, [6], id="identify-empty-email"),
        pytest.param({"Email": "not-an-address"}, [7], id="email-invalid"),
        pytest.param({"Email": "a@b"}, [7], id="email-no-dot"),
        pytest.param({"Email": 5}, [7], id="email-not-string"),
        pytest.param({"Event": "identify", "Email": "x@@y.com"}, [7], id="identify-invalid-email"),
        pytest.param({"Event": "conversion", "Properties": {k: v for k, v in CONVERSION.items() if k != "conversion-id"}}, [8], id="conversion-id-missing"),
        pytest.param({"Event": "conversion", "Properties": {k: v for k, v in CONVERSION.items() if k != "conversion-name"}}, [9], id="conversion-name-missing"),
        pytest.param({"Event": "conversion", "Properties": {k: v for k, v in CONVERSION.items() if k != "conversion-value"}}, [10], id="conversion-value-missing"),
        pytest.param({"Event": "conversion", "Properties": {**CONVERSION, "conversion-value": "abc"}}, [10], id="conversion-value-text"),
        pytest.param({"Event": "conversion", "Properties": {**CONVERSION, "conversion-value": "1e999"}}, [10], id="conversion-value-overflows"),
        pytest.param({"Event": "conversion", "Properties": {**CONVERSION, "conversion-value": True}}, [10], id="conversion-value-bool"),
        pytest.param({"Event": "conversion"}, [8, 9, 10], id="conversion-without-properties"),
        pytest.param({"UUID": "not-a-uuid"}, [11], id="uuid-invalid"),
        pytest.param({"UUID": 12}, [11], id="uuid-not-string"),
        pytest.param({"UUID": "13f8e79a-f063-4b80-10e4-b65a699a2f56\n"}, [11], id="uuid-trailing-newline"),
        pytest.param({"Event": "e" * 256}, [12], id="event-too-long"),
        pytest.param({"Properties": "url=x"}, [13], id="properties-not-object"),
        pytest.param({"Properties": [1, 2]}, [13], id="properties-array"),
        pytest.param({"Properties": nested(9)}, [14], id="properties-too-deep"),
        pytest.param({"Properties": {f"p{i}": i for i in range(201)}}, [15], id="properties-too-many"),
        pytest.param({"Properties": {"p" * 256: 1}}, [16], id="property-name-too-long"),
        pytest.param({"Properties": {"p": "v" * 8193}}, [17], id="property-value-too-long"),
        pytest.param({"ID": ["x"]}, [18], id="id-not-string"),
        pytest.param({"ID": "i" * 256}, [18], id="id-too-long"),
        pytest.param({"ID": 10**255}, [18], id="id-number-of-256-digits"),
        pytest.param({"ID": -(10**254)}, [18], id="id-negative-number-of-256-characters"),
        pytest.param({"ID": 1.5}, [18], id="id-fraction"),
        pytest.param({"ListID": 999, "Event": ...}, [4, 5], id="unknown-list-and-missing-event"),
        pytest.param({"ListID": "x", "Event": "identify", "UUID": "u"}, [4, 6, 11], id="several-in-code-order"),
    ],
)
def test_invalid_parameters_get_422_with_their_codes_and_store_nothing(api, account, store, changes, expected):
    response = api.event(valid(account, **changes))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert codes(response) == expected
    assert store.count_events() == 0
    assert store.properties(account.list_id) == {}


def test_error_messages_are_the_reference_ones_and_each_item_says_what_was_wrong(api, account):
    response = api.event({"APIKey": account.api_key, "ListID": "x", "Event": "conversion", "Email": "bad"})
    needs_properties = 'Properties is required when Event is "conversion"'
    assert response.get_json() == {"Errors": [
        {"Code": 4, "Message": "Invalid ListID parameter",
         "Detail": "ListID must be a whole number from 1 to 18 digits, or a string of those digits"},
        {"Code": 7, "Message": "Invalid email parameter.", "Detail": "Email is not a valid address: An email address must have an @-sign."},
        {"Code": 8, "Message": "Missing conversion-id event property.", "Detail": needs_properties},
        {"Code": 9, "Message": "Missing conversion-name event property.", "Detail": needs_properties},
        {"Code": 10, "Message": "Missing conversion-value event property.", "Detail": needs_properties},
    ]}
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id})
    assert response.get_json() == {"Errors": [{"Code": 5, "Message": "Missing event parameter.", "Detail": "Event is required"}]}
    response = api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "identify"})
    assert response.get_json() == {"Errors": [
        {"Code": 6, "Message": "Missing email parameter.", "Detail": 'Email is required when Event is "identify" (or an ID that is an email hash: 64 hexadecimal characters)'}]}


# (body changes, code, its Detail): the message stays Octeth's; the detail says which rule failed.
DETAILS = [
    pytest.param({"Event": "conversion", "Properties": {**CONVERSION, "conversion-value": "abc"}}, 10,
                 'conversion-value must be a number, or a string holding a decimal number such as "290.50"',
                 id="conversion-value-not-a-number"),
    pytest.param({"Event": "conversion", "Properties": {"conversion-name": "n", "conversion-value": 1}}, 8,
                 'conversion-id is required in Properties when Event is "conversion"', id="conversion-id-missing"),
    pytest.param({"Event": 5}, 5, "Event must be a string", id="event-a-number"),
    pytest.param({"Event": ""}, 5, "Event must not be empty", id="event-empty"),
    pytest.param({"Event": "e" * 256}, 12, "Event must be at most 255 characters", id="event-too-long"),
    pytest.param({"Email": 5}, 7, "Email must be a string", id="email-a-number"),
    pytest.param({"UUID": "nope"}, 11, "UUID must be a string of hexadecimal digits grouped 8-4-4-4-12", id="uuid"),
    pytest.param({"ID": [1]}, 18, "ID must be a string of at most 255 characters, or an integer of at most 255"
                 " characters written out", id="id-a-list"),
    pytest.param({"Properties": [1]}, 13, "Properties must be an object", id="properties-a-list"),
    pytest.param({"Properties": {"k" * 256: 1}}, 16, "Each name in Properties must be at most 255 characters",
                 id="property-name-too-long"),
    pytest.param({"Properties": {"k": "v" * 8193}}, 17, "Every string in Properties must be at most 8192 characters",
                 id="property-value-too-long"),
    pytest.param({"Properties": {"k": [[[[[[[[1]]]]]]]]}}, 14, "Properties must be nested at most 8 levels deep",
                 id="properties-too-deep"),
    pytest.param({"Properties": {f"k{i}": i for i in range(201)}}, 15, "Properties must hold at most 200 names",
                 id="too-many-properties"),
    pytest.param({"ListID": 999}, 4, "ListID names none of your lists", id="unknown-list"),
]


@pytest.mark.parametrize("changes, code, detail", DETAILS)
def test_every_422_item_has_a_detail_from_the_rule_and_keeps_octeths_code_and_message(api, account, changes, code, detail):
    response = api.event(valid(account, **changes))
    (item,) = response.get_json()["Errors"]
    messages = {**BodySchema("event").messages}
    assert (response.status_code, item) == (422, {"Code": code, "Message": messages[code], "Detail": detail})


def test_a_detail_follows_a_configured_limit(make_api, account):
    response = make_api(max_event_length=3).event(valid(account, Event="long"))
    assert response.get_json()["Errors"][0]["Detail"] == "Event must be at most 3 characters"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"Event": "conversion", "Properties": CONVERSION}, id="conversion-number"),
        pytest.param({"Event": "conversion", "Properties": {**CONVERSION, "conversion-value": "290.50"}}, id="conversion-numeric-string"),
        pytest.param({"Event": "conversion", "Properties": {**CONVERSION, "conversion-value": 0}}, id="conversion-zero"),
        pytest.param({"Event": "identify", "Email": "Someone@Example.COM"}, id="identify"),
        pytest.param({"Email": ""}, id="empty-email-is-no-email"),
        pytest.param({"Email": None, "ID": None, "UUID": None, "Properties": None}, id="nulls-are-absent"),
        pytest.param({"Event": "e" * 255}, id="event-255-chars"),
        pytest.param({"Properties": {"cart": {"items": [{"sku": "A", "qty": 2}], "total": 9.5}, "tags": [1, "x", None]}}, id="nested-properties"),
        pytest.param({"ID": 2006}, id="numeric-id"),
        pytest.param({"ID": 10**255 - 1}, id="numeric-id-of-255-digits"),
        pytest.param({"Properties": nested(8)}, id="properties-8-deep"),
        pytest.param({"Properties": {"list": [[[[[[[1]]]]]]]}}, id="arrays-count-as-depth-8-deep"),
    ],
)
def test_valid_bodies_are_stored(api, account, store, changes):
    response = api.event(valid(account, **changes))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "success"
    assert store.count_events() == 1  # no row sends a non-identify event with an email (that would add an identify)


def test_listid_as_digit_string(api, account, store):
    response = api.event(valid(account, ListID=str(account.list_id)))
    assert response.status_code == 200
    assert store.count_events(account.list_id) == 1


@pytest.mark.parametrize("names", [
    pytest.param(("APIKey", "ListID", "Event", "ID"), id="reference-case"),
    pytest.param(("apikey", "listid", "event", "id"), id="lower"),
    pytest.param(("APIKEY", "LISTID", "EVENT", "ID"), id="upper"),
    pytest.param(("ApiKey", "ListId", "eVeNt", "Id"), id="mixed"),
])
def test_top_level_names_are_case_insensitive(api, account, store, names):
    key, list_id, event, visitor = names
    response = api.event({key: account.api_key, list_id: account.list_id, event: "pageView", visitor: "v-1",
                          "PROPERTIES": {"Url": "u", "url": "v"}})
    assert response.status_code == 200
    assert response.get_json()["external_id"] == "v-1"
    # Names inside Properties keep their case.
    assert store.properties(account.list_id) == {"pageView": ["Url", "url"]}


@pytest.mark.parametrize("visitor, external_id", [
    pytest.param(2006, "2006", id="integer"),
    pytest.param(2006.0, "2006", id="integral-float"),
    pytest.param(-7, "-7", id="negative"),
])
def test_a_numeric_id_is_answered_and_stored_as_its_digits(api, account, store, visitor, external_id):
    response = api.event(valid(account, ID=visitor, Event="identify", Email="n@example.com"))
    assert response.get_json()["external_id"] == external_id
    assert store.subscriber_email(account.list_id, external_id) == "n@example.com"


def test_only_ascii_letters_fold_in_names(api, account, store):
    # "\u212a" is the Kelvin sign, whose Unicode lower case is "k": "APIKEY" must not become "apikey".
    response = api.event({"API\u212aEY": account.api_key, "ListID": account.list_id, "Event": "pageView"})
    assert response.status_code == 401
    assert store.count_events() == 0


@pytest.mark.parametrize("visitor", [pytest.param(..., id="absent"), pytest.param("", id="empty")])
def test_missing_id_gets_a_random_unique_one(api, account, visitor):
    ids = {api.event(valid(account, ID=visitor)).get_json()["external_id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(len(i) >= 16 for i in ids)


def test_uuid_is_generated_when_absent_and_echoed_when_given(api, account):
    generated = [api.event(valid(account)).get_json()["uuid"] for _ in range(3)]
    assert all(UUID7.match(u) for u in generated) and generated == sorted(generated)
    given = str(uuid.uuid4())
    assert api.event(valid(account, UUID=given)).get_json()["uuid"] == given


@pytest.mark.parametrize("given", [
    pytest.param(str(uuid.uuid1()), id="v1"),
    pytest.param(str(uuid.uuid4()), id="v4"),
    pytest.param("01932c07-209c-7f49-9a3b-4b1f3e2a5c6d", id="v7"),
    pytest.param("00000000-0000-0000-0000-000000000000", id="nil"),
    pytest.param("6F3C1C9E-8A2B-0C1D-0E0F-123456789ABC", id="no-version-upper-case"),
])
def test_a_client_uuid_of_any_version_is_kept_exactly(api, account, given):
    assert api.event(valid(account, UUID=given)).get_json()["uuid"] == given.lower()


def test_same_uuid_in_same_list_is_stored_once_and_answered_alike(api, account, store):
    body = valid(account, UUID="13f8e79a-f063-4b80-10e4-b65a699a2f56", ID="v", Email="a@example.com")
    first = api.event(body)
    again = api.event(body)
    upper = api.event({**body, "UUID": body["UUID"].upper()})
    assert first.status_code == again.status_code == upper.status_code == 200
    assert first.get_json() == again.get_json() == upper.get_json()
    assert first.get_json()["identify_event_sent"] is True
    assert store.count_events(account.list_id) == 2  # the event and its identify event, once


def test_same_uuid_in_another_list_is_another_event(api, account, store):
    second_list = store.create_list(account.user_id, "second")
    the_uuid = str(uuid.uuid4())
    assert api.event(valid(account, UUID=the_uuid)).status_code == 200
    assert api.event(valid(account, UUID=the_uuid, ListID=second_list)).status_code == 200
    assert store.count_events(account.list_id) == 1
    assert store.count_events(second_list) == 1


def test_is_test_validates_and_answers_but_stores_nothing(api, account, store):
    response = api.event(valid(account, Event="identify", Email="t@example.com", ID="v", Properties={"isTest": True}))
    assert response.status_code == 200
    assert response.get_json()["identify_event_sent"] is True
    assert store.count_events() == 0
    assert store.properties(account.list_id) == {}
    assert store.subscriber_email(account.list_id, "v") is None
    # isTest does not skip validation.
    assert codes(api.event(valid(account, Event="identify", Properties={"isTest": True}))) == [6]
    # Only the boolean true counts.
    assert api.event(valid(account, Properties={"isTest": "true"})).status_code == 200
    assert store.count_events() == 1


class TestIdentify:
    def test_identify_links_visitor_and_always_reports_sent(self, api, account, store):
        for _ in range(2):
            answer = api.event(valid(account, Event="identify", ID="v1", Email="ann@example.com")).get_json()
            assert answer["identify_event_sent"] is True
        assert store.subscriber_email(account.list_id, "v1") == "ann@example.com"
        assert store.count_events(account.list_id) == 2  # identify events only, no extras

    def test_email_on_other_event_identifies_once(self, api, account, store):
        first = api.event(valid(account, ID="v1", Email="ann@example.com", Properties={"url": "/a"})).get_json()
        second = api.event(valid(account, ID="v1", Email="ANN@example.com", Properties={"url": "/b"})).get_json()
        assert (first["identify_event_sent"], second["identify_event_sent"]) == (True, False)
        # pageView, identify, pageView
        assert store.count_events(account.list_id) == 3
        assert store.properties(account.list_id) == {"identify": ["url"], "pageView": ["url"]}

    def test_later_identify_moves_the_link(self, api, account, store):
        api.event(valid(account, Event="identify", ID="v1", Email="first@example.com"))
        api.event(valid(account, Event="identify", ID="v1", Email="second@example.com"))
        assert store.subscriber_email(account.list_id, "v1") == "second@example.com"
        # The first email counts as new again for this visitor.
        again = api.event(valid(account, ID="v1", Email="first@example.com")).get_json()
        assert again["identify_event_sent"] is True
        assert store.subscriber_email(account.list_id, "v1") == "first@example.com"

    def test_links_are_per_list(self, api, account, store):
        second_list = store.create_list(account.user_id, "second")
        api.event(valid(account, Event="identify", ID="v1", Email="ann@example.com"))
        answer = api.event(valid(account, ListID=second_list, ID="v1", Email="ann@example.com")).get_json()
        assert answer["identify_event_sent"] is True
        assert store.subscriber_email(second_list, "v1") == "ann@example.com"

    def test_event_without_email_never_identifies(self, api, account, store):
        api.event(valid(account, Event="identify", ID="v1", Email="ann@example.com"))
        answer = api.event(valid(account, ID="v1")).get_json()
        assert answer["identify_event_sent"] is False
        assert store.subscriber_email(account.list_id, "v1") == "ann@example.com"


def test_properties_round_trip_through_the_store(api, account, store):
    names = ['"); DROP TABLE events;--', "$__proto__", "<script>", "ключ", "\u0000nul", "💥"]
    response = api.event(valid(account, Properties={name: name for name in names}))
    assert response.status_code == 200
    assert store.properties(account.list_id) == {"pageView": sorted(names)}
