"""The shared HTTP checks against the standalone app (``create_app``), the reference the others match."""

from __future__ import annotations

from typing import Any, Mapping

import pytest
from werkzeug.test import Client

from http_checks import CASES, Account, Answer, Case, check
from octeth_tracking import SQLiteStore, create_app


class StandaloneSite:
    """``create_app()`` on a fresh SQLite file, accounts in its store."""

    def __init__(self, store: SQLiteStore, **options: Any) -> None:
        self.store = store
        self.client = Client(create_app(store=store, **options))

    def account(self, name: str) -> Account:
        user = self.store.create_user(name)
        return Account(self.store.create_api_key(user), self.store.create_list(user, f"{name}'s list"))

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        response = self.client.open(path, method=method, data=body, headers=dict(headers))
        return Answer(response.status_code, response.headers, response.get_data())


@pytest.mark.parametrize("case", CASES)
def test_shared_http_checks(store: SQLiteStore, case: Case) -> None:
    check(StandaloneSite(store, **case.options), case)
