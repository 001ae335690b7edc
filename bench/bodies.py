"""Realistic request bodies for the benchmark: the reference's shapes, distinct UUIDs.

Most events are page views and custom events with 5 to 30 of the properties a browser
library sends (the reference's ``$browser``, ``$current_url`` ...); some are conversions
(with ``conversion-id``, ``-name``, ``-value``) and some identify a visitor by email.
Only identify events carry an email, so every acknowledged event is exactly one stored row.

A body is a template ``(head, tail)``: the request is ``head + uuid + tail``, so a load
generator (wrk's Lua or ours) makes each request's UUID distinct without parsing JSON.
"""

from __future__ import annotations

import json
import random
from typing import Any, Iterator

BROWSER_PROPERTIES: dict[str, Any] = {
    "$browser": "Chrome", "$browser_language": "en-US", "$browser_version": 126,
    "$current_url": "https://shop.example.com/products/blue-widget?ref=newsletter",
    "$device": "Mac", "$device_type": "Desktop", "$dsn": "https://t.example.com/1",
    "$host": "shop.example.com", "$lib": "octeth-js", "$lib_version": "1.4.2", "$os": "Mac OS X",
    "$pageTitle": "Blue widget | Example shop", "$pathname": "/products/blue-widget",
    "$referrer": "https://www.google.com/", "$referring_domain": "www.google.com",
    "$screen_height": 1117, "$screen_width": 1728, "$sent_at": "2026-11-26T10:15:02.114Z",
    "$server": "web-3", "$viewport_height": 960, "$viewport_width": 1512, "url": "https://shop.example.com/",
    "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "black-friday",
    "cart_items": 3, "cart_total": 129.5, "logged_in": True, "experiments": ["new-checkout", "banner-b"],
    "plan": {"name": "pro", "seats": 5},
}
CUSTOM_EVENTS = ["addToCart", "signup", "videoPlay", "search", "test"]


def _properties(rng: random.Random, required: dict[str, Any]) -> dict[str, Any]:
    """5 to 30 properties in all, ``required`` ones included."""
    names = rng.sample(sorted(BROWSER_PROPERTIES), rng.randint(5, 30) - len(required))
    return {**{name: BROWSER_PROPERTIES[name] for name in names}, **required}


def body(rng: random.Random, api_key: str, list_id: int, index: int) -> dict[str, Any]:
    """One body (without its UUID): 70 % page views, 15 % custom, 10 % conversions, 5 % identify."""
    roll = rng.random()
    visitor = f"visitor-{rng.randint(1, 50_000)}"
    result: dict[str, Any] = {"APIKey": api_key, "ListID": list_id, "ID": visitor}
    required: dict[str, Any] = {}
    if roll < 0.70:
        result["Event"] = "pageView"
    elif roll < 0.85:
        result["Event"] = rng.choice(CUSTOM_EVENTS)
    elif roll < 0.95:
        result["Event"] = "conversion"
        required = {"conversion-id": f"order-{index}", "conversion-name": "purchase",
                    "conversion-value": round(rng.uniform(5, 500), 2)}
    else:
        result["Event"] = "identify"
        result["Email"] = f"{visitor}@example.com"
        required = {"firstName": "Ada", "lastName": "Lovelace"}
    result["Properties"] = _properties(rng, required)
    return result


def templates(api_key: str, list_id: int, count: int = 500, seed: int = 5) -> list[tuple[str, str]]:
    """``count`` body templates: ``head + uuid + tail`` is one request body."""
    rng = random.Random(seed)
    found = []
    for index in range(count):
        text = json.dumps({"UUID": "@UUID@", **body(rng, api_key, list_id, index)})
        head, tail = text.split("@UUID@")
        found.append((head, tail))
    return found


def make_uuid(run: int, worker: int, counter: int) -> str:
    """A UUID unique per (run, worker, counter); the same layout the wrk script builds."""
    return f"{run:08x}-{worker:04x}-4000-8000-{counter:012x}"


def stream(api_key: str, list_id: int, run: int, worker: int = 0) -> Iterator[bytes]:
    """Endless distinct bodies for one connection of one run."""
    bodies = templates(api_key, list_id)
    counter = 0
    while True:
        head, tail = bodies[counter % len(bodies)]
        counter += 1
        yield (head + make_uuid(run, worker, counter) + tail).encode()


def traffic(rng: random.Random, count: int, sessions: int = 20_000) -> Iterator[tuple[str, str]]:
    """``count`` (visitor id, event UUID) pairs as a site's traffic sends them: ``sessions``
    visitors at a time, each a session of 3-12 events, events of all sessions interleaved; 80 %
    from the tracker script (UUIDv7), 10 % server calls without a UUID (the server gives a v7),
    10 % with a random v4 UUID (another client library)."""
    import uuid

    from octeth_tracking.uuids import UUIDv7

    uuid7 = UUIDv7()
    active = [[f"visitor-{rng.getrandbits(48):012x}", rng.randint(3, 12)] for _ in range(sessions)]
    for _ in range(count):
        session = active[rng.randrange(sessions)]
        session[1] -= 1
        visitor = session[0]
        if session[1] == 0:
            session[:] = [f"visitor-{rng.getrandbits(48):012x}", rng.randint(3, 12)]
        v4 = rng.random() < 0.10
        yield visitor, (str(uuid.UUID(int=rng.getrandbits(128), version=4)) if v4 else uuid7())
