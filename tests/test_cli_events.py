"""The command line's events, export and forget, run as a user runs them: subprocesses on a store file."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid

import pytest

from octeth_tracking import Event, SQLiteStore


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "events.db"
    store = SQLiteStore(path)
    list_id = store.create_list(store.create_user("ann"), "l")
    assert list_id == 1
    store.record([Event(1, str(uuid.uuid4()), "laptop", "identify", "ann@example.com", {})])
    store.record([Event(1, str(uuid.uuid4()), f"v{n % 2}", "pageView", None, {"n": n, "title": "Ünïcode, \"quoted\""})
                  for n in range(2500)])
    store.close()
    return path


def cli(db, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "octeth_tracking", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=60, **kwargs)


def on_a_terminal(db, *args):
    """stdout and stderr of the command run on a pseudo-terminal, as a person at one sees it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # rows, columns: a real window
    done = subprocess.run([sys.executable, "-m", "octeth_tracking", "--db", str(db), *args],
                          stdout=follower, stderr=follower, timeout=60)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal has no writer left
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert done.returncode == 0
    return seen.decode()


def test_events_in_a_pipe_are_json_lines_newest_first(db):
    done = cli(db, "events", "--list-id", "1", "--limit", "3")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["Properties"]["n"] for line in lines] == [2499, 2498, 2497]
    assert set(lines[0]) == {"UUID", "ListID", "ID", "Event", "Email", "Properties", "IdentifyEventSent",
                             "OccurredAt", "ReceivedAt"}
    assert done.stderr == ""


@pytest.mark.parametrize("args, count", [
    pytest.param(["--id", "v1"], 1250, id="a-visitor"),
    pytest.param(["--email", "ANN@example.com"], 1, id="a-subscriber"),
    pytest.param(["--event", "identify"], 1, id="an-event-name"),
    pytest.param(["--since", "1h"], 2501, id="an-age"),
    pytest.param(["--until", "2000-01-01"], 0, id="a-date"),
])
def test_events_filters(db, args, count):
    done = cli(db, "events", "--list-id", "1", "--limit", "5000", *args)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == count


def test_events_on_a_terminal_are_a_table(db):
    shown = on_a_terminal(db, "events", "--list-id", "1", "--limit", "2")
    rows = shown.splitlines()
    assert rows[0].split() == ["TIME", "(UTC)", "EVENT", "ID", "EMAIL", "PROPERTIES"]
    assert len(rows) == 3 and "pageView" in rows[1] and '"n":2499' in rows[1]


def test_a_wrong_time_is_one_line_and_exit_status_2(db):
    done = cli(db, "events", "--list-id", "1", "--since", "yesterday")
    assert done.returncode == 2 and "not a time: 'yesterday'" in done.stderr


