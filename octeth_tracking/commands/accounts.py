"""Accounts and what a list holds: users, lists, API keys, sessions, properties."""

from __future__ import annotations

import argparse

from ..schemas import BodySchema
from ..storage import Store
from . import Command, print_json

DEFAULT_TTL = 24 * 3600


def _user_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user-id", type=int, required=True)


def _create_user(args: argparse.Namespace, store: Store) -> int:
    user_id = store.create_user(args.name)
    print_json({"user_id": user_id, "api_key": store.create_api_key(user_id)})
    return 0


def _create_list_arguments(parser: argparse.ArgumentParser) -> None:
    _user_id(parser)
    parser.add_argument("name")


def _create_session_arguments(parser: argparse.ArgumentParser) -> None:
    _user_id(parser)
    parser.add_argument("--ttl", type=float, default=DEFAULT_TTL, help=f"seconds it lives (default {DEFAULT_TTL})")


def _revoked(revoked: bool) -> int:
    print_json({"revoked": revoked})
    return 0 if revoked else 1


def _properties(args: argparse.Namespace, store: Store) -> int:
    if store.list_owner(args.list_id) is None:
        code, message, detail = BodySchema("website_events.properties").unknown_list
        print_json({"Errors": [{"Code": code, "Message": message, "Detail": detail}]})
        return 1
    print_json({"ListID": str(args.list_id), "Properties": store.properties(args.list_id)})
    return 0


def _printed(value: object) -> int:
    print_json(value)
    return 0


COMMANDS = [
    Command("create-user", "create a user and an API key",
            lambda p: p.add_argument("name"), _create_user),
    Command("create-list", "create a list owned by a user", _create_list_arguments,
            lambda args, store: _printed({"list_id": store.create_list(args.user_id, args.name)})),
    Command("create-api-key", "create another API key for a user", _user_id,
            lambda args, store: _printed({"api_key": store.create_api_key(args.user_id)})),
    Command("create-session", "create a session id for a user", _create_session_arguments,
            lambda args, store: _printed({"session_id": store.create_session(args.user_id, args.ttl)})),
    Command("revoke-api-key", "revoke an API key: it gets 401 from then on, in every running server",
            lambda p: p.add_argument("api_key", metavar="KEY"), lambda args, store: _revoked(store.revoke_api_key(args.api_key))),
    Command("revoke-session", "end a session: it gets 401 from then on, in every running server",
            lambda p: p.add_argument("session_id", metavar="SESSION_ID"),
            lambda args, store: _revoked(store.revoke_session(args.session_id))),
    Command("properties", "print a list's event properties, as the endpoint does",
            lambda p: p.add_argument("--list-id", type=int, required=True), _properties),
]
