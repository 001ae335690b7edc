"""The Flask example site: the shared HTTP checks through Flask's test client, its pages, its CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
from flask import Flask

from http_checks import CASES, ORIGIN, Account, Answer, Case, check

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "examples"))  # as `flask --app examples/flask_app` does

import flask_app  # noqa: E402
from octeth_tracking.browser import snippet  # noqa: E402
from flask_app import accounts  # noqa: E402


def make_app(tmp_path: Path, **options: Any) -> Flask:
    settings = {f"OCTETH_TRACKING_{name.upper()}": value for name, value in options.items()}
    return flask_app.create_app({
        "TESTING": True, "SITE_DB": str(tmp_path / "site.db"),
        "OCTETH_TRACKING_DB": str(tmp_path / "events.db"), **settings,
    })


class FlaskSite:
    """The example site behind ``app.test_client()``; accounts in the site's own tables.

    :param app: the site, from ``flask_app.create_app``.
    """

    def __init__(self, *, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def account(self, name: str) -> Account:
        user_id, api_key = accounts.create_user(self.app.config["SITE_DB"], name)
        list_id = accounts.create_list(self.app.config["SITE_DB"], user_id, f"{name}'s list")
        assert list_id is not None
        created = accounts.create_tracker(self.app.config["SITE_DB"], user_id, list_id, [ORIGIN])
        assert created is not None
        return Account(api_key, list_id, created[1])

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        response = self.client.open(path, method=method, data=body, headers=dict(headers))
        return Answer(response.status_code, response.headers, response.get_data())


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    made: list[Flask] = []

    def make(**options: Any) -> Flask:
        made.append(make_app(tmp_path, **options))
        return made[-1]
    yield make
    for app in made:
        app.extensions["octeth_tracking"].store.close()


@pytest.fixture
def app(make_site: Callable[..., Flask]) -> Flask:
    return make_site()


@pytest.mark.parametrize("case", CASES)
def test_shared_http_checks(make_site: Callable[..., Flask], case: Case) -> None:
    check(FlaskSite(app=make_site(**case.options)), case)


def test_events_go_to_the_configured_store_and_keys_are_stored_as_digests(app: Flask) -> None:
    site = FlaskSite(app=app)
    alice = site.account("alice")
    response = site.client.post("/api/v1/event", json={"APIKey": alice.api_key, "ListID": alice.list_id, "Event": "x"})
    assert response.status_code == 200
    assert app.extensions["octeth_tracking"].store.count_events(alice.list_id) == 1
    assert alice.api_key.encode() not in Path(app.config["SITE_DB"]).read_bytes()


def test_the_site_keeps_its_own_pages_and_404(app: Flask) -> None:
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 200 and b"Example site" in home.data
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def flask_cli(tmp_path: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """``flask --app examples/flask_app ARGS`` from the repository root, the site's files in ``tmp_path``."""
    env = {"FLASK_SITE_DB": str(tmp_path / "site.db"), "FLASK_OCTETH_TRACKING_DB": str(tmp_path / "events.db")}
    return [sys.executable, "-m", "flask", "--app", "examples/flask_app", *args], {**os.environ, **env}


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command, env = flask_cli(tmp_path, *args)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_cli_commands_print_one_json_object_each(tmp_path: Path) -> None:
    created = json.loads(run_cli(tmp_path, "create-user", "ann").stdout)
    assert created.keys() == {"user_id", "api_key"} and created["user_id"] == 1
    listed = run_cli(tmp_path, "create-list", "--user-id", "1", "News")
    assert json.loads(listed.stdout) == {"list_id": 1}
    missing = run_cli(tmp_path, "create-list", "--user-id", "7", "News")
    assert missing.returncode != 0 and missing.stdout == "" and "no user with id 7" in missing.stderr


def test_the_sites_own_custom_fields_take_identify_properties(tmp_path: Path) -> None:
    api_key = json.loads(run_cli(tmp_path, "create-user", "ann").stdout)["api_key"]
    run_cli(tmp_path, "create-list", "--user-id", "1", "News")
    fields = [run_cli(tmp_path, "create-field", "--list-id", "1", *args) for args in (
        ("--merge-tag", "First-Name", "First name"), ("--key", "Member number"), ("Plan",))]
    assert [json.loads(done.stdout) for done in fields] == [{"field_id": 1}, {"field_id": 2}, {"field_id": 3}]
    missing = run_cli(tmp_path, "create-field", "--list-id", "7", "x")
    assert missing.returncode != 0 and "no list with id 7" in missing.stderr
    app = make_app(tmp_path)
    try:
        body = {"Command": "event.track", "APIKey": api_key, "ListID": "1", "Event": "identify", "Email": "jo@example.com",
                "ID": "m-17", "IdentifyProperties[first-name]": "Jo", "IdentifyProperties[CustomField3]": "Gold"}
        answer = app.test_client().post("/api.php", data=body)  # the legacy form, at the site's root
        assert answer.status_code == 200 and answer.json["identify_event_sent"] is True
        subscribers = app.extensions["octeth_tracking"].store.subscribers(1)
        assert [(s.email, s.fields) for s in subscribers] == [("jo@example.com", {1: "Jo", 2: "m-17", 3: "Gold"})]
    finally:
        app.extensions["octeth_tracking"].store.close()


