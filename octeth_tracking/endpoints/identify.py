"""Whom an event identifies, and which custom fields an identify writes (the rules are in :mod:`octeth_tracking.fields`).

Read before the event is recorded: the list's fields (from the app's ``FieldDirectory``) and,
for an ``ID`` that is an email hash, the subscriber whose unique identifier it hashes. The
values then travel with the event (``Event.fields``), and the store writes them in the
identify's own transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..fields import CustomField, field_values, is_email_hash, unique_identifier

if TYPE_CHECKING:
    from ..app import TrackingApp

log = logging.getLogger("octeth_tracking")


def identified(app: TrackingApp, list_id: int, params: dict[str, Any], external_id: str,
               email: str | None) -> tuple[str | None, dict[int, str]]:
    """The event's subscriber email (its ``Email``, or the one its email-hash ``ID`` resolves to) and
    the fields to write to that subscriber (an identify's ``IdentifyProperties``, then its unique identifier).

    :param external_id: the visitor id as the answer gives it (``ID``'s text).
    :param email: the normalised ``Email``, or ``None``.
    """
    given = params.get("id")
    hashed = email is None and is_email_hash(given)  # with an Email, the email identifies
    identify = params["event"] == "identify"
    if not identify and not hashed:
        return email, {}  # the common event: nothing to read
    fields = app.custom_fields.custom_fields(list_id)
    unique = unique_identifier(fields)
    if hashed:
        email = _resolve(app, list_id, external_id, unique)
    if not identify or email is None:
        return email, {}
    values, dropped = field_values(fields, params.get("identifyproperties", {}))
    if dropped:
        log.debug("list %d: IdentifyProperties %s name no custom field of the list: dropped",
                  list_id, ", ".join(map(repr, dropped)))
    if unique is not None and external_id and given not in (None, "") and not is_email_hash(given):
        values[unique.id] = external_id  # after IdentifyProperties: the ID wins
    return email, values


def _resolve(app: TrackingApp, list_id: int, hashed: str, unique: CustomField | None) -> str | None:
    """The email of the one subscriber whose unique identifier ``hashed`` is ``sha256(trim(...))`` of; a miss is logged."""
    prefix = hashed[:8].lower()  # a short prefix only: the whole hash would let a log reader test guesses
    if unique is None:
        log.info("list %d: ID %s... is an email hash, but the list has no unique-identifier field: nobody identified",
                 list_id, prefix)
        return None
    found = app.store.subscribers_identified_by(list_id, unique.id, hashed.lower())
    if len(found) != 1:
        log.info("list %d: ID %s... is an email hash that %s: nobody identified", list_id, prefix,
                 "no subscriber's unique identifier matches" if not found else "several subscribers' unique identifiers match")
        return None
    return found[0]

