"""Authentication: every way credentials can fail is 401 code 99998, checked before 422."""

from __future__ import annotations

import pytest

from conftest import codes

FAILURE = {"Errors": [{"Code": 99998, "Message": "Authentication failure or session expired"}]}


def test_api_key_session_and_bearer_each_authenticate(api, account, store):
    session_id = store.create_session(account.user_id, ttl=60)
    ok = {"ListID": account.list_id, "Event": "pageView"}
    assert api.event({**ok, "APIKey": account.api_key}).status_code == 200
    assert api.event({**ok, "SessionID": session_id}).status_code == 200
    assert api.event({**ok, "sessionid": session_id}).status_code == 200
    assert api.event(ok, headers={"Authorization": f"Bearer {account.api_key}"}).status_code == 200
    assert api.properties({"ListID": account.list_id}, headers={"Authorization": f"bearer {account.api_key}"}).status_code == 200


@pytest.mark.parametrize(
    "body, authorization",
    [
        pytest.param({}, None, id="none"),
        pytest.param({"APIKey": ""}, None, id="empty-key"),
        pytest.param({"APIKey": "not-a-key"}, None, id="unknown-key"),
        pytest.param({"APIKey": 12345}, None, id="key-not-string"),
        pytest.param({"APIKey": ["k"]}, None, id="key-array"),
        pytest.param({"SessionID": "not-a-session"}, None, id="unknown-session"),
        pytest.param({"SessionID": {"a": 1}}, None, id="session-not-string"),
        pytest.param({}, "Bearer nope", id="unknown-bearer"),
        pytest.param({}, "Basic dXNlcjpwYXNz", id="basic-auth"),
    ],
)
@pytest.mark.parametrize("endpoint", ["event", "properties"])
def test_bad_credentials_get_401_before_validation(api, store, account, body, authorization, endpoint):
    headers = {"Authorization": authorization} if authorization else {}
    response = getattr(api, endpoint)({**body, "ListID": "invalid"}, headers=headers)
    assert response.request.headers.get("Authorization") == authorization  # the case sent what its id says
    assert response.status_code == 401
    assert response.get_json() == FAILURE
    assert store.count_events() == 0


def test_revoked_key_gets_401(api, account, store):
    assert store.revoke_api_key(account.api_key) is True
    assert codes(api.event({"APIKey": account.api_key, "ListID": account.list_id, "Event": "x"})) == [99998]
    assert store.revoke_api_key(account.api_key) is False


def test_expired_session_gets_401(api, account, store):
    expired = store.create_session(account.user_id, ttl=-1)
    response = api.event({"SessionID": expired, "ListID": account.list_id, "Event": "x"})
    assert response.status_code == 401 and codes(response) == [99998]


def test_unknown_key_with_valid_session_still_authenticates(api, account, store):
    session_id = store.create_session(account.user_id, ttl=60)
    body = {"APIKey": "stale", "SessionID": session_id, "ListID": account.list_id, "Event": "x"}
    assert api.event(body).status_code == 200


def test_another_users_list_looks_like_no_list(api, account, other_account, store):
    mine = {"APIKey": account.api_key, "Event": "x"}
    assert codes(api.event({**mine, "ListID": other_account.list_id})) == codes(api.event({**mine, "ListID": 9999})) == [4]
    assert codes(api.properties({**mine, "ListID": other_account.list_id})) == codes(api.properties({**mine, "ListID": 9999})) == [3]
    assert store.count_events() == 0


class HostAccounts:
    """A host site's own accounts: one hard-wired key, lists 10-19 belong to it."""

    def authenticate(self, api_key, session_id):
        return "site-user" if api_key == "host-key" else None

    def can_use_list(self, user_id, list_id):
        return user_id == "site-user" and 10 <= list_id < 20


def test_pluggable_authenticator(make_api, store):
    api = make_api(authenticator=HostAccounts())
    assert api.event({"APIKey": "host-key", "ListID": 12, "Event": "x"}).status_code == 200
    assert codes(api.event({"APIKey": "host-key", "ListID": 20, "Event": "x"})) == [4]
    assert codes(api.event({"APIKey": "other", "ListID": 12, "Event": "x"})) == [99998]
    assert store.count_events(12) == 1
