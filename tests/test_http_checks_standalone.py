"""The shared HTTP checks against the standalone app (``create_app``), the reference the others match."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest
from werkzeug.test import Client

from http_checks import CASES, ORIGIN, Account, Answer, Case, check
from octeth_tracking import SQLiteStore, create_app


class StandaloneSite:
    """``create_app()`` on a fresh SQLite file, accounts in its store.

    :param store: the store, which also holds the accounts.
    :param options: ``create_app`` arguments.
    """

    def __init__(self, *, store: SQLiteStore, **options: Any) -> None:
        self.store = store
        self.client = Client(create_app(store=store, **options))

    def account(self, name: str) -> Account:
        user = self.store.create_user(name)
        list_id = self.store.create_list(user, f"{name}'s list")
        return Account(self.store.create_api_key(user), list_id, self.store.create_tracker(list_id, [ORIGIN])[1])

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        response = self.client.open(path, method=method, data=body, headers=dict(headers))
        return Answer(response.status_code, response.headers, response.get_data())


@pytest.mark.parametrize("case", CASES)
def test_shared_http_checks(store: SQLiteStore, case: Case) -> None:
    check(StandaloneSite(store=store, **case.options), case)


def test_the_core_imports_neither_flask_nor_django(tmp_path: Path) -> None:
    # Both are optional extras: the package, its CLI and create_app() must work without them.
    code = ("import sys, octeth_tracking, octeth_tracking.cli; octeth_tracking.create_app('events.db'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'django'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
