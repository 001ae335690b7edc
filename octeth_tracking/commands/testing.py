"""What a developer asks when events go missing, and what a test suite or a fuzzer reads:
the journal of rejected requests and the OpenAPI document."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import openapi
from ..config import app_from_settings
from ..endpoints.journal import rejected_answer
from ..journal import owner
from ..settings import DEFAULT_PREFIX
from ..storage import Store
from . import Command, print_json


def _rejected_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--limit", type=int, default=100, help="newest first (default 100)")


def _rejected(args: argparse.Namespace, store: Store) -> int:
    print_json(rejected_answer(store.rejections(owner(args.user_id), args.limit)))
    return 0


def _openapi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default=None, help=f"the mount point it describes (default: "
                        f"OCTETH_TRACKING_PREFIX, else {DEFAULT_PREFIX})")
    parser.add_argument("--output", metavar="FILE", help="write it there (default: stdout)")


def _openapi(args: argparse.Namespace, store: Store) -> int:
    # The app as the environment configures it: the document states its limits.
    app = app_from_settings(os.environ, store=store)
    prefix = args.prefix if args.prefix is not None else os.environ.get("OCTETH_TRACKING_PREFIX", DEFAULT_PREFIX)
    text = json.dumps(openapi.document(app, server=prefix.rstrip("/")), indent=2) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        sys.stdout.write(text)
    return 0


COMMANDS = [
    Command("rejected", "print a user's journal of rejected requests, newest first", _rejected_arguments, _rejected),
    Command("openapi", "print the OpenAPI 3.1 document of the API as configured", _openapi_arguments, _openapi),
]
