"""Serving the API from the command line: granian when it is installed, else werkzeug's
development server; and the quick start of a first run."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence, cast

from .app import TrackingApp
from .config import app_from_settings, create_app, mount
from .logs import configure_logging, granian_log_config
from .settings import PREFIX, parse_text
from .storage import Store, StoreAdmin


def quickstart(store: StoreAdmin, host: str, port: int, prefix: str, db: str) -> None:
    """A first user, key and list, and a curl that uses them, for a store that has no user yet;
    for a store that has one, how to get a key for it."""
    if store.count_users():
        user_id = store.first_user_id()
        command = [sys.executable, "-m", "octeth_tracking", "create-api-key", "--user-id", str(user_id)]
        if "://" not in db:  # a URL may hold a password: it is not printed
            command += ["--db", db]
        users = store.count_users()
        print(f"The store has {'a user' if users == 1 else f'{users} users'} already."
              f" Get an API key for user {user_id} with:")
        print(f"  {shlex.join(command)}{'  --db <the same database URL>' if '://' in db else ''}", flush=True)
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
    """The app a granian worker serves: ``create_app()`` from ``OCTETH_TRACKING_*``, logging to stderr."""
    configure_logging(os.environ.get(PREFIX + "LOG_FORMAT") or "text")
    return create_app()


def serve(
    db: str, host: str, port: int, prefix: str, first_run: bool = False, workers: int = 1, redis: str | None = None,
    log_format: str | None = None,
) -> int:
    """Serve with granian when it is installed (one process per worker), else werkzeug's development server.

    The whole configuration (the ``OCTETH_TRACKING_*`` environment with these arguments) is
    checked here, before any worker starts: a wrong setting raises ``ValueError``,
    ``TypeError`` or ``ImportError`` naming it; a database or port that cannot be used,
    ``ConnectionError``.
    """
    given = {"DB": db, "PREFIX": prefix, "REDIS": redis, "LOG_FORMAT": log_format}
    settings = {**os.environ, **{PREFIX + name: value for name, value in given.items() if value is not None}}
    configure_logging(str(parse_text(settings.get(PREFIX + "LOG_FORMAT")) or "text"))
    app = app_from_settings(settings)  # every setting checked, the store opened: as a worker will
    try:
        free_port = _check_port(host, port)
    except OSError as error:
        app.store.close()
        raise ConnectionError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    if importlib.util.find_spec("granian") is None:
        return _serve_werkzeug(app, host, port, prefix, first_run, db)
    port = free_port  # granian cannot report a port it picked: the OS picks it first
    if first_run:
        quickstart(cast(Store, app.store), host, port, prefix, db)
    app.store.close()
    with tempfile.TemporaryDirectory(prefix="octeth-serve-") as scratch:
        env = {**settings, PREFIX + "DB": db if "://" in db else os.path.abspath(db)}
        if app.metrics is not None and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The workers count into files here, so that a scrape adds up all of them (and a
            # respawned worker's predecessor still counts); afresh on every start.
            env["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(scratch, "metrics")
            os.mkdir(env["PROMETHEUS_MULTIPROC_DIR"])
        log_config = os.path.join(scratch, "granian-logging.json")
        with open(log_config, "w", encoding="utf-8") as file:
            json.dump(granian_log_config(str(parse_text(env.get(PREFIX + "LOG_FORMAT")) or "text")), file)
        return _serve_granian(env, host, port, prefix, workers, log_config)


def _serve_granian(env: dict[str, str], host: str, port: int, prefix: str, workers: int, log_config: str) -> int:
    """Run granian's own command line serving ``granian_app`` in ``workers`` processes; wait for it.

    A fresh granian process, not one forked from this one, so that nothing opened here
    (the store, logging) leaks into its workers. The "Serving" line comes once it accepts
    connections; SIGINT and SIGTERM are passed on to it.
    """
    process = subprocess.Popen([
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--backpressure", "128", "--log-level", "warning", "--log-config", log_config,
        "--factory", "octeth_tracking.serving:granian_app",
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


def _serve_werkzeug(app: TrackingApp, host: str, port: int, prefix: str, first_run: bool, db: str) -> int:
    from werkzeug.serving import make_server

    server = make_server(host, port, mount(app, prefix), threaded=True)
    if first_run:
        quickstart(cast(Store, app.store), host, server.server_port, prefix, db)
    print(f"Serving the Event Tracking API on http://{host}:{server.server_port}{prefix}"
          " (werkzeug's development server, as granian is not installed: pip install 'octeth-tracking[server]';"
          " press Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def serve_micro(host: str, port: int, prefix: str, api_key: str | None = None, origins: Sequence[str] = ()) -> int:
    """A micro server for test suites in any language: in memory, one account, its
    credentials printed on stdout as one JSON line, the ``/micro/*`` routes; werkzeug's
    threaded server, in this process (it holds the memory store). With ``origins``, a tracker
    key for web pages on them too (``tracker_key`` in that line)."""
    from werkzeug.serving import make_server

    from .testing import TrackingKit

    configure_logging(os.environ.get(PREFIX + "LOG_FORMAT") or "text")
    kit = TrackingKit(prefix=prefix, api_key=api_key, micro=True)
    try:
        server = make_server(host, port, kit.wsgi, threaded=True)
    except OSError as error:
        kit.close()
        raise ConnectionError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    url = f"http://{host}:{server.server_port}{prefix}"
    credentials = {"url": url, "user_id": kit.user_id, "api_key": kit.api_key, "list_id": kit.list_id}
    if origins:
        try:
            credentials["tracker_key"] = kit.store.create_tracker(kit.list_id, origins)[1]
        except ValueError as error:  # not an origin: one line, as for any setting
            server.server_close()
            kit.close()
            print(f"octeth-tracking: --origin: {error}", file=sys.stderr)
            return 2
    print(json.dumps(credentials), flush=True)
    print(f"Serving a micro Event Tracking API (in memory; {url}/micro/all, /micro/good, /micro/bad, /micro/reset)"
          f" on {url} (press Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        kit.close()
    return 0
