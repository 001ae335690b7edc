"""The README's reading-back and erasure examples, run as written with curl against a real server,
and the command line's events / export / forget against the store that server wrote."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from octeth_tracking import SQLiteStore
from servers import Server
from services import missing

README = (Path(__file__).parent.parent / "README.md").read_text()


def example(heading: str) -> tuple[str, str]:
    """The section's first ``sh`` block and the ``json`` block that shows what it prints."""
    text = README.split(heading + "\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```\n```json\n(.*?)```", text, re.S)[0]


def times_hidden(answer: dict) -> dict:
    for event in answer.get("Events", []):
        event["OccurredAt"] = event["ReceivedAt"] = "any"
    return answer


@pytest.fixture
def server(tmp_path):
    if shutil.which("curl") is None:
        missing("curl", "the README's examples are curl commands (Debian: apt-get install curl)")
    store = SQLiteStore(tmp_path / "octeth_tracking.db")
    user = store.create_user("admin")
    key, list_id = store.create_api_key(user), store.create_list(user, "My first list")
    store.close()
    assert list_id == 1
    running = Server(tmp_path, "serve", "--port", "0")
    running.key = key
    yield running
    running.stop()


def run(server: Server, script: str, cwd: Path) -> str:
    port = re.search(r":(\d+)/", server.url).group(1)  # type: ignore[union-attr]
    script = script.replace("YOUR_KEY", server.key).replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    done = subprocess.run(["bash", "-c", "set -e\n" + script], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reading_a_visitors_events_as_the_readme_shows(server, tmp_path):
    script, shown = example("### `GET|POST /api/v1/website_events.list`: reading events back")
    expected = json.loads(shown)
    sent = expected["Events"][0]
    status, _ = server.event({"APIKey": server.key, "ListID": 1, "ID": sent["ID"], "Event": sent["Event"],
                              "UUID": sent["UUID"], "Properties": sent["Properties"]})
    assert status == 200
    assert times_hidden(json.loads(run(server, script, tmp_path))) == times_hidden(expected)


def test_erasing_a_subscriber_as_the_readme_shows_and_the_command_line_sees_it(server, tmp_path):
    script, shown = example("### `POST /api/v1/website_events.forget`: erasure")
    for visitor in ("laptop", "phone"):  # two visitors, six events each: 12 events, 2 links, 1 subscriber
        assert server.event({"APIKey": server.key, "ListID": 1, "ID": visitor, "Event": "identify",
                             "Email": "Ann@Example.com"})[0] == 200
        for n in range(5):
            assert server.event({"APIKey": server.key, "ListID": 1, "ID": visitor, "Event": "pageView",
                                 "Properties": {"n": n}})[0] == 200
    assert server.event({"APIKey": server.key, "ListID": 1, "ID": "bob", "Event": "pageView"})[0] == 200
    cli = [sys.executable, "-m", "octeth_tracking", "--db", str(tmp_path / "octeth_tracking.db")]
    before = subprocess.run([*cli, "events", "--list-id", "1", "--email", "ann@example.com", "--limit", "1000"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(before) == 12 and {json.loads(line)["ID"] for line in before} == {"laptop", "phone"}

    assert json.loads(run(server, script, tmp_path)) == json.loads(shown)
    assert json.loads(run(server, script, tmp_path))["Erased"] == {"Events": 0, "Links": 0, "Subscribers": 0}
    exported = subprocess.run([*cli, "export", "--list-id", "1"], capture_output=True, text=True, check=True)
    assert [json.loads(line)["ID"] for line in exported.stdout.splitlines()] == ["bob"]
    log = server.stop()
    assert "erased a subscriber of list 1: 12 events, 2 links, 1 subscribers" in log
    assert "ann" not in log.lower() and "laptop" not in log  # the erasure's log line names no one


def test_the_command_lines_read_export_and_import_as_the_readme_shows(server, tmp_path):
    script, shown = re.findall(r"```sh\n(.*?)```\n```json\n(.*?)```",
                               README.split("### `POST /api/v1/website_events.forget`: erasure\n", 1)[1].split("\n### ", 1)[0],
                               re.S)[1]
    first = json.loads(example("### `GET|POST /api/v1/website_events.list`: reading events back")[1])["Events"][0]
    assert server.event({"APIKey": server.key, "ListID": 1, "ID": first["ID"], "Event": first["Event"],
                         "UUID": first["UUID"], "Properties": first["Properties"]})[0] == 200
    printed = run(server, script.replace(".venv/bin/python", sys.executable), tmp_path)
    assert [times_hidden({"Events": [json.loads(line)]}) for line in printed.splitlines()[:1]] == \
        [times_hidden({"Events": [json.loads(shown.splitlines()[0])]})]
    assert json.loads(printed.splitlines()[1]) == json.loads(shown.splitlines()[1])
    assert (tmp_path / "events.ndjson").read_text().count("\n") == 1