def test_api_php_at_the_root_can_be_left_to_the_site(tmp_path: Path) -> None:
    app = make_app(tmp_path, api_php_at_root=False)
    try:
        assert app.test_client().post("/api.php", data={"Command": "event.track"}).mimetype == "text/html"  # the site's 404
        assert app.test_client().post("/api/v1/api.php", data={"Command": "event.track"}).status_code == 401
    finally:
        app.extensions["octeth_tracking"].store.close()


def test_flask_run_answers_curl_on_a_real_port(tmp_path: Path) -> None:
    api_key = json.loads(run_cli(tmp_path, "create-user", "ann").stdout)["api_key"]
    list_id = json.loads(run_cli(tmp_path, "create-list", "--user-id", "1", "News").stdout)["list_id"]
    command, env = flask_cli(tmp_path, "run", "--port", "0")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:  # type: ignore[union-attr]
            match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            if match:
                break
        else:
            pytest.fail("flask run did not start")
        body = json.dumps({"APIKey": api_key, "ListID": list_id, "ID": "v1", "Event": "pageView"}).encode()
        request = urllib.request.Request(match.group(1) + "/api/v1/event", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success" and answer["external_id"] == "v1"
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_the_readme_snippet_mounts_the_api_beside_the_sites_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("## Mount in Flask", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # its events.db is relative
    namespace: dict[str, Any] = {"__name__": "readme_site"}
    exec(snippet, namespace)
    request.addfinalizer(namespace["app"].extensions["octeth_tracking"].store.close)
    client = namespace["app"].test_client()
    refused = client.post("/api/v1/event", json={"Event": "pageView"})
    assert refused.status_code == 401 and refused.json == {"Errors": [
        {"Code": 99998, "Message": "Authentication failure or session expired"}]}
    assert client.get("/elsewhere").mimetype == "text/html"  # the site's own 404
    assert (tmp_path / "events.db").exists()


def test_only_a_lists_owner_creates_its_tracker_key_and_the_api_takes_it(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "create-user", "ann").returncode == 0
    assert run_cli(tmp_path, "create-user", "bob").returncode == 0
    assert json.loads(run_cli(tmp_path, "create-list", "--user-id", "1", "News").stdout) == {"list_id": 1}
    refused = run_cli(tmp_path, "create-tracker", "--user-id", "2", "--list-id", "1", "--origin", ORIGIN)
    assert refused.returncode != 0 and refused.stdout == "" and "user 2 has no list 1" in refused.stderr
    bad = run_cli(tmp_path, "create-tracker", "--user-id", "1", "--list-id", "1", "--origin", "shop.example")
    assert bad.returncode != 0 and "is not an origin" in bad.stderr
    created = json.loads(run_cli(tmp_path, "create-tracker", "--user-id", "1", "--list-id", "1", "--origin", ORIGIN).stdout)
    assert created.keys() == {"tracker_id", "tracker_key"} and created["tracker_key"].startswith("otk_")
    assert created["tracker_key"].encode() not in (tmp_path / "site.db").read_bytes()

    app = make_app(tmp_path)
    client = app.test_client()
    body = json.dumps({"ListID": 1, "Event": "pageView", "ID": "v"})
    sent = client.post(f"/api/v1/event?TrackerKey={created['tracker_key']}", data=body,
                       headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
    assert sent.status_code == 200 and sent.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert run_cli(tmp_path, "revoke-tracker", "--user-id", "2", created["tracker_key"]).returncode != 0  # not bob's
    revoked = run_cli(tmp_path, "revoke-tracker", "--user-id", "1", created["tracker_key"])
    assert (revoked.returncode, json.loads(revoked.stdout)) == (0, {"revoked": True})
    again = client.post(f"/api/v1/event?TrackerKey={created['tracker_key']}", data=body, headers={"Origin": ORIGIN})
    assert again.status_code == 401
    app.extensions["octeth_tracking"].store.close()


def test_the_sites_own_pages_carry_the_snippet_when_it_has_a_tracker_key(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    site = FlaskSite(app=app)
    alice = site.account("alice")
    assert b"octethTracker" not in app.test_client().get("/").data
    app.config["TRACKER_KEY"] = alice.tracker_key
    page = app.test_client().get("/").get_data(as_text=True)
    assert snippet("http://localhost/api/v1", alice.tracker_key, alice.list_id) in page
    assert alice.api_key not in page
    assert app.test_client().get("/api/v1/tracker.js").status_code == 200  # the script it loads, from the same site
