"""``python -m octeth_tracking`` (and ``octeth-tracking``): serve the API, manage accounts.

With no subcommand: open (or create) ``./octeth_tracking.db``; if it has no user yet,
create one with an API key and a list and print a ``curl`` that tracks an event; then serve.
Each ``create-*`` prints one JSON object on stdout and nothing else there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Sequence

from .config import create_app
from .errors import json_body
from .schemas import BodySchema
from .settings import DEFAULT_PREFIX
from .storage import DEFAULT_DB, Store, open_store

DEFAULT_TTL = 24 * 3600


def _print(obj: Any) -> None:
    print(json_body(obj).decode(), flush=True)  # as the API writes it: `properties` prints the endpoint's bytes


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
    return db, server


def _parser() -> argparse.ArgumentParser:
    db, server = _options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="octeth-tracking", description=__doc__.split("\n\n")[0], parents=list(_options(defaults=True)),
        epilog="Without a command: create a first user, key and list if the store has none, then serve.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[db, *parents])

    command("serve", f"serve the API (under {DEFAULT_PREFIX} by default)", server)
    command("create-user", "create a user and an API key").add_argument("name")
    create_list = command("create-list", "create a list owned by a user")
    create_list.add_argument("--user-id", type=int, required=True)
    create_list.add_argument("name")
    command("create-api-key", "create another API key for a user").add_argument("--user-id", type=int, required=True)
    session = command("create-session", "create a session id for a user")
    session.add_argument("--user-id", type=int, required=True)
    session.add_argument("--ttl", type=float, default=DEFAULT_TTL, help=f"seconds it lives (default {DEFAULT_TTL})")
    command("revoke-api-key", "revoke an API key: it gets 401 from then on").add_argument("api_key", metavar="KEY")
    command("properties", "print a list's event properties, as the endpoint does").add_argument(
        "--list-id", type=int, required=True
    )
    return parser


def quickstart(store: Store, host: str, port: int, prefix: str) -> None:
    """A first user, key and list, and a curl that uses them, for a store that has no user yet."""
    if store.count_users():
        return
    user_id = store.create_user("admin")
    api_key = store.create_api_key(user_id)
    list_id = store.create_list(user_id, "My first list")
    body = json.dumps({
        "APIKey": api_key, "ListID": list_id, "ID": "visitor-1", "Event": "pageView",
        "Properties": {"url": "https://example.com/"},
    })
    print(f"Created user {user_id} with API key {api_key} and list {list_id}.")
    print("Track an event with:")
    print(f"  curl -s -X POST http://{host}:{port}{prefix}/event -H 'Content-Type: application/json' -d '{body}'",
          flush=True)


def _check_port(host: str, port: int) -> int:
    """The port the server can listen on (a free one for 0); ``OSError`` if it cannot have it.

    Bound with ``SO_REUSEADDR`` as the servers bind, so a port left in TIME_WAIT passes;
    one another process listens on does not (granian would only say so in a traceback,
    after our readiness probe had reached that other process).
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


def granian_app() -> Any:
    """The app a granian worker serves: ``create_app()`` from ``OCTETH_TRACKING_*``, with access lines on stderr."""
    _configure_logging()
    return create_app()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its lines would show query strings


def serve(
    db: str, host: str, port: int, prefix: str, first_run: bool = False, workers: int = 1, redis: str | None = None
) -> int:
    """Serve with granian when it is installed (one process per worker), else werkzeug's development server."""
    _configure_logging()
    store = open_store(db)
    try:
        free_port = _check_port(host, port)
    except OSError as error:
        store.close()
        raise ConnectionError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    if importlib.util.find_spec("granian") is None:
        return _serve_werkzeug(store, host, port, prefix, first_run, redis)
    port = free_port  # granian cannot report a port it picked: the OS picks it first
    if first_run:
        quickstart(store, host, port, prefix)
    store.close()
    return _serve_granian(db, host, port, prefix, workers, redis)


def _serve_granian(db: str, host: str, port: int, prefix: str, workers: int, redis: str | None) -> int:
    """Run granian's own command line serving ``granian_app`` in ``workers`` processes; wait for it.

    A fresh granian process, not one forked from this one, so that nothing opened here
    (the store, logging) leaks into its workers. The "Serving" line comes once it accepts
    connections; SIGINT and SIGTERM are passed on to it.
    """
    env = {**os.environ, "OCTETH_TRACKING_DB": db if "://" in db else os.path.abspath(db),
           "OCTETH_TRACKING_PREFIX": prefix}
    if redis:
        env["OCTETH_TRACKING_REDIS"] = redis
    process = subprocess.Popen([
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--backpressure", "128", "--log-level", "warning",
        "--factory", "octeth_tracking.cli:granian_app",
    ], env=env)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: process.send_signal(signum))
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        print("octeth-tracking: granian did not start", file=sys.stderr)
        return 1
    print(f"Serving the Event Tracking API on http://{host}:{port}{prefix}"
          f" (granian, {workers} worker{'s' if workers > 1 else ''}; press Ctrl-C to stop)", file=sys.stderr, flush=True)
    return 0 if process.wait() in (0, -signal.SIGTERM, -signal.SIGINT) else 1


def _serve_werkzeug(store: Store, host: str, port: int, prefix: str, first_run: bool, redis: str | None) -> int:
    from werkzeug.serving import make_server

    server = make_server(host, port, create_app(store=store, prefix=prefix, redis=redis), threaded=True)
    if first_run:
        quickstart(store, host, server.server_port, prefix)
    print(f"Serving the Event Tracking API on http://{host}:{server.server_port}{prefix}"
          " (werkzeug's development server, as granian is not installed: pip install 'octeth-tracking[server]';"
          " press Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, each missing option from its ``OCTETH_TRACKING_*`` variable, then its default."""
    args = _parser().parse_args(argv)
    fallbacks = {"db": os.environ.get("OCTETH_TRACKING_DB") or DEFAULT_DB, "host": "127.0.0.1", "port": 8000,
                 "prefix": os.environ.get("OCTETH_TRACKING_PREFIX", DEFAULT_PREFIX), "workers": 1}
    for name, value in fallbacks.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.command in (None, "serve"):
        try:
            return serve(args.db, args.host, args.port, args.prefix, first_run=args.command is None,
                         workers=args.workers, redis=args.redis)
        except ConnectionError as error:  # no database, or no port: one line, not a traceback
            print(f"octeth-tracking: {error}", file=sys.stderr)
            return 1
    try:
        store = open_store(args.db)
    except ConnectionError as error:
        print(f"octeth-tracking: {error}", file=sys.stderr)
        return 1
    try:
        if args.command == "create-user":
            user_id = store.create_user(args.name)
            _print({"user_id": user_id, "api_key": store.create_api_key(user_id)})
        elif args.command == "create-list":
            _print({"list_id": store.create_list(args.user_id, args.name)})
        elif args.command == "create-api-key":
            _print({"api_key": store.create_api_key(args.user_id)})
        elif args.command == "create-session":
            _print({"session_id": store.create_session(args.user_id, args.ttl)})
        elif args.command == "revoke-api-key":
            revoked = store.revoke_api_key(args.api_key)
            _print({"revoked": revoked})
            return 0 if revoked else 1
        elif args.command == "properties":
            if store.list_owner(args.list_id) is None:
                code, message = BodySchema("website_events.properties").unknown_list
                _print({"Errors": [{"Code": code, "Message": message}]})
                return 1
            _print({"ListID": str(args.list_id), "Properties": store.properties(args.list_id)})
    except LookupError as error:
        print(f"octeth-tracking: {error.args[0]}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0
