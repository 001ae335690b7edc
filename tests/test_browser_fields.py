"""The browser tracker's identify with a subscriber's custom fields and by email hash, in a real
Chromium (Octeth 5.9: ``eventI(emailOrSha256, properties, identifyProperties)``)."""

from __future__ import annotations

import hashlib
import json

from browsers import browser, deployment, load, page, wait_until, world  # noqa: F401 (fixtures)


def test_identify_properties_from_a_page_set_the_subscribers_fields(page, world):  # noqa: F811
    field = world.store.create_custom_field(world.account.list_id, "First name", "First-Name")
    load(page, world.origin + "/")
    page.fill("input[name=firstName]", "Ann")
    page.fill("input[name=email]", "ann@example.com")
    page.click("#subscribe")
    wait_until(lambda: world.store.subscribers(world.account.list_id), page, what="the subscriber")
    (subscriber,) = world.store.subscribers(world.account.list_id)
    assert (subscriber.email, subscriber.fields) == ("ann@example.com", {field: "Ann"})
    identify = [e for e in world.events() if e["event"] == "identify"][0]
    assert "First-Name" not in identify["properties"]  # IdentifyProperties never become event properties


def test_an_email_hash_in_place_of_the_email_identifies_by_the_unique_field(page, world):  # noqa: F811
    key = world.store.create_custom_field(world.account.list_id, "Email", "Email", unique_identifier=True)
    # Bob is a subscriber already, his unique identifier field set by a server-side identify (with no
    # ID of its own, which would be written into that field).
    answer = world.api.event({"APIKey": world.account.api_key, "ListID": world.account.list_id, "Event": "identify",
                              "Email": "bob@example.com", "IdentifyProperties": {"Email": "bob@example.com"}})
    assert answer[0] == 200
    load(page, world.origin + "/")
    hashed = hashlib.sha256(b"bob@example.com").hexdigest()
    page.evaluate(f"octethTracker.eventI({json.dumps(hashed)})")
    wait_until(lambda: world.store.subscriber_email(world.account.list_id, hashed), page, what="the hash's link")
    assert world.store.subscriber_email(world.account.list_id, hashed) == "bob@example.com"
    assert [s.fields for s in world.store.subscribers(world.account.list_id)] == [{key: "bob@example.com"}]
