"""Shared fixtures: a store, an account in it, and the app mounted at /api/v1 on top."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from werkzeug.test import Client, TestResponse

from octeth_tracking import SQLiteStore, Store, create_app
from services import pg_schema, pytest_terminal_summary  # noqa: F401 (a hook: it prints skipped services)

# Figures for docs/reliability.md (`pytest --reliability-report`).
pytest_plugins = ["reliability", "pytester"]  # pytester: the pytest plugin's tests run a host project's tests

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "reference_examples.json").read_text())


def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = SQLiteStore(tmp_path / "events.db")
    yield store
    store.close()


def memory_store(tmp_path: Path) -> Iterator[Store]:
    store = SQLiteStore(":memory:")
    yield store
    store.close()


def postgres_store(tmp_path: Path) -> Iterator[Store]:
    from octeth_tracking.storage.postgres import PostgresStore

    for url in pg_schema():  # a fresh schema per test; skips loudly without a server
        store = PostgresStore(url, max_size=4)
        yield store
        store.close()


# Every store the contract suite runs against; a new backend adds itself here.
STORE_BACKENDS = [pytest.param(sqlite_store, id="sqlite"), pytest.param(memory_store, id="sqlite-memory"),
                  pytest.param(postgres_store, id="postgresql")]


@pytest.fixture(params=STORE_BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from request.param(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield from sqlite_store(tmp_path)


@dataclass
class Account:
    user_id: int
    api_key: str
    list_id: int


def make_account(store: Store, name: str = "alice") -> Account:
    user_id = store.create_user(name)
    return Account(user_id, store.create_api_key(user_id), store.create_list(user_id, f"{name}'s list"))


@pytest.fixture
def account(store: Store) -> Account:
    return make_account(store)


@pytest.fixture
def other_account(store: Store) -> Account:
    return make_account(store, "bob")


class API:
    """The app behind werkzeug's test client, with the JSON plumbing done once."""

    def __init__(self, app: Any, prefix: str = "/api/v1") -> None:
        self.client = Client(app)
        self.prefix = prefix

    def post(self, path: str, body: Any, **kwargs: Any) -> TestResponse:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(self.prefix + path, data=data, content_type="application/json", **kwargs)

    def event(self, body: Any, **kwargs: Any) -> TestResponse:
        return self.post("/event", body, **kwargs)

    def properties(self, body: Any, **kwargs: Any) -> TestResponse:
        return self.post("/website_events.properties", body, **kwargs)


@pytest.fixture
def make_api(store: Store) -> Callable[..., API]:
    def make(**options: Any) -> API:
        return API(create_app(store=store, **options))
    return make


@pytest.fixture
def api(make_api: Callable[..., API]) -> API:
    return make_api()


def codes(response: TestResponse) -> list[int]:
    return [error["Code"] for error in response.get_json()["Errors"]]
