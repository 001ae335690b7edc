"""Subscribers' custom fields: what a list's fields are, and how an identify's ``IdentifyProperties`` name them.

A list has custom fields (:class:`CustomField`): an id, a name, a merge-tag alias such as
``First-Name``, and whether it is the list's unique identifier. The app asks a
:class:`FieldDirectory` for them; by default the store keeps them (``create-custom-field``),
and a host site passes its own, as it passes its own accounts (see ``examples/flask_app``).
The values live in the store, beside the subscribers, written with the identify they come from.

The rules, in one place:

- a key of ``IdentifyProperties`` names a field by its alias or as ``CustomField<ID>``, in any
  ASCII case (Octeth lowercases these keys); the alias wins when both name one field; among keys
  equal but for case, the last in the body wins; a key that names no field of the list is dropped;
- the list's unique-identifier field is its flagged field of the lowest id;
- an ``ID`` of 64 hexadecimal characters is ``sha256(trim(email))``: the hash of a value of the
  unique-identifier field, trimmed as PHP's ``trim()`` does (:func:`identifier_digest`).
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import orjson

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_CUSTOM_FIELD_KEY = re.compile(r"customfield([1-9][0-9]{0,17})")  # on a folded key; no leading zeros
_EMAIL_HASH = re.compile(r"[0-9a-fA-F]{64}")
PHP_TRIM = " \t\n\r\0\x0b"  # what PHP's trim() strips, and so what Octeth's hash of an email leaves out


@dataclass(frozen=True)
class CustomField:
    """One custom field of a list.

    :param id: unique across lists (``CustomField734`` names the field of id 734).
    :param list_id: the list it belongs to; it matches in that list's events only.
    :param name: shown to people.
    :param alias: the merge-tag alias (``First-Name``), unique in its list whatever its case; or none.
    :param unique_identifier: whether it holds the list's unique identifier (the lowest flagged id counts).
    """

    id: int
    list_id: int
    name: str
    alias: str | None = None
    unique_identifier: bool = False


@dataclass(frozen=True)
class Subscriber:
    """A subscriber of a list, with the values of its custom fields (field id to text)."""

    id: int
    email: str
    fields: dict[int, str] = field(default_factory=dict)


class FieldDirectory(Protocol):
    """Where the app finds a list's custom fields: the store by default, or the host site's own."""

    def custom_fields(self, list_id: int) -> Sequence[CustomField]:
        """The list's fields (none for a list that has none, or does not exist)."""
        ...


class NoFields:
    """A directory without fields: for a store that keeps none, when no directory is given."""

    def custom_fields(self, list_id: int) -> Sequence[CustomField]:
        return ()


def fold(name: str) -> str:
    """``name`` with A-Z lowered and nothing else changed (PHP 8's ``strtolower``): how keys and aliases compare."""
    return name.translate(_ASCII_LOWER)


def is_reserved_alias(alias: str) -> bool:
    """Whether ``alias`` reads as ``CustomField<ID>``: an alias may not, or it would hide another field's name."""
    return _CUSTOM_FIELD_KEY.fullmatch(fold(alias)) is not None


def is_email_hash(value: Any) -> bool:
    """Whether an ``ID`` is an email hash: a string of exactly 64 hexadecimal characters, in either case."""
    return isinstance(value, str) and _EMAIL_HASH.fullmatch(value) is not None


def identifier_digest(value: str) -> str:
    """``sha256(trim(value))`` in lowercase hex, trimmed as PHP trims and its case kept."""
    return hashlib.sha256(value.strip(PHP_TRIM).encode("utf-8", "surrogatepass")).hexdigest()


def field_text(value: Any) -> str:
    """A field's value as stored: a string as sent, a number or boolean as JSON writes it, null as empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # any size: orjson stops at 64 bits
    return orjson.dumps(value).decode()


def unique_identifier(fields: Sequence[CustomField]) -> CustomField | None:
    """The list's unique-identifier field: of the flagged ones, the lowest id."""
    return min((f for f in fields if f.unique_identifier), key=lambda f: f.id, default=None)


def field_values(fields: Sequence[CustomField], given: Mapping[str, Any]) -> tuple[dict[int, str], list[str]]:
    """The field id -> value that ``given`` (``IdentifyProperties``) writes, and the keys that named no field."""
    by_alias: dict[str, int] = {}
    for f in sorted(fields, key=lambda f: f.id):
        if f.alias:
            by_alias.setdefault(fold(f.alias), f.id)
    ids = {f.id for f in fields}
    aliased: dict[int, str] = {}
    numbered: dict[int, str] = {}
    dropped: list[str] = []
    for key, value in given.items():  # in body order: of keys equal but for case, the last wins
        folded = fold(key)
        match = _CUSTOM_FIELD_KEY.fullmatch(folded)
        if folded in by_alias:
            aliased[by_alias[folded]] = field_text(value)
        elif match and int(match.group(1)) in ids:
            numbered[int(match.group(1))] = field_text(value)
        else:
            dropped.append(key)
    return {**numbered, **aliased}, dropped  # the alias wins over CustomField<ID> for one field
