"""The journal of rejected requests: what is kept, redacted, bounded, and shown only to its owner."""

from __future__ import annotations

import json

import pytest

from conftest import API, codes, make_account
from octeth_tracking import SQLiteStore, create_app
from octeth_tracking.cli import main


def journal(api: API, key: str, **params) -> list[dict]:
    response = api.post("/website_events.rejected", {"APIKey": key, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["Rejected"]


def test_a_refused_event_is_kept_with_why_and_what_was_sent_redacted(api, account):
    sent = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "identify", "Email": "not-an-email",
            "SessionID": "s3cret", "Properties": {"emailAddress": "ann@example.com", "plan": "pro",
                                                   "nested": [{"Email": "bo@example.com", "ok": 1}]}}
    assert codes(api.event(sent)) == [7]
    (kept,) = journal(api, account.api_key)
    assert (kept["Route"], kept["Status"]) == ("/event", 422)
    assert kept["Errors"] == [{"Code": 7, "Message": "Invalid email parameter.",
                               "Detail": "Email is not a valid address: An email address must have an @-sign."}]
    assert kept["Time"].endswith("Z") and kept["Time"][:2] == "20"
    assert json.loads(kept["Body"]) == {
        "APIKey": "[redacted]", "ListID": account.list_id, "Event": "identify", "Email": "[redacted]",
        "SessionID": "[redacted]", "Properties": {"emailAddress": "[redacted]", "plan": "pro",
                                                  "nested": [{"Email": "[redacted]", "ok": 1}]},
    }
    for secret in (account.api_key, "s3cret", "ann@example.com", "bo@example.com", "not-an-email"):
        assert secret not in kept["Body"]


def test_a_long_body_is_cut_and_a_deep_one_does_not_break_it(api, account):
    assert api.event({"APIKey": account.api_key, "ListID": account.list_id, "Properties": {"x": "y" * 5000}}).status_code == 422
    deep: object = 1
    for _ in range(900):
        deep = {"k": deep}
    assert api.event({"APIKey": account.api_key, "ListID": account.list_id, "Properties": deep}).status_code == 422
    deep_kept, long_kept = journal(api, account.api_key)
    assert len(long_kept["Body"]) == 2000 and long_kept["Body"].endswith("…")
    assert deep_kept["Errors"][0]["Code"] in (5, 14)


@pytest.mark.parametrize("request_body, status", [
    pytest.param({"APIKey": "nobody", "ListID": 1, "Event": "x"}, 401, id="unknown-key-names-no-one"),
    pytest.param(None, 404, id="no-such-route"),
])
def test_what_names_no_caller_or_is_noise_is_not_kept(api, account, store, request_body, status):
    if request_body is None:
        assert api.post("/nowhere", {"APIKey": account.api_key}).status_code == status
    else:
        assert api.event(request_body).status_code == status
    assert store.rejections(None) == []


def test_only_the_newest_journal_size_are_kept_per_user(store, account, other_account):
    api = API(create_app(store=store, journal_size=3))
    for n in range(5):
        api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "", "ID": f"v{n}"})
    api.event({"APIKey": other_account.api_key, "ListID": other_account.list_id})
    kept = journal(api, account.api_key)
    assert [json.loads(r["Body"])["ID"] for r in kept] == ["v4", "v3", "v2"]  # newest first
    assert len(journal(api, other_account.api_key)) == 1  # another user's share is their own
    assert len(journal(api, account.api_key, Limit=2)) == 2


def test_journal_size_0_keeps_nothing(store, account):
    api = API(create_app(store=store, journal_size=0))
    api.event({"APIKey": account.api_key, "ListID": account.list_id})
    assert journal(api, account.api_key) == []


def test_a_flood_of_429s_is_kept_once_per_window(store, account):
    api = API(create_app(store=store, event_rate_limit=1))
    body = {"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"}
    statuses = [api.event(body).status_code for _ in range(20)]
    assert statuses == [200] + [429] * 19
    (kept,) = journal(api, account.api_key)
    assert (kept["Status"], kept["Errors"][0]["Code"]) == (429, 25)


@pytest.mark.parametrize("limit", [0, 1001, "abc", -1, 2.5])
def test_an_invalid_limit_is_code_80(api, account, limit):
    response = api.post("/website_events.rejected", {"APIKey": account.api_key, "Limit": limit})
    assert response.status_code == 422 and codes(response) == [80]


class ForgetfulStore(SQLiteStore):
    """A store whose journal cannot keep anything (a full disk, say): a plug point of the journal."""

    def journal_rejection(self, user, rejection, keep):
        raise OSError("disk full")


def test_a_journal_that_cannot_keep_never_changes_the_answer(tmp_path, caplog):
    store = ForgetfulStore(tmp_path / "f.db")
    account = make_account(store)
    response = API(create_app(store=store)).event({"APIKey": account.api_key, "ListID": account.list_id})
    assert response.status_code == 422 and codes(response) == [5]
    assert "could not keep a rejected request" in caplog.text
    store.close()


def test_the_command_line_prints_a_users_journal(tmp_path, capsys):
    db = tmp_path / "cli.db"
    store = SQLiteStore(db)
    account = make_account(store)
    API(create_app(store=store)).event({"APIKey": account.api_key, "ListID": account.list_id, "Event": ""})
    store.close()
    assert main(["rejected", "--user-id", str(account.user_id), "--db", str(db)]) == 0
    (kept,) = json.loads(capsys.readouterr().out)["Rejected"]
    assert kept["Errors"] == [{"Code": 5, "Message": "Missing event parameter.", "Detail": "Event must not be empty"}]


def test_a_web_pages_refusal_is_kept_for_its_lists_owner(store, account):
    api = API(create_app(store=store))
    _, key = store.create_tracker(account.list_id, ["https://shop.example"])
    page = {"Content-Type": "text/plain", "Origin": "https://evil.example"}
    refused = api.client.post(f"/api/v1/event?TrackerKey={key}", data=json.dumps({"ListID": account.list_id, "Event": "x"}),
                              headers=page)
    assert refused.status_code == 403
    (kept,) = journal(api, account.api_key)
    assert (kept["Status"], kept["Errors"][0]["Code"]) == (403, 40)
    assert key not in kept["Body"]  # the route's query string is never kept; the body held no key
