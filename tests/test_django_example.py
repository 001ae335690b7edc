"""The Django example site: the shared HTTP checks through Django's test client, sessions, commands.

Django is set up here, at collection, from the example's own settings; pytest-django then
gives these tests a throw-away site database. Tests elsewhere never touch Django.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlencode

import django
import pytest

from http_checks import CASES, ORIGIN, Account, Answer, Case, check

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "django_app"
sys.path.insert(0, str(EXAMPLE))  # as manage.py runs it
os.environ["DJANGO_SETTINGS_MODULE"] = "tracksite.settings"
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402
from django.test import AsyncClient, Client, RequestFactory  # noqa: E402
from members.models import APIKey, TrackedList, TrackerKey  # noqa: E402

from octeth_tracking.contrib.django import call_wsgi, get_app  # noqa: E402

pytestmark = pytest.mark.django_db


class DjangoSite:
    """The example project behind Django's test client (CSRF enforced, as for a browser).

    :param settings: pytest-django's ``settings`` fixture; ``OCTETH_TRACKING_*`` go there.
    :param tmp_path: where the event store lives.
    :param options: ``TrackingApp`` arguments, given as Django settings.
    """

    def __init__(self, *, settings: Any, tmp_path: Path, **options: Any) -> None:
        settings.OCTETH_TRACKING_DB = str(tmp_path / "events.db")
        for name, value in options.items():
            setattr(settings, f"OCTETH_TRACKING_{name.upper()}", value)
        self.client = Client(enforce_csrf_checks=True)

    def account(self, name: str) -> Account:
        user = User.objects.create_user(name)
        tracked = TrackedList.objects.create(owner=user, name=f"{name}'s list")
        return Account(APIKey.create(user), tracked.pk, TrackerKey.create(user, tracked, [ORIGIN]))

    def send(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        response = self.client.generic(method, path, data=body, content_type=content_type, headers=headers)
        return Answer(response.status_code, response.headers, response.content)


@pytest.fixture
def site(settings: Any, tmp_path: Path) -> DjangoSite:
    return DjangoSite(settings=settings, tmp_path=tmp_path)


@pytest.mark.parametrize("case", CASES)
def test_shared_http_checks(settings: Any, tmp_path: Path, case: Case) -> None:
    check(DjangoSite(settings=settings, tmp_path=tmp_path, **case.options), case)


def track(site: DjangoSite, **body: Any) -> tuple[int, Any]:
    response = Client().post("/api/v1/event", json.dumps({"Event": "pageView", **body}), content_type="application/json")
    return response.status_code, response.json()


def test_settings_given_as_text_count_and_a_bad_one_is_a_json_500_and_a_log_line(
        settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    site = DjangoSite(settings=settings, tmp_path=tmp_path, event_rate_limit="1")  # os.environ.get(...) gives text
    alice = site.account("alice")
    assert [track(site, APIKey=alice.api_key, ListID=alice.list_id)[0] for _ in range(2)] == [200, 429]
    settings.OCTETH_TRACKING_MAX_BODY_SIZE = "64 KiB"
    assert track(site, APIKey=alice.api_key, ListID=alice.list_id) == (
        500, {"Errors": [{"Code": 27, "Message": "Internal error."}]})
    assert "max_body_size must be an integer, 1 or more, not '64 KiB'" in caplog.text


def test_a_logged_in_users_session_key_is_a_session_id_until_logout(site: DjangoSite) -> None:
    user = User.objects.create_user("carol", password="a long password 1")
    list_id = TrackedList.objects.create(owner=user, name="News").pk
    browser = Client()
    assert browser.login(username="carol", password="a long password 1")
    session_key = browser.session.session_key
    status, answer = track(site, SessionID=session_key, ListID=list_id)
    assert status == 200 and answer["status"] == "success"
    assert get_app().store.count_events(list_id) == 1
    browser.logout()
    status, answer = track(site, SessionID=session_key, ListID=list_id)
    assert (status, answer) == (401, {"Errors": [{"Code": 99998, "Message": "Authentication failure or session expired"}]})


def test_a_session_id_during_a_secret_key_rotation_neither_fails_nor_logs_the_browser_out(
        site: DjangoSite, settings: Any) -> None:
    user = User.objects.create_user("carol", password="a long password 1")
    list_id = TrackedList.objects.create(owner=user, name="News").pk
    browser = Client()
    assert browser.login(username="carol", password="a long password 1")
    session_key = browser.session.session_key
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a new secret key, rotated in " + "x" * 40
    assert [track(site, SessionID=session_key, ListID=list_id)[0] for _ in range(2)] == [200, 200]
    assert b"Hello, carol." in browser.get("/").content  # still logged in to the site
    settings.SECRET_KEY_FALLBACKS = []  # the rotation over: a session still on the old key names nobody
    assert track(site, SessionID=session_key, ListID=list_id)[0] == 401


def test_a_session_key_does_not_open_another_users_list(site: DjangoSite) -> None:
    other = site.account("bob")
    browser = Client()
    browser.force_login(User.objects.create_user("carol"))
    status, answer = track(site, SessionID=browser.session.session_key, ListID=other.list_id)
    assert status == 422 and answer["Errors"][0]["Code"] == 4


def test_an_inactive_users_api_key_is_refused(site: DjangoSite) -> None:
    alice = site.account("alice")
    User.objects.filter(username="alice").update(is_active=False)
    assert track(site, APIKey=alice.api_key, ListID=alice.list_id)[0] == 401


def test_the_site_keeps_its_own_pages_and_404(site: DjangoSite) -> None:
    home = site.client.get("/")
    assert home.status_code == 200 and b"Example site" in home.content
    missing = site.client.get("/nope")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")


def test_a_body_a_middleware_already_read_still_reaches_the_api(site: DjangoSite) -> None:
    alice = site.account("alice")
    body = json.dumps({"APIKey": alice.api_key, "ListID": alice.list_id, "Event": "pageView", "ID": "v"})
    request = RequestFactory().post("/api/v1/event", body, content_type="application/json")
    assert request.body == body.encode()  # as a logging or CSRF middleware would
    response = call_wsgi(get_app(), request, "event")
    assert response.status_code == 200 and json.loads(response.content)["external_id"] == "v"


def test_management_commands_print_one_json_object_each() -> None:
    User.objects.create_user("ann")
    out = StringIO()
    call_command("createapikey", "ann", stdout=out)
    api_key = json.loads(out.getvalue())["api_key"]
    assert APIKey.user_for(api_key) == User.objects.get(username="ann").pk
    out = StringIO()
    call_command("createlist", "ann", "News", stdout=out)
    assert json.loads(out.getvalue()) == {"list_id": TrackedList.objects.get(name="News").pk}


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLE / "manage.py"), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.django_db(False)
@pytest.mark.parametrize("declared", [pytest.param(None, id="no-length"), pytest.param("500", id="a-length-too")])
@pytest.mark.parametrize("padding, status", [pytest.param(0, 200, id="stored"), pytest.param(70_000, 413, id="over-the-limit")])
def test_a_chunked_body_reaches_the_api_under_wsgi(site: DjangoSite, padding: int, status: int, declared: str | None) -> None:
    from django.core.handlers.wsgi import WSGIHandler
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    alice = site.account("alice")
    body = json.dumps({"APIKey": alice.api_key, "ListID": alice.list_id, "Event": "pageView", "ID": "v"}) + " " * padding
    environ = EnvironBuilder(path="/api/v1/event", method="POST", content_type="application/json").get_environ()
    environ.pop("CONTENT_LENGTH", None)  # chunked: the server ends the stream at the body's end instead
    if declared is not None:  # passed on beside the chunks, as werkzeug's server does: the chunks frame the body
        environ["CONTENT_LENGTH"] = declared
    environ.update({"wsgi.input": BytesIO(body.encode()), "wsgi.input_terminated": True,
                    "HTTP_TRANSFER_ENCODING": "chunked"})
    answer, status_line, headers = run_wsgi_app(WSGIHandler(), environ, buffered=True)
    assert int(status_line.split()[0]) == status, b"".join(answer)
    assert get_app().store.count_events(alice.list_id) == (status == 200)


@pytest.mark.django_db(transaction=True)  # the ASGI handler queries from its own thread
def test_a_chunked_body_reaches_the_api_under_asgi(site: DjangoSite) -> None:
    from asgiref.testing import ApplicationCommunicator
    from django.core.handlers.asgi import ASGIHandler

    alice = site.account("alice")
    body = json.dumps({"APIKey": alice.api_key, "ListID": alice.list_id, "Event": "pageView", "ID": "v"}).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/event", "raw_path": b"/api/v1/event", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def exchange() -> tuple[int, bytes]:
        communicator = ApplicationCommunicator(ASGIHandler(), scope)
        await communicator.send_input({"type": "http.request", "body": body[:10], "more_body": True})
        await communicator.send_input({"type": "http.request", "body": body[10:], "more_body": False})
        start = await communicator.receive_output(10)
        content = await communicator.receive_output(10)
        await communicator.wait(10)  # the handler closes the body's file as it ends
        return start["status"], content["body"]

    status, content = asyncio.run(exchange())
    assert status == 200 and json.loads(content)["external_id"] == "v"


def test_migrate_and_runserver_answer_curl_on_a_real_port(tmp_path: Path) -> None:
    env = {**os.environ, "SITE_DB": str(tmp_path / "site.db"), "OCTETH_TRACKING_DB": str(tmp_path / "events.db"),
           "DJANGO_SUPERUSER_PASSWORD": "a long password 1"}
    manage(env, "migrate", "-v0")
    manage(env, "createsuperuser", "--username", "ann", "--email", "ann@example.com", "--noinput")
    api_key = json.loads(manage(env, "createapikey", "ann"))["api_key"]
    list_id = json.loads(manage(env, "createlist", "ann", "News"))["list_id"]
    url = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, str(EXAMPLE / "manage.py"), "runserver", "--noreload", url[7:]],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):  # up to about 30 s to start
            assert server.poll() is None, server.stderr.read()  # type: ignore[union-attr]
            try:
                urllib.request.urlopen(url + "/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        body = json.dumps({"APIKey": api_key, "ListID": list_id, "ID": "v1", "Event": "pageView"}).encode()
        request = urllib.request.Request(url + "/api/v1/event", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["external_id"] == "v1"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + "/api/v1/event", data=b"{}"), timeout=10)
        assert refused.value.code == 401 and json.loads(refused.value.read())["Errors"][0]["Code"] == 99998
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.mark.django_db(False)
def test_the_readme_snippet_is_what_the_example_project_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("## Mount in Django", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    example = "".join(path.read_text() for path in [
        EXAMPLE / "tracksite" / "settings.py", EXAMPLE / "tracksite" / "urls.py", EXAMPLE / "members" / "auth.py"])
    for line in snippet.splitlines():
        code = line.split("  #")[0].strip()
        if code.startswith(("OCTETH_TRACKING_", "from ", "class ", "return ")):
            assert code in example, code
    assert 'path("api/v1/", include("octeth_tracking.contrib.django"))' in example


@pytest.mark.django_db(transaction=True)  # the ASGI handler queries from its own thread
def test_under_asgi_too(site: DjangoSite) -> None:
    alice = site.account("alice")
    body = {"APIKey": alice.api_key, "ListID": alice.list_id, "Event": "pageView", "ID": "v"}
    response = asyncio.run(AsyncClient().post("/api/v1/event", json.dumps(body), content_type="application/json"))
    assert response.status_code == 200 and response.json()["external_id"] == "v"
    missing = asyncio.run(AsyncClient().post("/api/v1/nope", b"{}", content_type="application/json"))
    assert missing.status_code == 404 and missing.content == b'{"Errors":[{"Code":22,"Message":"Not found."}]}'


def test_only_a_lists_owner_creates_its_tracker_key_and_revoking_it_locks_it_out(site: DjangoSite) -> None:
    ann, bob = User.objects.create_user("ann"), User.objects.create_user("bob")
    news = TrackedList.objects.create(owner=ann, name="News")
    with pytest.raises(CommandError, match="is not bob's list"):
        call_command("createtracker", "bob", str(news.pk), "--origin", ORIGIN, stdout=StringIO())
    with pytest.raises(CommandError, match="is not an origin"):
        call_command("createtracker", "ann", str(news.pk), "--origin", "shop.example", stdout=StringIO())
    out = StringIO()
    call_command("createtracker", "ann", str(news.pk), "--origin", ORIGIN, stdout=out)
    created = json.loads(out.getvalue())
    key = created["tracker_key"]
    assert TrackerKey.objects.get(pk=created["tracker_id"]).digest != key  # a digest only
    body = json.dumps({"ListID": news.pk, "Event": "pageView", "ID": "v"})
    sent = Client().post(f"/api/v1/event?TrackerKey={key}", body, content_type="text/plain", headers={"Origin": ORIGIN})
    assert sent.status_code == 200 and sent["Access-Control-Allow-Origin"] == ORIGIN
    out = StringIO()
    call_command("revoketracker", key, stdout=out)
    assert json.loads(out.getvalue()) == {"revoked": True}
    again = Client().post(f"/api/v1/event?TrackerKey={key}", body, content_type="text/plain", headers={"Origin": ORIGIN})
    assert again.status_code == 401
    with pytest.raises(CommandError):
        call_command("revoketracker", key, stdout=StringIO())


class OneField:
    """A site's custom fields, as ``OCTETH_TRACKING_CUSTOM_FIELDS`` names them: a class built with no arguments."""

    def custom_fields(self, list_id: int) -> list[Any]:
        from octeth_tracking.fields import CustomField

        return [CustomField(5, list_id, "First name", "First-Name")]


def test_custom_fields_come_from_the_setting_and_api_php_from_the_root_pattern(settings: Any, tmp_path: Path) -> None:
    site = DjangoSite(settings=settings, tmp_path=tmp_path, custom_fields=f"{__name__}.OneField")
    alice = site.account("alice")
    body = {"Command": "event.track", "APIKey": alice.api_key, "ListID": str(alice.list_id), "Event": "identify",
            "Email": "jo@example.com", "IdentifyProperties[first-name]": "Jo"}
    response = site.client.post("/api.php", urlencode(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.json()["identify_event_sent"] is True
    assert [s.fields for s in get_app().store.subscribers(alice.list_id)] == [{5: "Jo"}]
