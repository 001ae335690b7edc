"""Helpers and fixtures of the real-browser tests: Debian's Chromium, the demo site, a real API server.

The site is the demo shop (``examples/tracker_demo``) with the output of ``snippet`` pasted in,
served on one port; the API is a real ``octeth-tracking serve`` on another. Chromium is driven by
Playwright for Python, launched from the ``chromium`` that Debian's package puts on the PATH (never
a browser download); without it the tests skip, loudly, and fail under
``OCTETH_TRACKING_REQUIRE_SERVICES`` (CI). Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest import Account, make_account
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
