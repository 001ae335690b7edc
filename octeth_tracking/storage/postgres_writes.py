"""The SQL of the PostgreSQL store's event writes: one ``record`` call's events in the caller's transaction.

How concurrent writers on any number of hosts stay safe is in
:mod:`~octeth_tracking.storage.postgres`'s docstring; every name read or written goes through
:func:`~octeth_tracking.storage.postgres_schema.to_db` / ``from_db``.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import psycopg

from .base import Event, Receipt, identify_uuid, sends_identify
from .fields import write_fields
from .postgres_schema import forms, from_db, to_db
from .registry import RegistryPair, registry_pairs

LINKED_EMAIL = (
    "SELECT s.email FROM visitor_links l JOIN subscribers s ON s.id = l.subscriber_id"
    " WHERE l.list_id = %s AND l.external_id = ANY(%s) ORDER BY l.external_id = %s DESC LIMIT 1"
)
_INSERT_EVENT = (
    "INSERT INTO events (list_id, uuid, external_id, event, email, properties, identify_sent, occurred_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, COALESCE(to_timestamp(%s::double precision), now()))"
    " ON CONFLICT (list_id, uuid) DO NOTHING RETURNING id"
)
# Returns a row only when the visitor was not linked to this subscriber before.
_LINK = (
    "INSERT INTO visitor_links (list_id, external_id, subscriber_id) VALUES (%s, %s, %s)"
    " ON CONFLICT (list_id, external_id) DO UPDATE"
    " SET subscriber_id = excluded.subscriber_id, linked_at = excluded.linked_at"
    " WHERE visitor_links.subscriber_id <> excluded.subscriber_id RETURNING 1"
)
def write_events(conn: psycopg.Connection[Any], events: Sequence[Event]) -> tuple[list[Receipt], set[RegistryPair]]:
    """Write events inside the caller's transaction; returns receipts and registry pairs."""
    receipts = []
    pairs: set[RegistryPair] = set()
    for event in events:
        identify = event.event == "identify" and event.email is not None  # without: an email hash that matched nobody
        external_id = to_db(event.external_id)
        properties = json.dumps(event.properties)
        inserted = conn.execute(_INSERT_EVENT, (
            event.list_id, event.uuid, external_id, to_db(event.event), event.email, properties, identify,
            event.occurred_at,
        )).fetchone()
        if inserted is None:
            # A second statement, so a fresh snapshot: it sees the row whose commit we waited for.
            original, was_sent, occurred = conn.execute(
                "SELECT external_id, identify_sent, extract(epoch FROM COALESCE(occurred_at, created_at))::float8"
                " FROM events WHERE list_id = %s AND uuid = %s",
                (event.list_id, event.uuid),
            ).fetchone()  # type: ignore[misc]
            receipts.append(Receipt(event.uuid, from_db(original), was_sent, duplicate=True, occurred_at=occurred))
            continue
        moved = False
        if event.email:
            subscriber = conn.execute(
                "INSERT INTO subscribers (list_id, email) VALUES (%s, %s)"
                " ON CONFLICT (list_id, email) DO NOTHING RETURNING id",
                (event.list_id, event.email),
            ).fetchone() or conn.execute(
                "SELECT id FROM subscribers WHERE list_id = %s AND email = %s", (event.list_id, event.email)
            ).fetchone()
            assert subscriber is not None
            link_id = external_id
            for earlier in forms(event.external_id)[1:]:  # a visitor an earlier version linked keeps its row
                if conn.execute("SELECT 1 FROM visitor_links WHERE list_id = %s AND external_id = %s",
                                (event.list_id, earlier)).fetchone():
                    link_id = earlier
            moved = conn.execute(_LINK, (event.list_id, link_id, subscriber[0])).fetchone() is not None
            if moved:  # every link a visitor ever had: a subscriber's activity (storage/reads.py)
                conn.execute("INSERT INTO visitor_link_history (list_id, subscriber_id, external_id)"
                             " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (event.list_id, subscriber[0], link_id))
            if event.fields:  # custom fields (storage/fields.py), in the identify's own transaction
                write_fields(conn.execute, "%s", event.list_id, event.email, event.fields, to_db)
        # The link upsert decided it: linked to this email already unless it moved (or was new).
        sent = sends_identify(event, None if moved else event.email)
        if sent and not identify:
            conn.execute("UPDATE events SET identify_sent = true WHERE id = %s", (inserted[0],))
            conn.execute(_INSERT_EVENT, (
                event.list_id, identify_uuid(event), external_id, "identify", event.email, properties, True, event.occurred_at,
            ))
        pairs |= registry_pairs(event, [event.event, "identify"] if sent and not identify else [event.event])
        receipts.append(Receipt(event.uuid, event.external_id, sent))
    return receipts, pairs


def register(conn: psycopg.Connection[Any], pairs: set[RegistryPair]) -> None:
    """Add (event, property) pairs to the registry, in one statement per table, in key order."""
    if not pairs:
        return
    types = sorted({(list_id, to_db(name)) for list_id, name, prop in pairs if prop is None})
    props = sorted((list_id, to_db(name), to_db(prop)) for list_id, name, prop in pairs if prop is not None)
    if types:
        conn.execute(
            "INSERT INTO event_types (list_id, event) SELECT * FROM unnest(%s::bigint[], %s::text[])"
            " ORDER BY 1, 2 ON CONFLICT DO NOTHING",
            ([t[0] for t in types], [t[1] for t in types]),
        )
    if props:
        conn.execute(
            "INSERT INTO event_properties (list_id, event, property)"
            " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING",
            ([p[0] for p in props], [p[1] for p in props], [p[2] for p in props]),
        )
