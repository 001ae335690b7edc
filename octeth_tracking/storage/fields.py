"""Custom fields and subscribers' values, written once for both stores (as :mod:`.accounts` is).

Two tables: ``custom_fields`` (id, list, name, alias and its folded form ``alias_key``, whether
it is the unique identifier) and ``subscriber_fields`` (subscriber, field id, value, and the
value's :func:`~octeth_tracking.fields.identifier_digest`, indexed per field, so that an email
hash finds its subscriber with one lookup). Values are keyed by field id alone, with no
reference to ``custom_fields``: a host site's own fields (a ``FieldDirectory``) store theirs here too.

The SQL is in ``?`` style; PostgreSQL sets :attr:`SQLFields.placeholder` and escapes text
(:meth:`SQLFields._text_in`, ``_text_out``) as it does names. :func:`write_fields` is what both
write paths call inside the transaction of the identify event the values come from.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..fields import CustomField, Subscriber, fold, identifier_digest, is_reserved_alias
from .sql import SQLStatements

_SUBSCRIBER = "SELECT id FROM subscribers WHERE list_id = ? AND email = ?"
_UPSERT = (
    "INSERT INTO subscriber_fields (subscriber_id, field_id, value, digest) VALUES {rows}"
    " ON CONFLICT (subscriber_id, field_id) DO UPDATE SET value = excluded.value, digest = excluded.digest"
)
_LONGEST = 255  # characters of a field's name or alias
_HIGHEST_ID = 10**18 - 1  # what CustomField<ID> can name (as ListID: 18 digits)


def write_fields(execute: Callable[[str, tuple[Any, ...]], Any], placeholder: str, list_id: int, email: str,
                 values: Mapping[int, str], text_in: Callable[[str], str] = str) -> None:
    """Set the fields of the list's subscriber of ``email`` (which exists) inside the caller's transaction.

    One statement, in field order (so that two PostgreSQL transactions writing one subscriber never
    wait on each other in a cycle).

    :param execute: the connection's ``execute``.
    :param placeholder: its parameter style (``?``, ``%s``).
    :param text_in: how the store writes text (PostgreSQL escapes U+0000).
    """
    (subscriber_id,) = execute(_SUBSCRIBER.replace("?", placeholder), (list_id, email)).fetchone()
    rows = [(subscriber_id, field_id, text_in(value), identifier_digest(value)) for field_id, value in sorted(values.items())]
    sql = _UPSERT.format(rows=", ".join(["(?, ?, ?, ?)"] * len(rows)))  # one statement: one step for SQLite's VM
    execute(sql.replace("?", placeholder), tuple(value for row in rows for value in row))


def _checked(name: str, alias: str | None, field_id: int | None) -> None:
    if field_id is not None and not 1 <= field_id <= _HIGHEST_ID:
        raise ValueError(f"a custom field's id must be 1 to {_HIGHEST_ID}")
    if not name.strip() or len(name) > _LONGEST:
        raise ValueError(f"a custom field's name must have 1 to {_LONGEST} characters")
    if alias is not None and (not alias.strip() or len(alias) > _LONGEST):
        raise ValueError(f"an alias must have 1 to {_LONGEST} characters")
    if alias is not None and is_reserved_alias(alias):
        raise ValueError(f"the alias {alias!r} reads as CustomField<ID>, another field's name: choose another")


class SQLFields(SQLStatements):
    """Custom fields and subscribers (the store's ``FieldDirectory`` and admin reads), over the
    store's primitives (:class:`~octeth_tracking.storage.sql.SQLStatements`)."""

    def _id_given(self, table: str) -> None:
        """After a row was inserted with an id of its own: let the store's own ids pass it."""

    def create_custom_field(self, list_id: int, name: str, alias: str | None = None, *,
                            unique_identifier: bool = False, field_id: int | None = None) -> int:
        _checked(name, alias, field_id)
        if self._read_one(self._sql("SELECT id FROM lists WHERE id = ?"), (list_id,)) is None:
            raise LookupError(f"no list with id {list_id}")
        key = None if alias is None else self._text_in(fold(alias))
        if key is not None and self._read_one(
                self._sql("SELECT id FROM custom_fields WHERE list_id = ? AND alias_key = ?"), (list_id, key)) is not None:
            raise ValueError(f"list {list_id} has a field with the alias {alias!r} already (aliases compare in any case)")
        if field_id is not None and self._read_one(self._sql("SELECT id FROM custom_fields WHERE id = ?"), (field_id,)):
            raise ValueError(f"custom field id {field_id} is taken")
        columns = "list_id, name, alias, alias_key, unique_identifier, created_at"
        row = (list_id, self._text_in(name), None if alias is None else self._text_in(alias), key, unique_identifier,
               self._timestamp(self.clock()))
        if field_id is None:
            return self._insert_id(self._sql(f"INSERT INTO custom_fields ({columns}) VALUES (?, ?, ?, ?, ?, ?)"), row)
        self._insert_id(self._sql(f"INSERT INTO custom_fields (id, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                        (field_id, *row))
        self._id_given("custom_fields")
        return field_id

    def custom_fields(self, list_id: int) -> list[CustomField]:
        rows = self._read_rows(self._sql(
            "SELECT id, name, alias, unique_identifier FROM custom_fields WHERE list_id = ? ORDER BY id"), (list_id,))
        return [CustomField(int(id_), list_id, self._text_out(name), None if alias is None else self._text_out(alias),
                            bool(unique)) for id_, name, alias, unique in rows]

    def subscribers(self, list_id: int, *, after: int = 0, limit: int = 100) -> list[Subscriber]:
        found = {int(id_): Subscriber(int(id_), email) for id_, email in self._read_rows(self._sql(
            "SELECT id, email FROM subscribers WHERE list_id = ? AND id > ? ORDER BY id LIMIT ?"), (list_id, after, limit))}
        if found:
            for subscriber_id, field_id, value in self._read_rows(self._sql(
                    "SELECT subscriber_id, field_id, value FROM subscriber_fields WHERE subscriber_id IN"
                    f" ({', '.join('?' * len(found))}) ORDER BY subscriber_id, field_id"), tuple(found)):
                found[int(subscriber_id)].fields[int(field_id)] = self._text_out(value)
        return list(found.values())

    def subscribers_identified_by(self, list_id: int, field_id: int, digest: str) -> list[str]:
        return [email for (email,) in self._read_rows(self._sql(
            "SELECT s.email FROM subscriber_fields f JOIN subscribers s ON s.id = f.subscriber_id"
            " WHERE f.field_id = ? AND f.digest = ? AND s.list_id = ? ORDER BY s.id LIMIT 2"), (field_id, digest, list_id))]
