"""``python -m octeth_tracking import FILE``: NDJSON through the batch path, export lines too,
Import semantics, chunks of max_batch_events, idempotent re-runs, and its summary."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import make_account
from octeth_tracking import SQLiteStore, cli

UUID = "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"


def run(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    status = cli.main(["--db", str(db), "import", *args])
    out, err = capsys.readouterr()
    return status, json.loads(out), err


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, Any, Any]:
    path = tmp_path / "events.db"
    store = SQLiteStore(path)
    alice, bob = make_account(store, "alice"), make_account(store, "bob")
    store.close()
    return path, alice, bob


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT list_id, uuid, external_id, event, email, occurred_at FROM events ORDER BY id").fetchall()


def test_lines_of_every_shape_are_stored_and_the_bad_ones_named(tmp_path, capsys, db) -> None:
    path, alice, bob = db
    export_line = {"UUID": UUID, "ListID": alice.list_id, "ID": "v-1", "Event": "purchase", "Email": None,
                   "Properties": {"total": 5}, "OccurredAt": "2020-01-02T03:04:05.678Z",
                   "ReceivedAt": "2020-01-02T03:04:06.000Z", "IdentifyEventSent": False}
    file = write(tmp_path / "events.ndjson", [
        export_line,                                                                  # 1: an export's line
        {"uuid": "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2c", "id": "v-2", "event": "pageView", "list_id": alice.list_id,
         "occurred_at": "2026-01-01T00:00:00Z"},                                      # 2: lower-case names
        {"Event": "pageView", "ID": "v-3", "Timestamp": 1_600_000_000_000},           # 3: --list-id's, made UUID
        "",                                                                           # 4: blank: skipped
        "not json",                                                                   # 5: refused, 20
        {"Event": "signup", "Email": "not an address"},                               # 6: refused, 7
        {"Event": "pageView", "ListID": bob.list_id},                                 # 7: bob's list: stored as his
        {"Event": "pageView", "ListID": 987654},                                      # 8: no such list: 4
        [1, 2],                                                                       # 9: not an object: 21
    ])
    status, summary, err = run(capsys, path, str(file), "--list-id", str(alice.list_id))
    assert status == 1 and err == ""  # stderr is no terminal: no progress bar
    assert summary == {"stored": 4, "duplicates": 0, "refused": 4, "refused_lines": [
        {"Line": 5, "Codes": [20]}, {"Line": 6, "Codes": [7]}, {"Line": 8, "Codes": [4]}, {"Line": 9, "Codes": [21]}]}
    stored = rows(path)
    assert stored[0][:5] == (alice.list_id, UUID, "v-1", "purchase", None)
    assert stored[0][5] == pytest.approx(1577934245.678)  # OccurredAt is its time: older than any backfill window
    assert stored[2][5] == pytest.approx(1_600_000_000)
    assert stored[3][0] == bob.list_id
    again_status, again, _ = run(capsys, path, str(file), "--list-id", str(alice.list_id))
    assert (again_status, again["stored"], again["duplicates"], again["refused"]) == (1, 0, 4, 4)
    assert rows(path) == stored  # a re-run stores nothing twice, lines without a UUID included


def test_chunks_of_max_batch_events_keep_the_order_of_identifies(tmp_path, capsys, db, monkeypatch) -> None:
    path, alice, _ = db
    monkeypatch.setenv("OCTETH_TRACKING_MAX_BATCH_EVENTS", "2")
    file = write(tmp_path / "events.ndjson", [
        {"Event": "pageView", "ID": "v", "Email": "ann@example.com"},
        {"Event": "pageView", "ID": "v", "Email": "ann@example.com"},
        {"Event": "pageView", "ID": "v", "Email": "ann@example.com"},
        {"Event": "identify", "ID": "v", "Email": "bob@example.com"},
        {"Event": "pageView", "ID": "v"},
    ])
    status, summary, _ = run(capsys, path, str(file), "--list-id", str(alice.list_id))
    assert (status, summary) == (0, {"stored": 5, "duplicates": 0, "refused": 0, "refused_lines": []})
    events = [row[3] for row in rows(path)]
    assert events == ["pageView", "identify", "pageView", "pageView", "identify", "pageView"]  # one identify caused


def test_a_missing_file_is_one_line_and_exit_1(tmp_path, capsys, db) -> None:
    path, _, _ = db
    assert cli.main(["--db", str(path), "import", str(tmp_path / "nope.ndjson")]) == 1
    assert "nope.ndjson" in capsys.readouterr().err
