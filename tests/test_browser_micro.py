"""A website's browser test against a micro server: the page on its own origin tracks into
``serve --micro``, and the test asks the micro server what arrived (Snowplow Micro's use)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from browsers import FLAGS, browser, demo, wait_until  # noqa: F401 (browser: a fixture)
from octeth_tracking.browser import snippet
from servers import ROOT


@pytest.fixture
def site_and_micro():
    site = demo.serve_in_background()
    origin = f"http://127.0.0.1:{site.server_address[1]}"
    micro = subprocess.Popen([sys.executable, "-m", "octeth_tracking", "serve", "--micro", "--port", "0", "--origin", origin],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = json.loads(micro.stdout.readline())
    site.snippet = snippet(started["url"], started["tracker_key"], started["list_id"], {})
    yield origin, started
    micro.terminate()
    micro.wait(10)
    micro.stdout.close()
    micro.stderr.close()
    site.shutdown()
    site.server_close()


def ask(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_a_page_tracks_into_a_micro_server_and_the_test_reads_it_back(browser, site_and_micro):  # noqa: F811
    origin, started = site_and_micro
    context = browser.new_context()
    page = context.new_page()
    page.goto(origin + "/")
    page.wait_for_function("window.octethTracker && octethTracker.loaded === true")
    counts = wait_until(lambda: (c := ask(started["url"] + "/micro/all"))["good"] >= 1 and c, page, what="the page view")
    assert counts == {"total": 1, "good": 1, "bad": 0}
    (view,) = ask(started["url"] + "/micro/good")["Events"]  # what the page sent, as stored
    assert view["Event"] == "pageView" and view["ListID"] == str(started["list_id"])
    assert view["Properties"]["url"] == origin + "/" and view["Properties"]["$pathname"] == "/"
    assert ask(started["url"] + "/micro/good?event=pageView&ID=" + view["ID"])["Events"] == [view]
    assert ask(started["url"] + "/micro/good?Event=click")["Events"] == []
    assert started["api_key"] not in page.content()  # the page holds the public tracker key only
    context.close()
