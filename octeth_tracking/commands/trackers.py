"""Tracker keys: public per-list keys for web pages, and the snippet that uses one."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..browser import snippet
from ..settings import DEFAULT_PREFIX, PREFIX
from ..storage import Store, TrackerKey
from . import Command, print_json

PUBLIC_URL = PREFIX + "PUBLIC_URL"  # where browsers reach the API, for `snippet`
LOCAL_URL = "http://127.0.0.1:8000"  # `serve`'s own default


def _fields(tracker: TrackerKey) -> dict[str, Any]:
    return {"tracker_id": tracker.id, "list_id": tracker.list_id, "origins": list(tracker.origins),
            "server_side": tracker.server_side, "created_at": tracker.created_at, "revoked_at": tracker.revoked_at}


def _fail(message: str) -> int:
    print(f"octeth-tracking: {message}", file=sys.stderr)
    return 1


def _create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list-id", type=int, required=True)
    parser.add_argument("--origin", action="append", default=[], metavar="ORIGIN",
                        help="a site that may use it: https://example.com, or https://*.example.com for its "
                        "subdomains; repeat for more")
    parser.add_argument("--server-side", action="store_true",
                        help="also accept requests without an Origin (from a server, not a browser)")


def _create(args: argparse.Namespace, store: Store) -> int:
    try:
        tracker_id, key = store.create_tracker(args.list_id, args.origin, server_side=args.server_side)
    except ValueError as error:
        return _fail(str(error))
    tracker = store.tracker_for_key(key)
    assert tracker is not None
    fields = _fields(tracker)
    del fields["revoked_at"]
    print_json({"tracker_key": key, **fields})
    return 0


def _list(args: argparse.Namespace, store: Store) -> int:
    print_json({"trackers": [_fields(tracker) for tracker in store.trackers(args.list_id)]})
    return 0


def _revoke_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("key", nargs="?", metavar="KEY", help="the tracker key (as in the pages that use it)")
    which.add_argument("--id", type=int, dest="tracker_id", help="its tracker_id, as `trackers` lists it")


def _revoke(args: argparse.Namespace, store: Store) -> int:
    tracker_id = args.tracker_id
    if args.key is not None:
        found = store.tracker_for_key(args.key)
        tracker_id = found.id if found is not None else None
    revoked = isinstance(tracker_id, int) and store.revoke_tracker(tracker_id)
    print_json({"revoked": revoked})
    return 0 if revoked else 1


def _snippet_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracker", required=True, metavar="KEY", help="the tracker key the pages will use")
    parser.add_argument("--url", help=f"where browsers reach the API, mount point included (default: {PUBLIC_URL}, "
                        f"else {LOCAL_URL} and OCTETH_TRACKING_PREFIX or {DEFAULT_PREFIX})")
    parser.add_argument("--respect-privacy", action="store_true",
                        help="send nothing from browsers that ask for Do Not Track or Global Privacy Control")


def _snippet(args: argparse.Namespace, store: Store) -> int:
    tracker = store.tracker_for_key(args.tracker)
    if tracker is None:
        return _fail("no such tracker key (or it was revoked): `trackers` lists them, `create-tracker` makes one")
    url = args.url or os.environ.get(PUBLIC_URL)
    if not url:
        url = LOCAL_URL + os.environ.get(PREFIX + "PREFIX", DEFAULT_PREFIX)
        print(f"octeth-tracking: no --url or {PUBLIC_URL}: the snippet points at {url}, this machine's server",
              file=sys.stderr)
    if not tracker.origins:
        print("octeth-tracking: this key has no --origin: browsers will be refused (403)", file=sys.stderr)
    print(snippet(url, args.tracker, tracker.list_id, {"respectPrivacy": True} if args.respect_privacy else None),
          end="", flush=True)
    return 0


COMMANDS = [
    Command("create-tracker", "create a public tracker key for a list, usable from the given origins",
            _create_arguments, _create),
    Command("trackers", "list the tracker keys (of one list, or all), revoked ones too",
            lambda p: p.add_argument("--list-id", type=int), _list),
    Command("revoke-tracker", "revoke a tracker key: it gets 401 from then on", _revoke_arguments, _revoke),
    Command("snippet", "print the HTML that loads the tracker, to paste before </head>", _snippet_arguments, _snippet),
]
