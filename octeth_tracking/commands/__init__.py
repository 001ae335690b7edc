"""The command line's subcommands, one module per subject.

Each module lists its :class:`Command` rows in ``COMMANDS``; ``cli.COMMAND_MODULES`` names
the modules. A new command is a row: its name, one line of help, its arguments, and
``run(args, store) -> exit status``, called with the store ``--db`` names (opened and
closed by the CLI).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import json_body
from ..storage import Store


@dataclass(frozen=True)
class Command:
    """One subcommand.

    :param name: as typed (``create-user``).
    :param help: one line for ``--help``.
    :param arguments: adds the command's own arguments to its parser.
    :param run: does it; returns the exit status.
    """

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], object]
    run: Callable[[argparse.Namespace, Store], int]


def print_json(obj: Any) -> None:
    """One JSON object on stdout, as the API writes it: ``properties`` prints the endpoint's bytes."""
    print(json_body(obj).decode(), flush=True)