def test_follow_prints_new_events_as_they_are_stored(db):
    follower = subprocess.Popen([sys.executable, "-m", "octeth_tracking", "--db", str(db), "events", "--list-id", "1",
                                 "--limit", "2", "--follow"], stdout=subprocess.PIPE, text=True,
                                # As at a terminal: a CI runner may start the suite with SIGINT ignored,
                                # which a child inherits, and Python then never raises KeyboardInterrupt.
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = [json.loads(follower.stdout.readline()) for _ in range(2)]
        assert [e["Properties"]["n"] for e in first] == [2498, 2499]  # oldest first: new ones follow below
        store = SQLiteStore(db)
        sent = [str(uuid.uuid4()) for _ in range(3)]
        for the_uuid in sent:
            store.record([Event(1, the_uuid, "late", "click", None, {})])
            time.sleep(0.2)
        store.close()
        later = [json.loads(follower.stdout.readline())["UUID"] for _ in range(3)]
        assert later == sent
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            status = follower.wait(timeout=60)  # generous: a loaded machine, two cores shared
        except subprocess.TimeoutExpired:
            follower.kill()
            status = follower.wait()
        finally:
            follower.stdout.close()
    assert status == 0  # Ctrl-C ends it, quietly


def test_export_ndjson_is_every_event_oldest_first_and_reads_back(db, tmp_path):
    done = cli(db, "export", "--list-id", "1", "--output", str(tmp_path / "out.ndjson"))
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""  # no progress bar off a terminal
    lines = [json.loads(line) for line in (tmp_path / "out.ndjson").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2501
    assert lines[0]["Event"] == "identify" and [line["Properties"]["n"] for line in lines[1:]] == list(range(2500))
    assert lines[1]["Properties"]["title"] == "Ünïcode, \"quoted\""


def test_export_csv_has_a_header_and_properties_as_json(db):
    done = cli(db, "export", "--list-id", "1", "--format", "csv", "--id", "v0")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["UUID", "ListID", "ID", "Event", "Email", "OccurredAt", "ReceivedAt",
                             "IdentifyEventSent", "Properties"]
    assert len(rows) == 1250 and {row["ID"] for row in rows} == {"v0"}
    assert json.loads(rows[0]["Properties"]) == {"n": 0, "title": "Ünïcode, \"quoted\""}
    assert rows[0]["IdentifyEventSent"] == "false" and rows[0]["Email"] == ""


def test_export_shows_progress_on_a_terminal(db, tmp_path):
    shown = on_a_terminal(db, "export", "--list-id", "1", "--output", str(tmp_path / "out.ndjson"))
    assert "exported" in shown and "2501/2501" in shown


def test_export_into_a_closed_pipe_ends_quietly(db):
    done = subprocess.run(f"{sys.executable} -m octeth_tracking --db {db} export --list-id 1 | head -1",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert len(done.stdout.splitlines()) == 1 and "Traceback" not in done.stderr


def test_forget_erases_and_prints_what_it_erased(db):
    done = cli(db, "forget", "--list-id", "1", "--email", "ann@example.com")
    assert json.loads(done.stdout) == {"list_id": 1, "erased": {"events": 1, "links": 1, "subscribers": 1}}
    assert json.loads(cli(db, "forget", "--list-id", "1", "--id", "v0").stdout)["erased"]["events"] == 1250
    assert len(cli(db, "events", "--list-id", "1", "--limit", "5000").stdout.splitlines()) == 1250
    both = cli(db, "forget", "--list-id", "1", "--id", "v1", "--email", "ann@example.com")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_an_export_imported_into_a_fresh_store_is_the_same_events_once(db, tmp_path):
    """What a move to another machine does: export, import, and the new store holds the same events."""
    store = SQLiteStore(db)
    store.record([Event(1, str(uuid.uuid4()), "phone", "signup", "bob@example.com", {"plan": "pro"})])  # and its identify
    store.close()
    assert cli(db, "export", "--list-id", "1", "--output", str(tmp_path / "out.ndjson")).returncode == 0
    fresh = tmp_path / "fresh.db"
    new = SQLiteStore(fresh)
    new.create_list(new.create_user("ann"), "l")
    new.close()
    for _ in range(2):  # a second run stores nothing twice
        done = cli(fresh, "import", str(tmp_path / "out.ndjson"))
        assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert (summary["stored"], summary["duplicates"], summary["refused"]) == (0, 2503, 0)

    def exported(path):
        lines = cli(path, "export", "--list-id", "1").stdout.splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "ReceivedAt"} for line in lines]
    assert exported(fresh) == exported(db)  # the same UUIDs, visitors, emails, properties and times


def test_the_commands_read_export_import_and_forget_on_postgresql_too(db, tmp_path):
    """The same commands against a PostgreSQL store: a SQLite export moves there whole, and back out."""
    from services import pg_schema

    from octeth_tracking.storage.postgres import PostgresStore

    for url in pg_schema():
        store = PostgresStore(url)
        store.create_list(store.create_user("ann"), "l")
        store.close()
        assert cli(db, "export", "--list-id", "1", "--output", str(tmp_path / "out.ndjson")).returncode == 0
        done = cli(url, "import", str(tmp_path / "out.ndjson"))
        assert json.loads(done.stdout)["stored"] == 2501, done.stdout + done.stderr
        moved = cli(url, "export", "--list-id", "1").stdout.splitlines()
        original = (tmp_path / "out.ndjson").read_text(encoding="utf-8").splitlines()
        assert [{k: v for k, v in json.loads(line).items() if k != "ReceivedAt"} for line in moved] == \
            [{k: v for k, v in json.loads(line).items() if k != "ReceivedAt"} for line in original]
        assert len(cli(url, "events", "--list-id", "1", "--email", "ann@example.com").stdout.splitlines()) == 1
        assert json.loads(cli(url, "forget", "--list-id", "1", "--id", "v0").stdout)["erased"]["events"] == 1250
        assert len(cli(url, "events", "--list-id", "1", "--limit", "5000").stdout.splitlines()) == 1251
