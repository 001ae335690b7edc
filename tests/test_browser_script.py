"""The tracker script's own behaviour in a real Chromium: DNT/GPC, user agents, the queue's bound, early calls."""

from __future__ import annotations

import time
from typing import Any

import pytest

from browsers import (  # noqa: F401 (fixtures)
    browser, deployment, load, page, queued, shared_world, wait_until, world,
)


def test_calls_made_before_the_script_loads_are_queued_then_sent(page, world):
    held: list[Any] = []
    page.route("**/tracker.js", lambda route: held.append(route))
    page.goto(world.origin + "/", wait_until="domcontentloaded")
    page.evaluate("octethTracker.eventT('early-click', {early: true})")
    assert page.evaluate("octethTracker.q.length") == 1 and not page.evaluate("octethTracker.loaded")
    wait_until(lambda: held, page, what="the script's request")
    held[0].continue_()
    events = wait_until(lambda: len(world.events()) == 2 and world.events(), page, what="the queued call")
    in_time_order = sorted(events, key=lambda event: event["uuid"])  # sent at once, so stored in either order
    assert [(event["event"], event["properties"].get("early")) for event in in_time_order] == [
        ("pageView", None), ("early-click", True)]


@pytest.mark.parametrize("privacy_on, signal, stored", [
    pytest.param(True, "navigator.globalPrivacyControl", 0, id="gpc-honoured"),
    pytest.param(True, "navigator.doNotTrack", 0, id="dnt-honoured"),
    pytest.param(True, None, 2, id="no-signal"),
    pytest.param(False, "navigator.globalPrivacyControl", 2, id="site-did-not-ask"),
])
def test_do_not_track_and_gpc_when_the_site_turns_it_on(browser, world, privacy_on, signal, stored):
    world.site.snippet = world.snippet(respectPrivacy=True) if privacy_on else world.snippet()
    context = browser.new_context()
    if signal:
        owner, name = signal.split(".")
        value = "true" if name == "globalPrivacyControl" else "'1'"
        context.add_init_script(f"Object.defineProperty(Navigator.prototype, '{name}', {{get: () => {value}}})")
    page = context.new_page()
    try:
        load(page, world.origin + "/")
        page.click("#add-to-cart")
        if stored:
            wait_until(lambda: len(world.events()) == stored)
        else:
            time.sleep(1.5)
            assert page.evaluate("octethTracker.visitorId") is None and context.cookies() == []
            assert queued(page, world) == []
        assert len(world.events()) == stored
    finally:
        context.close()


# (user agent, $browser, $os, $device, $device_type): parsed in the page, from navigator.userAgent.
AGENTS = [
    pytest.param("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
                 "Safari/537.36", "Chrome", "126.0.0.0", "Windows", "Desktop", "desktop", id="chrome-windows"),
    pytest.param("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
                 "Safari/537.36 Edg/126.0.2592.87", "Edge", "126.0.2592.87", "Windows", "Desktop", "desktop", id="edge"),
    pytest.param("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox",
                 "127.0", "Mac OS X", "Desktop", "desktop", id="firefox-mac"),
    pytest.param("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1", "Safari", "17.5", "iOS", "iPhone", "mobile", id="safari-iphone"),
    pytest.param("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 "
                 "Mobile/15E148 Safari/604.1", "Chrome", "126.0", "iOS", "iPad", "tablet", id="chrome-ipad"),
    pytest.param("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
                 "Safari/537.36", "Chrome", "126.0.0.0", "Android", "Android", "mobile", id="chrome-android"),
    pytest.param("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
                 "Chrome/121.0.0.0 Safari/537.36", "Samsung Internet", "25.0", "Android", "Android", "tablet",
                 id="samsung-tablet"),
    pytest.param("curl/8.5.0", "Other", "", "Other", "Desktop", "desktop", id="unknown"),
]


@pytest.mark.parametrize("agent, name, version, system, device, kind", AGENTS)
def test_the_user_agent_is_parsed_in_the_page(browser, shared_world, agent, name, version, system, device, kind):
    world = shared_world
    context = browser.new_context(user_agent=agent)
    page = context.new_page()
    try:
        page.route("**/event?*", lambda route: route.abort())  # keep it in the queue, where the test reads it
        load(page, world.origin + "/")
        entry, = wait_until(lambda: queued(page, world))
        properties = entry["body"]["Properties"]
        assert [properties[f"${key}"] for key in ("browser", "browser_version", "os", "device", "device_type")] == [
            name, version, system, device, kind]
    finally:
        context.close()


def test_the_queue_is_bounded_and_drops_the_oldest(browser, world):
    world.site.snippet = world.snippet(queueSize=3)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.route("**/event?*", lambda route: route.abort())
        load(page, world.origin + "/")
        for n in range(5):
            page.evaluate(f"octethTracker.eventT('click-{n}')")
        names = [entry["body"]["Event"] for entry in queued(page, world)]
        assert names == ["click-2", "click-3", "click-4"]  # the page view and the first two clicks went
    finally:
        context.close()
