"""The browser tracker in a real Chromium (Debian's), on two loopback origins: the site and the API.

The site is the demo shop (``examples/tracker_demo``) with the output of ``snippet`` pasted in,
served on one port; the API is a real ``octeth-tracking serve`` on another. What reaches the
store is read from the store itself. Chromium is driven by Playwright for Python, launched
from the ``chromium`` that Debian's package puts on the PATH (never a browser download); without
it these tests skip, loudly, and fail under ``OCTETH_TRACKING_REQUIRE_SERVICES`` (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest import REFERENCE, Account, make_account
from octeth_tracking import SQLiteStore
from octeth_tracking.browser import snippet
from servers import Server
from services import missing

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "examples" / "tracker_demo"))
import serve as demo  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1240, "height": 470}  # the demo's three cards side by side, for its screenshot
# What the issue (and Octeth's own tracker, in the reference's properties example) names.
AUTOMATIC = {
    "$browser", "$browser_version", "$browser_language", "$os", "$device", "$device_type", "$current_url", "$host",
    "$pathname", "$page_title", "$referrer", "$referring_domain", "$screen_width", "$screen_height", "$viewport_width",
    "$viewport_height", "$lib", "$lib_version", "$list_id", "$uuid", "$sent_at", "$id",
}
UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def wait_until(check: Callable[[], Any], page: Any = None, timeout: float = 20.0, what: str = "") -> Any:
    """``check()``'s first true answer. With a ``page``, Playwright's events (route handlers, responses) run
    meanwhile: its sync API dispatches them only inside its own calls."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        if page is None:
            time.sleep(0.05)
        else:
            page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        missing("Chromium", "no `chromium` on the PATH: apt-get install -y chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        missing("Chromium", f"Playwright for Python is not installed ({error}): pip install -e '.[test]'")
    with sync_playwright() as playwright:
        # Playwright gives every launch an empty profile of its own (a fresh --user-data-dir).
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield launched
        launched.close()


class Deployment:
    """The API server on one port and the demo site on another, for the whole module."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "events.db"
        self.store = SQLiteStore(self.db)
        self.site = demo.serve_in_background()
        self.origin = f"http://127.0.0.1:{self.site.server_address[1]}"
        self.api = Server(tmp_path, "serve", "--port", "0", "--db", str(self.db))

    def close(self) -> None:
        self.site.shutdown()
        self.site.server_close()
        self.store.close()
        self.api.stop()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    made = Deployment(tmp_path_factory.mktemp("browser"))
    yield made
    made.close()


class World:
    """One test's own user and list, with a tracker key for the demo site, whose page now holds its snippet."""

    def __init__(self, deployment: Deployment, name: str) -> None:
        self.deployment, self.store, self.db, self.api = deployment, deployment.store, deployment.db, deployment.api
        self.site, self.origin = deployment.site, deployment.origin
        self.account: Account = make_account(self.store, name)
        self.tracker_id, self.key = self.store.create_tracker(self.account.list_id, [self.origin])
        self.site.snippet = self.snippet()

    def snippet(self, **options: Any) -> str:
        """What ``octeth-tracking snippet --tracker KEY --url API`` prints (test_tracker_commands.py): what a user pastes."""
        return snippet(self.api.url, self.key, self.account.list_id, options)

    def events(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.db) as db:
            rows = db.execute("SELECT uuid, external_id, event, email, properties FROM events WHERE list_id = ? "
                              "ORDER BY id", (self.account.list_id,)).fetchall()
        return [{"uuid": u, "id": i, "event": e, "email": m, "properties": json.loads(p)} for u, i, e, m, p in rows]


@pytest.fixture
def world(deployment: Deployment, request: pytest.FixtureRequest) -> World:
    return World(deployment, request.node.name)


@pytest.fixture(scope="module")
def shared_world(deployment: Deployment) -> World:
    """One world for the tests that read only what the page queued, never the store."""
    return World(deployment, "shared")


@pytest.fixture
def page(browser: Any, world: World) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    opened = context.new_page()
    opened.responses = []  # type: ignore[attr-defined]
    opened.on("response", lambda response: opened.responses.append(response))  # type: ignore[attr-defined]
    yield opened
    context.close()


def load(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.octethTracker && octethTracker.loaded === true")


def queued(page: Any, world: World) -> list[dict[str, Any]]:
    return page.evaluate(f"JSON.parse(localStorage.getItem('octeth_tracker_queue:{world.key}') || '[]')")


def test_a_page_load_stores_a_page_view_with_the_automatic_properties(page, world):
    load(page, world.origin + "/")
    stored, = wait_until(world.events, what="the page view")
    visitor = page.evaluate("octethTracker.visitorId")
    properties = stored["properties"]
    assert (stored["event"], stored["id"], stored["email"]) == ("pageView", visitor, None)
    assert set(properties) == AUTOMATIC | {"url"}
    assert UUID7.fullmatch(stored["uuid"]) and properties["$uuid"] == stored["uuid"]
    assert properties["$id"] == visitor and properties["$list_id"] == world.account.list_id
    assert properties["url"] == properties["$current_url"] == world.origin + "/"
    assert {name: properties[name] for name in ("$host", "$pathname", "$page_title", "$referrer", "$referring_domain",
                                                "$browser", "$os", "$device", "$device_type", "$browser_language",
                                                "$viewport_width", "$viewport_height", "$lib")} == {
        "$host": world.origin[7:], "$pathname": "/", "$page_title": "Demo shop: Octeth tracking", "$referrer": "",
        "$referring_domain": "", "$browser": "Chrome", "$os": "Linux", "$device": "Desktop", "$device_type": "desktop",
        "$browser_language": "en-US", "$viewport_width": VIEWPORT["width"], "$viewport_height": VIEWPORT["height"],
        "$lib": "octeth-tracker.js",
    }
    assert properties["$browser_version"].split(".")[0] == page.context.browser.version.split(".")[0]
    assert properties["$screen_width"] >= VIEWPORT["width"] and properties["$screen_height"] >= VIEWPORT["height"]
    sent_at = datetime.fromisoformat(properties["$sent_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - sent_at).total_seconds()) < 60
    cookie, = [c for c in page.context.cookies() if c["name"] == "octeth_id"]
    assert cookie["value"] == visitor and cookie["domain"] == "127.0.0.1"  # first-party: the site's own
    assert 364 * 86400 < cookie["expires"] - time.time() <= 365 * 86400 and cookie["sameSite"] == "Lax"


def test_clicks_send_a_custom_event_and_a_conversion(page, world):
    load(page, world.origin + "/")
    wait_until(world.events)
    page.click("#add-to-cart")
    page.click("#buy")
    events = wait_until(lambda: len(world.events()) == 3 and world.events(), what="the two clicks")
    assert [event["event"] for event in events] == ["pageView", "add-to-cart", "conversion"]
    assert len({event["id"] for event in events}) == 1
    cart, conversion = events[1]["properties"], events[2]["properties"]
    assert (cart["product"], cart["price"]) == ("blue-mug", 12.5)
    assert conversion["conversion-id"].startswith("order-")
    assert (conversion["conversion-name"], conversion["conversion-value"], conversion["product"]) == (
        "purchase", 12.5, "blue-mug")
    assert sorted(event["uuid"] for event in events) == [event["uuid"] for event in events]  # UUIDv7: time order
    wait_until(lambda: page.inner_text("#waiting") == "0")
    path = Path(os.environ.get("OCTETH_TRACKING_SCREENSHOT") or world.db.with_name("demo.png"))
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_identify_links_the_visitor_of_the_earlier_page_view(page, world):
    load(page, world.origin + "/")
    first, = wait_until(world.events)
    assert world.store.subscriber_email(world.account.list_id, first["id"]) is None
    page.fill("input[name=firstName]", "Ann")
    page.fill("input[name=email]", "Ann@Example.com")
    page.click("#subscribe")
    wait_until(lambda: len(world.events()) == 2, what="the identify event")
    identify = world.events()[1]
    assert (identify["event"], identify["id"], identify["email"]) == ("identify", first["id"], "ann@example.com")
    assert (identify["properties"]["form"], identify["properties"]["firstName"]) == ("newsletter", "Ann")
    assert world.store.subscriber_email(world.account.list_id, first["id"]) == "ann@example.com"
    load(page, world.origin + "/")  # the next visit keeps the id, so it follows the subscriber too
    wait_until(lambda: len(world.events()) == 3)
    assert world.events()[2]["id"] == first["id"]


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


def test_an_event_sent_while_offline_is_delivered_once(page, world):
    load(page, world.origin + "/")
    wait_until(world.events)
    refused: list[str] = []

    def offline(route: Any) -> None:
        refused.append(route.request.url)
        route.abort("internetdisconnected")

    page.route("**/event?*", offline)
    page.click("#add-to-cart")
    wait_until(lambda: len(refused) >= 2, page, what="a first try and a retry")  # backs off, tries again
    assert len(world.events()) == 1 and len(queued(page, world)) == 1
    page.unroute("**/event?*")
    wait_until(lambda: len(world.events()) == 2, page, what="the retry once back online")
    wait_until(lambda: queued(page, world) == [], page, what="the queue to empty")
    page.wait_for_timeout(1000)  # nothing more arrives
    assert [event["event"] for event in world.events()] == ["pageView", "add-to-cart"]


def test_an_event_queued_at_the_end_of_a_visit_is_sent_by_the_next_page_once(page, world):
    load(page, world.origin + "/")
    wait_until(world.events)
    page.route("**/event?*", lambda route: route.abort("internetdisconnected"))
    page.click("#add-to-cart")
    wait_until(lambda: len(queued(page, world)) == 1 and queued(page, world)[0]["tries"] >= 1, page)
    uuid = queued(page, world)[0]["body"]["UUID"]
    page.close()  # pagehide: a beacon, refused too; the event stays in localStorage
    after = page.context.new_page()
    load(after, world.origin + "/")  # a new page view, and the queued click, from the same browser
    events = wait_until(lambda: len(world.events()) == 3 and world.events(), what="the next page's sends")
    assert sorted(event["event"] for event in events) == ["add-to-cart", "pageView", "pageView"]
    assert [event["uuid"] for event in events if event["event"] == "add-to-cart"] == [uuid]
    wait_until(lambda: queued(after, world) == [])


def test_a_page_on_an_origin_not_on_the_list_stores_nothing(page, world):
    other = demo.serve_in_background(world.snippet())  # the same page and snippet, another port: another origin
    refused = world.api.stderr.count("POST /api/v1/event 403")
    try:
        load(page, f"http://127.0.0.1:{other.server_address[1]}/")
        page.click("#add-to-cart")
        # The page cannot read a refusal (it carries no CORS header): the API's log shows them.
        wait_until(lambda: world.api.stderr.count("POST /api/v1/event 403") >= refused + 2, page,
                   what="the API's refusals")
    finally:
        other.shutdown()
        other.server_close()
    time.sleep(0.5)
    assert world.events() == []
    assert len(queued(page, world)) == 2  # unreadable refusals look like a network failure: kept, with a try limit


def test_the_properties_endpoint_lists_the_automatic_names_like_the_reference(page, world):
    load(page, world.origin + "/")
    page.click("#add-to-cart")
    page.fill("input[name=email]", "ann@example.com")
    page.click("#subscribe")
    wait_until(lambda: len(world.events()) == 3)
    request = urllib.request.Request(world.api.url + "/website_events.properties", method="POST", data=json.dumps(
        {"APIKey": world.account.api_key, "ListID": world.account.list_id}).encode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        listed = json.loads(answer.read())["Properties"]
    assert sorted(listed) == ["add-to-cart", "identify", "pageView"]
    reference = REFERENCE["properties_success_response"]["Properties"]
    named_there = {name for names in reference.values() for name in names if name.startswith("$")}
    for event, names in listed.items():
        ours = {name for name in names if name.startswith("$")}
        assert ours == AUTOMATIC and ours <= named_there, event
        assert names == sorted(names)
    # The reference's other $-names come from Octeth's own servers (or, $pageTitle, an older tracker).
    assert named_there - AUTOMATIC == {"$dsn", "$server", "$pageTitle"}
    assert {name for name in listed["pageView"] if not name.startswith("$")} == {"url"}


def test_no_secret_api_key_is_in_any_page_the_site_or_the_api_serves(page, world):
    load(page, world.origin + "/")
    page.click("#add-to-cart")
    wait_until(lambda: len(world.events()) == 2)
    bodies = [response.body() for response in page.responses if response.status != 204]
    assert any(b"octethTracker" in body for body in bodies) and len(bodies) >= 4  # page, script, two events
    for secret in (world.account.api_key, world.store.create_api_key(world.account.user_id)):
        assert all(secret.encode() not in body for body in bodies)
        assert secret not in page.content()
    assert world.key in page.content()  # the tracker key is public, by design


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
