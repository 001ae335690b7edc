"""``import FILE``: a backfill from NDJSON, one event a line, through the batch path.

A line is an ``/event`` body without credentials (``ListID``, ``ID``, ``Event``, ``Email``,
``Properties``, ``UUID``, ``Timestamp``, ...; names in any case), or a line of an export
(``UUID``, ``ListID``, ``ID``, ``Event``, ``Email``, ``Properties``, ``OccurredAt``,
``ReceivedAt``, ``IdentifyEventSent``; ``list_id`` and ``occurred_at`` spelled so too):
``OccurredAt`` is its ``Timestamp``, ``ReceivedAt`` and ``IdentifyEventSent`` are the old
store's and are left out. ``--list-id`` is the list of a line that names none.

Lines go through :func:`octeth_tracking.batch.track`, the very path of ``/events.batch``
(the same checks, codes and answers), ``max_batch_events`` at a time, as the owner of each
line's list, with ``Import: true`` (no backfill window) and no rate limit: the command line
is the operator. A line without a ``UUID`` gets one made from its line number and text
(a UUIDv5), so running the same file again stores nothing twice. A progress bar goes to a
terminal's stderr (``tqdm``, the ``cli`` extra); the summary is one JSON object on stdout:
how many were stored, were duplicates, were refused, and each refused line's number and
codes. Exit status 1 if any line was refused (or the store failed: the lines before are
stored, and a re-run takes up the rest exactly).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from typing import Any, Iterator

from .. import batch
from ..app import Call
from ..body import parameter_names, parse_object
from ..config import app_from_settings
from ..credentials import SECRET
from ..errors import APIError
from ..storage import StorageError, Store
from . import Command, print_json

NAMESPACE = uuid.UUID("5b0c6a3e-2f41-4d8e-9c1a-7e2f0d4b8a61")  # of the UUIDs made for lines without one
_RENAMED = {"list_id": "listid", "occurredat": "timestamp", "occurred_at": "timestamp"}
_LEFT_OUT = ("receivedat", "received_at", "identifyeventsent", "identify_event_sent")


def line_event(number: int, text: str, default_list: int | None) -> dict[str, Any]:
    """A line as a batch item: 400-like ``APIError`` (code 20, 21) if it is not a JSON object."""
    params = parameter_names(parse_object(text.encode("utf-8", "surrogatepass")))
    for old, new in _RENAMED.items():
        if old in params:
            value = params.pop(old)
            params.setdefault(new, value)
    for name in _LEFT_OUT:
        params.pop(name, None)
    if "listid" not in params and default_list is not None:
        params["listid"] = default_list
    params.setdefault("uuid", str(uuid.uuid5(NAMESPACE, f"{number}:{text.strip()}")))
    params["import"] = True
    return params


def _lines(path: str) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="surrogateescape") as file:
        for number, text in enumerate(file, 1):
            if text.strip():
                yield number, text


def _progress(total: int) -> Any:
    """A progress bar on a terminal's stderr, else nothing."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the cli extra is not installed
        return None
    return tqdm(total=total, unit="event", file=sys.stderr)


class Importer:
    """Sends lines to the batch path in chunks, one owner at a time, and keeps the tally."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.app = app_from_settings(os.environ, store=store)
        self.stored = self.duplicates = 0
        self.refused: list[dict[str, Any]] = []
        self.owners: dict[Any, int | None] = {}

    def owner(self, item: dict[str, Any]) -> int | None:
        list_id = self.app.schemas["event"].list_id(item)
        if list_id not in self.owners:
            self.owners[list_id] = self.store.list_owner(list_id) if list_id is not None else None
        return self.owners[list_id]

    def send(self, user: int | None, chunk: list[tuple[int, dict[str, Any]]]) -> None:
        call = Call({}, credential=SECRET, user=user, params={"events": [item for _, item in chunk]})
        answer = batch.track(self.app, call)
        self.stored += answer["Stored"]
        self.duplicates += answer["Duplicates"]
        for (number, _), item in zip(chunk, answer["Events"]):
            if "Errors" in item:
                self.refused.append({"Line": number, "Codes": [error["Code"] for error in item["Errors"]]})

    def run(self, path: str, default_list: int | None) -> None:
        lines = list(_lines(path))
        bar = _progress(len(lines))
        chunk: list[tuple[int, dict[str, Any]]] = []
        user: int | None = None
        for number, text in lines:
            try:
                item = line_event(number, text, default_list)
            except APIError as error:
                self.refused.append({"Line": number, "Codes": error.codes})
                continue
            owner = self.owner(item)  # None: no such list, which the batch path refuses (code 4)
            if chunk and (owner != user or len(chunk) >= self.app.max_batch_events):
                self.send(user, chunk)
                if bar is not None:
                    bar.update(len(chunk))
                chunk = []
            user = owner
            chunk.append((number, item))
        if chunk:
            self.send(user, chunk)
        if bar is not None:
            bar.update(len(chunk))
            bar.close()


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="NDJSON: one event object a line (an export's lines too)")
    parser.add_argument("--list-id", type=int, help="the list of a line that names none")


def _import(args: argparse.Namespace, store: Store) -> int:
    importer = Importer(store)
    failed = None
    try:
        importer.run(args.file, args.list_id)
    except StorageError as error:
        failed = str(error) or type(error).__name__
    except OSError as error:
        print(f"octeth-tracking: {error}", file=sys.stderr)
        return 1
    summary: dict[str, Any] = {"stored": importer.stored, "duplicates": importer.duplicates,
                               "refused": len(importer.refused),
                               "refused_lines": sorted(importer.refused, key=lambda line: line["Line"])}
    if failed:
        summary["store_failed"] = failed  # the lines before it are stored; run it again
    print_json(summary)
    return 1 if importer.refused or failed else 0


COMMANDS = [
    Command("import", "store events from an NDJSON file (one /event body or export line a line), as a backfill",
            _import_arguments, _import),
]
