"""``python -m octeth_tracking`` (and ``octeth-tracking``): serve the API, manage accounts.

With no subcommand: open (or create) ``./octeth_tracking.db``; if it has no user yet,
create one with an API key and a list and print a ``curl`` that tracks an event (else say
how to get a key for the user it has); then serve. Each ``create-*`` prints one JSON object
on stdout and nothing else there. Exit status: 0, 1 (a database or port that cannot be used,
a command that found nothing to do), 2 (a wrong option or setting: one line naming it,
before any server starts).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from typing import Sequence

from .commands import Command, accounts, events, fields, imports, testing, trackers
from .serving import serve, serve_micro
from .settings import DEFAULT_PREFIX, LOG_FORMATS
from .storage import DEFAULT_DB, open_store

# Every subcommand but serve, from the modules that define them (see commands/__init__.py).
COMMAND_MODULES = (accounts, events, fields, imports, testing, trackers)


def commands() -> dict[str, Command]:
    return {command.name: command for module in COMMAND_MODULES for command in module.COMMANDS}


def _options(defaults: bool) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The database option and the server options, for the top level (with ``defaults``) or
    a subcommand (without: a subcommand's own default would overwrite an option given
    before it, as in ``--db x.db serve``)."""
    default = None if defaults else argparse.SUPPRESS
    db = argparse.ArgumentParser(add_help=False, argument_default=default)
    db.add_argument("--db", help=f"SQLite path or database URL (default: OCTETH_TRACKING_DB, else ./{DEFAULT_DB})")
    server = argparse.ArgumentParser(add_help=False, argument_default=default)
    server.add_argument("--host", help="default 127.0.0.1")
    server.add_argument("--port", type=int, help="0 picks a free port (default 8000)")
    server.add_argument("--prefix", help=f"mount point (default: OCTETH_TRACKING_PREFIX, else {DEFAULT_PREFIX})")
    server.add_argument("--redis", metavar="URL", help="count rate limits in this Redis, shared by every "
                        "process (default: OCTETH_TRACKING_REDIS, else in this process's memory)")
    server.add_argument("--workers", type=int, help="granian worker processes (default 1)")
    server.add_argument("--log-format", choices=LOG_FORMATS, help="text, or one JSON object a line"
                        " (default: OCTETH_TRACKING_LOG_FORMAT, else text)")
    server.add_argument("--micro", action="store_true", help="a micro server for test suites: in memory, one "
                        "account (printed on stdout), the /micro/* routes; --db, --workers and --redis do not apply")
    server.add_argument("--api-key", metavar="KEY", help="with --micro: the account's API key (default: a fresh one)")
    server.add_argument("--origin", action="append", metavar="ORIGIN", help="with --micro: also make a tracker key "
                        "for web pages on this origin (repeatable; printed as tracker_key)")
    return db, server


DESCRIPTION = "Serve Octeth's Event Tracking API, and manage its users, lists, API keys and sessions."


def version() -> str:
    try:
        return metadata.version("octeth-tracking")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    db, server = _options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="octeth-tracking", description=DESCRIPTION, parents=list(_options(defaults=True)),
        epilog="Without a command: create a first user, key and list if the store has none (else say how to get"
               " a key), then serve. Every setting is an OCTETH_TRACKING_* environment variable (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.add_parser("serve", help=f"serve the API (under {DEFAULT_PREFIX} by default)", parents=[db, server])
    for command in commands().values():
        command.arguments(subparsers.add_parser(command.name, help=command.help, parents=[db]))
    return parser


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, each missing option from its ``OCTETH_TRACKING_*`` variable, then its default."""
    args = _parser().parse_args(argv)
    fallbacks = {"db": os.environ.get("OCTETH_TRACKING_DB") or DEFAULT_DB, "host": "127.0.0.1", "port": 8000,
                 "prefix": os.environ.get("OCTETH_TRACKING_PREFIX", DEFAULT_PREFIX), "workers": 1, "log_format": None}
    for name, value in fallbacks.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.command in (None, "serve"):
        try:
            if getattr(args, "micro", False):
                return serve_micro(args.host, args.port, args.prefix, getattr(args, "api_key", None),
                                   getattr(args, "origin", None) or ())
            return serve(args.db, args.host, args.port, args.prefix, first_run=args.command is None,
                         workers=args.workers, redis=args.redis, log_format=args.log_format)
        except ConnectionError as error:  # no database, or no port: one line, not a traceback
            print(f"octeth-tracking: {error}", file=sys.stderr)
            return 1
        except (ValueError, TypeError, ImportError) as error:  # a setting: one line naming it, no worker started
            print(f"octeth-tracking: {error}", file=sys.stderr)
            return 2
    try:
        store = open_store(args.db)
    except ConnectionError as error:
        print(f"octeth-tracking: {error}", file=sys.stderr)
        return 1
    try:
        return commands()[args.command].run(args, store)
    except LookupError as error:
        print(f"octeth-tracking: {error.args[0]}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `events | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 1
    finally:
        store.close()
