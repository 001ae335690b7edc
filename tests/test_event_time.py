"""The event's own time (event_time.py): Timestamp, SentAt and the clock-skew rule, the future
tolerance and the backfill window at their edges, malformed times, and what is stored."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest

from conftest import API, codes, make_account
from octeth_tracking import create_app

RECEIVED = 1_796_464_800.0  # 2026-12-05T10:00:00Z, the app's clock in these tests
DAY = 86400


def iso(seconds: float) -> str:
    from octeth_tracking.endpoints import iso_time
    return iso_time(seconds)


def ms(seconds: float) -> int:
    return round(seconds * 1000)


@pytest.fixture
def timed(store, account):
    def make(**options: Any) -> API:
        return API(create_app(store=store, clock=lambda: RECEIVED, **options))
    return make


def body(account, **fields: Any) -> dict[str, Any]:
    return {"APIKey": account.api_key, "ListID": account.list_id, "Event": "pageView", **fields}


# (parameters, the stored time, time_adjusted)
STORED = [
    pytest.param({}, RECEIVED, None, id="neither-is-the-receive-time"),
    pytest.param({"Timestamp": "2026-12-05T09:00:00Z"}, RECEIVED - 3600, None, id="iso-z"),
    pytest.param({"Timestamp": "2026-12-05T10:30:00.250+01:00"}, RECEIVED - 1800 + 0.25, None, id="iso-offset-ms"),
    pytest.param({"Timestamp": "2026-12-05t09:00:00.123456789z"}, RECEIVED - 3600 + 0.123, None, id="iso-lower-case-nanoseconds"),
    pytest.param({"Timestamp": ms(RECEIVED - 60)}, RECEIVED - 60, None, id="epoch-ms"),
    pytest.param({"Timestamp": str(ms(RECEIVED - 60))}, RECEIVED - 60, None, id="epoch-ms-as-text"),
    pytest.param({"Timestamp": iso(RECEIVED + 3590), "SentAt": iso(RECEIVED + 3600)}, RECEIVED - 10, None,
                 id="skew-client-an-hour-ahead"),
    pytest.param({"Timestamp": ms(RECEIVED - 7200 - 5), "SentAt": ms(RECEIVED - 7200)}, RECEIVED - 5, None,
                 id="skew-client-two-hours-behind"),
    pytest.param({"SentAt": iso(RECEIVED - 30)}, RECEIVED, None, id="sent-at-alone-changes-nothing"),
    pytest.param({"Timestamp": iso(RECEIVED + 3600)}, RECEIVED + 3600, None, id="future-at-the-tolerance"),
    pytest.param({"Timestamp": iso(RECEIVED + 3601)}, RECEIVED, "future", id="future-past-the-tolerance"),
    pytest.param({"Timestamp": iso(RECEIVED + 10), "SentAt": iso(RECEIVED - 4000)}, RECEIVED, "future",
                 id="future-after-the-skew-correction"),
    pytest.param({"Timestamp": iso(RECEIVED - 5 * DAY)}, RECEIVED - 5 * DAY, None, id="old-at-the-window"),
    pytest.param({"Timestamp": iso(RECEIVED - 400 * DAY), "Import": True}, RECEIVED - 400 * DAY, None, id="import-past-the-window"),
    pytest.param({"Timestamp": 0, "Import": "true"}, 0.0, None, id="import-of-1970-as-form-text"),
]


@pytest.mark.parametrize("fields, stored, adjusted", STORED)
def test_the_stored_time_and_the_answer(timed, account, store, fields, stored, adjusted) -> None:
    answer = timed().event(body(account, UUID="6f3c1c9e-8a2b-4c1d-9e0f-123456789abc", **fields))
    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()
    assert found["occurred_at"] == iso(stored)
    assert found.get("time_adjusted") == adjusted
    with sqlite3.connect(store.path) as db:
        occurred, created = db.execute("SELECT occurred_at, created_at FROM events").fetchone()
    assert occurred == pytest.approx(stored, abs=0.001)
    assert abs(created - time.time()) < 60  # received_at: the store's own clock


# (parameters, codes)
REFUSED = [
    pytest.param({"Timestamp": iso(RECEIVED - 5 * DAY - 1)}, [52], id="old-past-the-window"),
    pytest.param({"Timestamp": iso(RECEIVED - 5 * DAY - 1), "Import": False}, [52], id="old-import-false"),
    pytest.param({"Timestamp": "yesterday"}, [50], id="words"),
    pytest.param({"Timestamp": "2026-02-30T10:00:00Z"}, [50], id="february-30"),
    pytest.param({"Timestamp": "2026-12-05T24:00:01Z"}, [50], id="hour-24"),
    pytest.param({"Timestamp": "2026-12-05T10:00:00"}, [50], id="no-offset"),
    pytest.param({"Timestamp": "2026-12-05"}, [50], id="a-date-alone"),
    pytest.param({"Timestamp": -1}, [50], id="negative-ms"),
    pytest.param({"Timestamp": 1.5}, [50], id="fractional-ms"),
    pytest.param({"Timestamp": 253402300800000}, [50], id="past-the-year-9999"),
    pytest.param({"Timestamp": "9" * 15}, [50], id="past-the-year-9999-as-text"),
    pytest.param({"Timestamp": True}, [50], id="boolean"),
    pytest.param({"Timestamp": "2026-12-05T10:00:00Z\n"}, [50], id="final-newline"),
    pytest.param({"SentAt": "soon"}, [51], id="sent-at-words"),
    pytest.param({"Timestamp": {}, "SentAt": []}, [50, 51], id="both"),
    pytest.param({"Import": "yes"}, [53], id="import-yes"),
    pytest.param({"Import": 1}, [53], id="import-one"),
]


@pytest.mark.parametrize("fields, expected", REFUSED)
def test_a_bad_or_too_old_time_is_422_with_its_code_and_a_detail(timed, account, store, fields, expected) -> None:
    answer = timed().event(body(account, **fields))
    assert (answer.status_code, codes(answer)) == (422, expected), answer.get_json()
    assert all(item["Detail"] for item in answer.get_json()["Errors"])
    assert store.count_events() == 0


def test_the_bounds_are_configurable(timed, account) -> None:
    api = timed(future_tolerance=0, backfill_window=0)
    ahead = api.event(body(account, Timestamp=iso(RECEIVED + 1))).get_json()
    assert (ahead["occurred_at"], ahead["time_adjusted"]) == (iso(RECEIVED), "future")
    assert api.event(body(account, Timestamp=iso(RECEIVED - 999 * DAY))).status_code == 200
    narrow = timed(backfill_window=60).event(body(account, Timestamp=iso(RECEIVED - 61))).get_json()
    assert narrow["Errors"][0]["Detail"].startswith("Timestamp is more than backfill_window (60 seconds)")


@pytest.mark.parametrize("name, value", [pytest.param("future_tolerance", -1, id="negative-tolerance"),
                                         pytest.param("backfill_window", "5 days", id="text-window")])
def test_a_bad_bound_fails_when_the_app_is_built(store, name, value) -> None:
    with pytest.raises(ValueError, match=f"OCTETH_TRACKING_{name.upper()}"):
        create_app(store=store, **{name: value})


def test_a_duplicate_answers_the_stored_time_not_the_resent_one(timed, account) -> None:
    api = timed()
    first = api.event(body(account, UUID="6f3c1c9e-8a2b-4c1d-9e0f-123456789abc", Timestamp=iso(RECEIVED - 60)))
    again = api.event(body(account, UUID="6f3c1c9e-8a2b-4c1d-9e0f-123456789abc", Timestamp=iso(RECEIVED - 30)))
    assert first.get_json() == again.get_json()
    assert again.get_json()["occurred_at"] == iso(RECEIVED - 60)


def test_a_form_body_on_api_php_takes_a_timestamp_as_text(timed, account) -> None:
    answer = timed().client.post("/api/v1/api.php", data={
        "Command": "event.track", "APIKey": account.api_key, "ListID": str(account.list_id), "Event": "e",
        "Timestamp": str(ms(RECEIVED - 120)), "SentAt": str(ms(RECEIVED - 100))})
    assert answer.get_json()["occurred_at"] == iso(RECEIVED - 20)


def test_postgresql_stores_both_times(tmp_path) -> None:
    from conftest import postgres_store
    for store in postgres_store(tmp_path):
        account = make_account(store)
        api = API(create_app(store=store, clock=lambda: RECEIVED))
        answer = api.event(body(account, Timestamp=iso(RECEIVED - 3600), SentAt=iso(RECEIVED - 3000)))
        assert answer.get_json()["occurred_at"] == iso(RECEIVED - 600)
        with store.pool.connection() as conn:
            occurred, created = conn.execute(
                "SELECT extract(epoch FROM occurred_at)::float8, extract(epoch FROM created_at)::float8 FROM events").fetchone()
        assert occurred == pytest.approx(RECEIVED - 600) and abs(created - time.time()) < 60


def test_every_store_keeps_the_time_and_answers_a_duplicate_with_it(any_store) -> None:
    from octeth_tracking import Event
    account = make_account(any_store)
    first = Event(account.list_id, "6f3c1c9e-8a2b-4c1d-9e0f-123456789abc", "v", "pageView", occurred_at=RECEIVED - 86400.125)
    (stored,) = any_store.record([first])
    assert not stored.duplicate and stored.occurred_at is None  # as the event asked
    (again,) = any_store.record([Event(account.list_id, first.uuid, "v", "pageView", occurred_at=RECEIVED)])
    assert again.duplicate and again.occurred_at == pytest.approx(RECEIVED - 86400.125, abs=1e-6)
    (later,) = any_store.record([Event(account.list_id, "6f3c1c9e-8a2b-4c1d-9e0f-123456789abd", "v", "pageView")])
    (repeat,) = any_store.record([Event(account.list_id, later.uuid, "v", "pageView")])
    assert abs(repeat.occurred_at - time.time()) < 60  # no time given: the store's receive time
