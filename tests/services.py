"""The real PostgreSQL and Redis the scaling-out tests run against, or a loud skip.

Point the tests at other servers with ``OCTETH_TRACKING_TEST_PG`` and
``OCTETH_TRACKING_TEST_REDIS``. Each test gets its own PostgreSQL schema (dropped after)
and its own Redis key prefix, so parallel runs on one server never meet.

With ``OCTETH_TRACKING_REQUIRE_SERVICES=1`` (``.ci/run`` sets it) a missing service fails
its tests instead of skipping them: in CI, half a contract suite must not pass as a whole one.
"""

from __future__ import annotations

import functools
import os
import uuid
from typing import Iterator
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("OCTETH_TRACKING_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OCTETH_TRACKING_TEST_REDIS", "redis://127.0.0.1:6379/0")
REQUIRED = os.environ.get("OCTETH_TRACKING_REQUIRE_SERVICES", "") not in ("", "0")
SKIPPED: dict[str, str] = {}  # service -> why its tests were skipped; printed in the summary


@functools.cache
def pg_unreachable() -> str | None:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as error:  # ImportError too: the postgres extra is not installed
        return (f"cannot connect to {PG_URL} ({error}). Start a server or point "
                "OCTETH_TRACKING_TEST_PG at one, e.g. postgresql://postgres@127.0.0.1:5432/test")
    return None


@functools.cache
def redis_unreachable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as error:
        return (f"cannot connect to {REDIS_URL} ({error}). Start a server or point "
                "OCTETH_TRACKING_TEST_REDIS at one, e.g. redis://127.0.0.1:6379/0")
    return None


def missing(service: str, reason: str) -> None:
    """A service (or a browser) this test needs is not there: fail under
    ``OCTETH_TRACKING_REQUIRE_SERVICES``, else skip, loudly."""
    if REQUIRED:
        pytest.fail(f"{service} is missing and OCTETH_TRACKING_REQUIRE_SERVICES is set: {reason}", pytrace=False)
    SKIPPED[service] = f"{service} tests SKIPPED: {reason}"
    pytest.skip(SKIPPED[service])


def need(service: str) -> None:
    """Skip (or fail, see :func:`missing`) unless ``service`` (``postgresql`` or ``redis``) answers."""
    reason = pg_unreachable() if service == "postgresql" else redis_unreachable()
    if reason:
        missing("PostgreSQL" if service == "postgresql" else "Redis", reason)


def schema_url(schema: str) -> str:
    """``PG_URL`` with ``schema`` as the connection's search_path."""
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options={quote(f'-c search_path={schema}')}"


def pg_schema() -> Iterator[str]:
    """A fresh, empty schema; yields a URL whose connections use it; dropped afterwards."""
    need("postgresql")
    import psycopg

    schema = f"octeth_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def redis_prefix() -> Iterator[str]:
    """A random key prefix in the test Redis; its keys are deleted afterwards (never FLUSHDB)."""
    need("redis")
    import redis

    prefix = f"octeth-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it once more, at the end, where nobody misses it."""
    for reason in SKIPPED.values():
        terminalreporter.write_sep("!", "service missing", red=True, bold=True)
        terminalreporter.write_line(reason, red=True)


class ThrowawayPostgres:
    """A PostgreSQL server of this test's own (Debian's binaries), on a free port, in a temporary
    directory: for a test that restarts the server, which the shared one must never be.

    Run as the ``postgres`` user when this process is root (``runuser``). Without the binaries,
    or if it cannot start, the test is skipped or fails by the :func:`missing` rule.
    """

    def __init__(self) -> None:
        import glob
        import shutil
        import socket
        import subprocess
        import tempfile

        self._subprocess, self._shutil = subprocess, shutil
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            missing("PostgreSQL", "no server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.bin = os.path.dirname(found[-1])
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.folder = tempfile.mkdtemp(prefix="octeth-pg-")
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.data = os.path.join(self.folder, "data")
        try:
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions")
            self.start()
        except (OSError, subprocess.CalledProcessError) as error:
            self.remove()
            output = getattr(error, "stderr", b"") or b""
            missing("PostgreSQL", f"cannot start a throwaway server: {error} {output.decode(errors='replace')[-500:]}")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        self._subprocess.run([*self.as_postgres, os.path.join(self.bin, tool), *args], check=True,
                             capture_output=True, timeout=120, cwd=self.folder)

    def _options(self) -> str:
        return f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=60"

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "log"), "-o", self._options(), "-w", "start")

    def restart(self, mode: str) -> None:
        """``fast``: a clean shutdown; ``immediate``: as a crash, recovered from the WAL at start."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")
        self.start()

    def remove(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except (OSError, self._subprocess.CalledProcessError):
            pass
        self._shutil.rmtree(self.folder, ignore_errors=True)


def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        missing("PostgreSQL", f"the driver is not installed ({error}): pip install -e '.[test]'")
    server = ThrowawayPostgres()
    try:
        yield server
    finally:
        server.remove()
