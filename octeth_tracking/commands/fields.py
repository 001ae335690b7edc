"""Custom fields and subscribers: create a list's fields, list them, show its subscribers with their values."""

from __future__ import annotations

import argparse
import sys

from ..fields import CustomField
from ..storage import Store
from . import Command, print_json


def _count(text: str) -> int:
    """An argument that counts something: a whole number, 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is below 0")
    return value


def _list_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list-id", type=int, required=True)


def _create_arguments(parser: argparse.ArgumentParser) -> None:
    _list_id(parser)
    parser.add_argument("--name", required=True, help="shown to people")
    parser.add_argument("--alias", help="merge-tag alias (First-Name): the IdentifyProperties key that names it")
    parser.add_argument("--unique-identifier", action="store_true",
                        help="the field holds the list's unique identifier (of several, the lowest id counts)")
    parser.add_argument("--id", type=int, dest="field_id", metavar="ID",
                        help="its id, to keep an Octeth field's CustomField<ID> (default: the next free one)")


def _create(args: argparse.Namespace, store: Store) -> int:
    try:
        field_id = store.create_custom_field(args.list_id, args.name, args.alias,
                                             unique_identifier=args.unique_identifier, field_id=args.field_id)
    except ValueError as error:
        print(f"octeth-tracking: {error}", file=sys.stderr)
        return 1
    print_json({"custom_field_id": field_id})
    return 0


def _described(field: CustomField) -> dict[str, object]:
    return {"id": field.id, "name": field.name, "alias": field.alias, "key": f"CustomField{field.id}",
            "unique_identifier": field.unique_identifier}


def _fields(args: argparse.Namespace, store: Store) -> int:
    print_json({"list_id": args.list_id, "custom_fields": [_described(f) for f in store.custom_fields(args.list_id)]})
    return 0


def _subscribers_arguments(parser: argparse.ArgumentParser) -> None:
    _list_id(parser)
    parser.add_argument("--after", type=_count, default=0, metavar="ID", help="only subscribers of a higher id (paging)")
    parser.add_argument("--limit", type=_count, default=100, help="most subscribers printed (default 100)")


def _subscribers(args: argparse.Namespace, store: Store) -> int:
    found = store.subscribers(args.list_id, after=args.after, limit=args.limit)
    print_json({"list_id": args.list_id, "subscribers": [
        {"id": s.id, "email": s.email, "fields": {f"CustomField{k}": v for k, v in s.fields.items()}} for s in found]})
    return 0


COMMANDS = [
    Command("create-custom-field", "create a custom field of a list", _create_arguments, _create),
    Command("custom-fields", "print a list's custom fields", _list_id, _fields),
    Command("subscribers", "print a list's subscribers with their custom fields", _subscribers_arguments, _subscribers),
]
