"""Events back out of the store: ``events`` (with ``--follow``), ``export``, ``forget``.

They read the store directly, as the API's ``website_events.list`` and ``.forget`` do
(:mod:`~octeth_tracking.storage.reads`), a page at a time: an export of ten million events
holds one page in memory.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from typing import IO, Any, Iterator

from ..endpoints.reads import event_answer
from ..errors import json_body
from ..schemas import normalize_email
from ..storage import Store
from ..storage.reads import EventQuery, StoredEvent
from ..times import parse_time
from . import Command, print_json

_AGO = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PAGE = 1000  # events read at once
FOLLOW_EVERY = 0.5  # seconds between looks for new events
FOLLOW_OVERLAP = 5.0  # seconds re-read behind the newest printed (PostgreSQL's transactions commit out of order)


def _time(text: str) -> float:
    """ISO 8601, a date, milliseconds since 1970, or an age such as ``10m``, ``2h``, ``7d``."""
    ago = _AGO.fullmatch(text)
    if ago:
        return time.time() - int(ago[1]) * _UNITS[ago[2]]
    try:
        return parse_time(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (2026-12-04T20:15:00Z, 2026-12-04, 10m, 2h, 7d)") from None


def _email(text: str) -> str:
    try:
        return normalize_email(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an email address: {text!r}") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is below 1")
    return value


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list-id", type=int, required=True)
    parser.add_argument("--id", dest="external_id", metavar="ID", help="one visitor's events")
    parser.add_argument("--email", type=_email, help="one subscriber's: every visitor ever linked to them")
    parser.add_argument("--event", help="only events of this name")
    parser.add_argument("--since", type=_time, help="at or after: ISO 8601, a date, or an age (10m, 2h, 7d)")
    parser.add_argument("--until", type=_time, help="before this time")


def _query(args: argparse.Namespace, **more: Any) -> EventQuery:
    filters = {"external_id": args.external_id, "email": args.email, "event": args.event, "since": args.since,
               "until": args.until}
    return EventQuery(args.list_id, **{**filters, **more})


def pages(store: Store, query: EventQuery) -> Iterator[list[StoredEvent]]:
    """Every page of ``query``, one after the other."""
    while True:
        page = store.read_events(query)
        yield page.events
        if page.cursor is None:
            return
        query = EventQuery(**{**query.__dict__, "cursor": page.cursor})


class EventPrinter:
    """Events as a table for a terminal, as JSON lines (what ``export`` writes) for a pipe."""

    def __init__(self, out: IO[str]) -> None:
        self.out, self.table = out, out.isatty()
        if self.table:
            print(f"{'TIME (UTC)':<24} {'EVENT':<16} {'ID':<24} {'EMAIL':<28} PROPERTIES", file=out)

    def print(self, event: StoredEvent) -> None:
        answer = event_answer(event)
        if self.table:
            properties = json_body(event.properties).decode()
            print(f"{answer['OccurredAt']:<24} {event.event[:16]:<16} {event.external_id[:24]:<24}"
                  f" {(event.email or '')[:28]:<28} {properties[:60]}", file=self.out, flush=True)
        else:
            print(json_body(answer).decode(), file=self.out, flush=True)


def _events_arguments(parser: argparse.ArgumentParser) -> None:
    _filters(parser)
    parser.add_argument("--limit", type=_positive, default=100, help="most events printed (default 100), newest first")
    parser.add_argument("--follow", action="store_true",
                        help="print the newest --limit oldest first, then new events as they arrive (Ctrl-C stops)")


def _events(args: argparse.Namespace, store: Store) -> int:
    printer = EventPrinter(sys.stdout)
    newest = store.read_events(_query(args, limit=args.limit)).events
    if not args.follow:
        for event in newest:
            printer.print(event)
        return 0
    # Every event near the newest counts as seen, printed or not: the overlap re-reads them.
    top = newest[0].occurred_at if newest else time.time()
    since = top - FOLLOW_OVERLAP if args.since is None else max(args.since, top - FOLLOW_OVERLAP)
    seen = {event.uuid: event.occurred_at for page in pages(store, _query(args, limit=PAGE, since=since))
            for event in page}
    for event in reversed(newest):
        printer.print(event)
    try:
        while True:
            time.sleep(FOLLOW_EVERY)
            _print_new(store, args, printer, seen)
    except KeyboardInterrupt:
        return 0


def _print_new(store: Store, args: argparse.Namespace, printer: EventPrinter, seen: dict[str, float]) -> None:
    """Print the events not printed yet, oldest first: those since a little before the newest printed."""
    mark = max(seen.values(), default=time.time()) - FOLLOW_OVERLAP
    since = mark if args.since is None else max(args.since, mark)
    fresh = [event for page in pages(store, _query(args, limit=PAGE, since=since))
             for event in page if event.uuid not in seen]
    for event in reversed(fresh):
        printer.print(event)
        seen[event.uuid] = event.occurred_at
    horizon = max(seen.values(), default=0) - 2 * FOLLOW_OVERLAP
    for uuid in [uuid for uuid, at in seen.items() if at < horizon]:  # what can no longer come back
        del seen[uuid]


_CSV_COLUMNS = ["UUID", "ListID", "ID", "Event", "Email", "OccurredAt", "ReceivedAt", "IdentifyEventSent", "Properties"]


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _filters(parser)
    parser.add_argument("--format", choices=("ndjson", "csv"), default="ndjson",
                        help="ndjson (default): what import reads; csv: Properties as JSON in one column")
    parser.add_argument("--output", metavar="FILE", help="default: stdout")


def _export(args: argparse.Namespace, store: Store) -> int:
    """Oldest first, so that ``import`` replays identifies in the order they happened."""
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(out) if args.format == "csv" else None
        if writer is not None:
            writer.writerow(_CSV_COLUMNS)
        filtered = any(v is not None for v in (args.external_id, args.email, args.event, args.since, args.until))
        with _progress(None if filtered else store.count_events(args.list_id), "exported") as bar:
            for page in pages(store, _query(args, limit=PAGE, oldest_first=True)):
                for event in page:
                    answer = event_answer(event)
                    if writer is not None:
                        answer["Properties"] = json_body(event.properties).decode()
                        answer["IdentifyEventSent"] = "true" if event.identify_sent else "false"
                        writer.writerow([answer[column] for column in _CSV_COLUMNS])
                    else:
                        out.write(json_body(answer).decode() + "\n")
                bar.update(len(page))
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _progress(total: int | None, unit: str) -> Any:
    """A tqdm bar on stderr when it is a terminal; otherwise one that shows nothing."""
    from tqdm import tqdm
    return tqdm(total=total, unit=" events", desc=unit, file=sys.stderr, disable=not sys.stderr.isatty())


def _forget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list-id", type=int, required=True)
    whom = parser.add_mutually_exclusive_group(required=True)
    whom.add_argument("--id", dest="external_id", metavar="ID", help="one visitor")
    whom.add_argument("--email", type=_email, help="one subscriber: every visitor ever linked to them, and the subscriber")


def _forget(args: argparse.Namespace, store: Store) -> int:
    erased = store.forget(args.list_id, external_id=args.external_id, email=args.email)
    print_json({"list_id": args.list_id, "erased": {
        "events": erased.events, "links": erased.links, "subscribers": erased.subscribers}})
    return 0


COMMANDS = [
    Command("events", "print a list's events, newest first (a table on a terminal, JSON lines in a pipe)",
            _events_arguments, _events),
    Command("export", "write a list's events, oldest first, as NDJSON (what import reads) or CSV",
            _export_arguments, _export),
    Command("forget", "erase one visitor's or one subscriber's events and links in a list", _forget_arguments, _forget),
]
