"""{mount}/website_events.properties: the registry of property names per event."""

from __future__ import annotations

import pytest

from conftest import REFERENCE, codes


def test_reference_example_round_trips_exactly(api, account):
    expected = REFERENCE["properties_success_response"]["Properties"]
    for event, names in expected.items():
        # Split each event's names over two events, in reverse: order and repetition must not matter.
        half = len(names) // 2
        for chunk in (names[half:][::-1], names[: half + 1]):
            body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": event,
                    "Properties": {name: 1 for name in chunk}}
            if event == "identify":
                body["Email"] = "ann@example.com"
            assert api.event(body).status_code == 200
    response = api.properties({"APIKey": account.api_key, "ListID": account.list_id})
    assert response.status_code == 200
    assert response.get_json() == {"ListID": str(account.list_id), "Properties": expected}


def test_sorted_by_code_point_and_event_without_properties_listed(api, account):
    for event, props in [("zeta", {}), ("Alpha", {"b": 1, "$page_title": 1, "$pageTitle": 1, "emailAddress": 1, "$viewport_width": 1}), ("zeta", None)]:
        api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": event, "Properties": props})
    answer = api.properties({"APIKey": account.api_key, "ListID": str(account.list_id)}).get_json()
    assert list(answer["Properties"]) == ["Alpha", "zeta"]
    assert answer["Properties"]["Alpha"] == ["$pageTitle", "$page_title", "$viewport_width", "b", "emailAddress"]
    assert answer["Properties"]["zeta"] == []


def test_empty_list(api, account):
    response = api.properties({"apikey": account.api_key, "listid": account.list_id})
    assert response.get_json() == {"ListID": str(account.list_id), "Properties": {}}


def test_listid_is_echoed_as_a_plain_string(api, account):
    answer = api.properties({"APIKey": account.api_key, "ListID": f"00{account.list_id}"}).get_json()
    assert answer["ListID"] == str(account.list_id)


def test_get_with_query_string(api, account):
    api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", "Properties": {"url": "/"}})
    response = api.client.get(f"/api/v1/website_events.properties?apikey={account.api_key}&ListID={account.list_id}")
    assert response.status_code == 200
    assert response.get_json()["Properties"] == {"pageView": ["url"]}
    head = api.client.head(f"/api/v1/website_events.properties?APIKey={account.api_key}&ListID={account.list_id}")
    assert head.status_code == 200 and head.data == b""


@pytest.mark.parametrize(
    "list_id, expected",
    [
        pytest.param(..., [1], id="missing"),
        pytest.param(None, [1], id="null"),
        pytest.param("abc", [2], id="letters"),
        pytest.param(0, [2], id="zero"),
        pytest.param(-3, [2], id="negative"),
        pytest.param(2.5, [2], id="float"),
        pytest.param(True, [2], id="bool"),
        pytest.param("", [2], id="empty-string"),
        pytest.param("3\n", [2], id="trailing-newline"),
        pytest.param("0" * 5000 + "1", [2], id="5000-leading-zeros"),
        pytest.param(12345, [3], id="unknown"),
    ],
)
def test_errors(api, account, list_id, expected):
    body = {"APIKey": account.api_key}
    if list_id is not ...:
        body["ListID"] = list_id
    response = api.properties(body)
    assert response.status_code == 422
    assert codes(response) == expected


def test_error_messages_are_the_reference_ones(api, account):
    assert api.properties({"APIKey": account.api_key}).get_json() == {"Errors": [{"Code": 1, "Message": "Missing ListID parameter", "Detail": "ListID is required"}]}
    assert api.properties({"APIKey": account.api_key, "ListID": "x"}).get_json() == {"Errors": [{"Code": 2, "Message": "Invalid ListID parameter", "Detail": (
        "ListID must be a whole number from 1 to 18 digits, or a string of those digits")}]}
    # The reference's answer, each item with a Detail beside its Code and Message.
    answer = api.properties({"APIKey": account.api_key, "ListID": 999}).get_json()
    assert [{k: v for k, v in item.items() if k != "Detail"} for item in answer["Errors"]] == REFERENCE["properties_error_response"]["Errors"]
    assert [item["Detail"] for item in answer["Errors"]] == ["ListID names none of your lists"]


def test_get_errors_match_post(api, account):
    response = api.client.get(f"/api/v1/website_events.properties?APIKey={account.api_key}&ListID=abc")
    assert response.status_code == 422 and codes(response) == [2]
