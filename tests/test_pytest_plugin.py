"""The pytest plugin, as another project uses it: its test files run by pytest in a directory of
their own (pytester), with the plugin found through the package's ``pytest11`` entry point."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def a_host_projects_environment(monkeypatch):
    """The host project's own: not the Django settings that this suite's Django example set."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)


PLAIN = '''
def test_signup_is_tracked(octeth_tracking):
    octeth_tracking.track("signup", ID="visitor-1", Properties={"plan": "pro"})
    octeth_tracking.assert_tracked("signup", id="visitor-1", properties={"plan": "pro"})
    assert octeth_tracking.properties() == {"signup": ["plan"]}
'''


def test_a_host_projects_test_tracks_and_asserts_in_a_few_lines(pytester):
    pytester.makepyfile(test_host=PLAIN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


READ_BACK = '''
def test_what_a_signup_tracks(octeth_tracking):
    octeth_tracking.track("pageView", ID="v1", Properties={"url": "/pricing"})
    octeth_tracking.track("signup", ID="v1", Email="Ann@Example.com", Properties={"plan": "free"})
    assert [e["Event"] for e in octeth_tracking.events()] == ["pageView", "signup", "identify"]
    assert [e["Event"] for e in octeth_tracking.events(email="ann@example.com", event="signup")] == ["signup"]
    octeth_tracking.assert_tracked("identify", email="ann@example.com", count=1)
    octeth_tracking.assert_tracked("pageView", count=0, properties={"url": "/"})

def test_a_failed_assertion_shows_what_was_stored(octeth_tracking):
    octeth_tracking.track("pageView", ID="v1", Properties={"url": "/pricing"})
    octeth_tracking.track("signup", ID="v1", Properties={"plan": "free"})
    octeth_tracking.assert_tracked("signup", properties={"plan": "pro"})
'''


def test_events_read_back_and_assertions_say_what_was_stored_against_what_was_expected(pytester):
    pytester.makepyfile(test_host=READ_BACK)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert ("AssertionError: expected at least one event with Event 'signup', Properties including "
            '{"plan": "pro"}; 0 of the 2 stored in list 1 match:') in out
    assert """'pageView'  ID 'v1'  Properties {"url": "/pricing"}""" in out
    assert """'signup'  ID 'v1'  Properties {"plan": "free"}""" in out


ISOLATED = '''
import os
import pytest

@pytest.mark.parametrize("name", ["first", "second", "third", "fourth"])
def test_each_test_has_its_own_store(octeth_tracking, name):
    octeth_tracking.track(name, Properties={name: 1})
    assert octeth_tracking.properties() == {name: [name]}
    print("worker", os.environ.get("PYTEST_XDIST_WORKER"))
'''


def test_each_test_and_each_xdist_worker_has_its_own_store(pytester):
    pytester.makepyfile(test_host=ISOLATED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "xdist", "-n", "2", "-s")
    result.assert_outcomes(passed=4)
    assert "2 workers" in result.stdout.str()


DEFAULTS = '''
import pytest

def test_production_limits_do_not_bite(octeth_tracking):
    for _ in range(101):  # production's limit: 100 a minute
        octeth_tracking.properties()
    assert octeth_tracking.store.revoke_api_key(octeth_tracking.api_key)
    assert octeth_tracking.post("/event", {**octeth_tracking.credentials(), "Event": "x"}).status_code == 401

@pytest.mark.octeth_tracking(max_event_length=3)
def test_a_marker_sets_the_apps_arguments(octeth_tracking):
    assert octeth_tracking.post("/event", {**octeth_tracking.credentials(), "Event": "four"}).status_code == 422
    (refused,) = octeth_tracking.rejected()
    assert [(e["Code"], e["Message"]) for e in refused["Errors"]] == [(12, "Event parameter is too long.")]

def test_a_refusal_is_an_assertion_error_that_says_why(octeth_tracking):
    octeth_tracking.track("")
'''


def test_test_friendly_defaults_markers_and_readable_refusals(pytester):
    pytester.makepyfile(test_host=DEFAULTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    assert ('TrackingError: the API answered 422: {"Errors": [{"Code": 5, "Message": "Missing event parameter.", '
            '"Detail": "Event must not be empty"}]}') in result.stdout.str()


SERVER = '''
import json, urllib.request

def test_code_that_calls_the_api_over_http(octeth_tracking_server):
    kit = octeth_tracking_server
    body = json.dumps({"APIKey": kit.api_key, "ListID": kit.list_id, "Event": "pageView", "Properties": {"url": "/"}})
    request = urllib.request.Request(kit.url + "/event", data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert kit.properties() == {"pageView": ["url"]}
'''


def test_a_real_server_for_code_that_calls_the_api_over_http(pytester):
    pytester.makepyfile(test_host=SERVER)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


FLASK = '''
from flask import Flask
from octeth_tracking.contrib.flask import init_app

def test_the_sites_own_mount_serves_the_kits_store(octeth_tracking):
    site = Flask("site")
    site.config.update(octeth_tracking.settings())
    init_app(site)
    answer = site.test_client().post("/api/v1/event", json={**octeth_tracking.credentials(), "Event": "signup"})
    assert answer.status_code == 200
    assert octeth_tracking.properties() == {"signup": []}
'''


def test_a_flask_host_mounts_the_kit(pytester):
    pytester.makepyfile(test_host=FLASK)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


DJANGO_SETTINGS = '''
SECRET_KEY = "test"
ROOT_URLCONF = "hosturls"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = []
DATABASES = {}
USE_TZ = True
'''
DJANGO_URLS = '''
from django.urls import include, path
urlpatterns = [path("api/v1/", include("octeth_tracking.contrib.django"))]
'''
DJANGO = '''
def test_the_sites_urlconf_serves_the_kits_store(octeth_tracking, settings, client):
    for name, value in octeth_tracking.settings().items():
        setattr(settings, name, value)
    answer = client.post("/api/v1/event", {**octeth_tracking.credentials(), "Event": "signup"}, content_type="application/json")
    assert answer.status_code == 200
    assert octeth_tracking.properties() == {"signup": []}
'''


def test_a_django_host_under_pytest_django_mounts_the_kit(pytester):
    pytester.makepyfile(hostsettings=DJANGO_SETTINGS, hosturls=DJANGO_URLS, test_host=DJANGO)
    pytester.makeini("[pytest]\npythonpath = .\nDJANGO_SETTINGS_MODULE = hostsettings\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
