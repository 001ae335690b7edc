"""The figures of ``docs/reliability.md``, counted by the tests that earn them.

A test calls ``reliability.count(name, n)`` with what it actually tried and observed, or
``reliability.measure(name, seconds)`` with a time it measured (the page keeps the worst).
``pytest --reliability-report`` writes the page at the end of a run, and only when the
run passed and every figure was counted (a run with ``-k`` or a failure writes nothing);
a plain ``pytest`` never touches the file.

How much the tests that earn the figures do is the run's scale (:data:`SCALES`):
``everyday`` for a plain ``pytest`` (a few minutes in all), ``full`` for the report
(``--reliability-scale`` chooses another).
"""

from __future__ import annotations

import datetime
import platform
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import pytest

PAGE = Path(__file__).parent.parent / "docs" / "reliability.md"

FIGURES: Counter[str] = Counter()
TIMES: dict[str, float] = {}  # the worst (longest) time measured for each timed figure, in seconds
_lock = threading.Lock()  # client threads of the concurrency tests count too


@dataclass(frozen=True)
class Scale:
    """How much the figure-earning tests do."""

    name: str
    hostile_examples: int  # hypothesis examples over the three hostile-input tests (split 6:3:2)
    kill_cycles: int  # kill -9 cycles of one server under load
    pg_restarts: int  # PostgreSQL server restarts under two app processes


SCALES = {
    "everyday": Scale("everyday", hostile_examples=1_100, kill_cycles=5, pg_restarts=1),
    "full": Scale("full", hostile_examples=100_100, kill_cycles=20, pg_restarts=3),
}
SCALE = SCALES["everyday"]  # set by pytest_configure, before any test module is imported


def scale() -> Scale:
    return SCALE

# (figure, what it counts, the test file that counts it), in the page's order.
ROWS = [
    ("hostile_requests", "hostile requests sent to both endpoints (hypothesis examples)", "test_hostile_input.py"),
    ("hostile_5xx", "of those, answered with a 5xx", "test_hostile_input.py"),
    ("hostile_bad_shape", "of those, answered with neither the `Errors` shape nor the success shape", "test_hostile_input.py"),
    ("hostile_rejected", "of those, rejected (4xx)", "test_hostile_input.py"),
    ("hostile_rejected_writes", "rejected requests that changed the store", "test_hostile_input.py"),
    ("limit_cases", "limit edge cases checked (each limit at and past its edge, default and configured)", "test_limits.py"),
    ("name_cases", "hostile property names checked (round trip or 422)", "test_limits.py"),
    ("crash_cycles", "`kill -9` crash cycles survived (restart on the same file)", "test_crash.py"),
    ("crash_acknowledged", "events acknowledged (200) before a kill", "test_crash.py"),
    ("crash_stored_once", "of those, stored exactly once after restart", "test_crash.py"),
    ("crash_lost", "acknowledged events lost", "test_crash.py"),
    ("crash_duplicates", "events stored more than once", "test_crash.py"),
    ("crash_in_flight", "events in flight at a kill (no answer), resent after the restart", "test_crash.py"),
    ("crash_in_flight_stored_once", "of those, stored exactly once", "test_crash.py"),
    ("crash_integrity_ok", "`PRAGMA integrity_check` = ok after a kill", "test_crash.py"),
    ("crash_two_process_cycles", "of the cycles, with 2 server processes on one file (one killed while the other writes, then both)", "test_crash.py"),
    ("pg_restarts", "PostgreSQL server restarts under load from 2 app processes", "test_pg_restart.py"),
    ("pg_restart_acknowledged", "events acknowledged (200) by them, retried on 503 or no answer", "test_pg_restart.py"),
    ("pg_restart_lost", "of those, lost", "test_pg_restart.py"),
    ("pg_restart_duplicates", "events stored more than once", "test_pg_restart.py"),
    ("pg_restart_unavailable", "503 answers (code 26, with `Retry-After`) while the server was away, then retried", "test_pg_restart.py"),
    ("pg_restart_other_5xx", "other 5xx answers", "test_pg_restart.py"),
    ("retry_requests", "concurrent duplicate requests sent (same UUID, 8 threads at once)", "test_concurrency.py"),
    ("retry_uuids", "distinct UUIDs among them", "test_concurrency.py"),
    ("retry_stored", "events stored for them", "test_concurrency.py"),
    ("multiprocess_requests", "requests to 2 processes on one SQLite file (2 `serve`s; gunicorn -w 2), a third retried on the other process", "test_concurrency.py"),
    ("multiprocess_acknowledged", "distinct events acknowledged by them", "test_concurrency.py"),
    ("multiprocess_stored", "events stored by them", "test_concurrency.py"),
    ("multiprocess_5xx", "5xx answers (any \"database is locked\" would be one)", "test_concurrency.py"),
    ("tenant_cases", "tenant cases checked (endpoint x method x credential, another user's list)", "test_tenants.py"),
    ("tenant_writes", "tenant cases that changed the store", "test_tenants.py"),
    ("secret_checks", "secret checks (files at rest, log captures, revocation, expiry)", "test_secrets.py"),
    ("revocation_sqlite", "time from a revoke's commit to a 401 from either of 2 processes on SQLite, key cache on (worst)", "test_revocation.py"),
    ("revocation_postgresql", "the same on PostgreSQL (`NOTIFY` to each process's listener)", "test_revocation.py"),
    ("revocation_accepted_after", "requests sent after a revoke returned that were still accepted", "test_revocation.py"),
    ("locked_event_sqlite", "time for an event to get 503 while another process holds SQLite's write lock (default `write_timeout`, 5 s)", "test_locked_store.py"),
    ("locked_health_sqlite", "time for `/health` to answer 503 meanwhile", "test_locked_store.py"),
    ("locked_event_postgresql", "time for an event to get 503 while another session holds `LOCK TABLE events` on PostgreSQL", "test_locked_store.py"),
    ("locked_health_postgresql", "time for `/health` to answer 503 meanwhile", "test_locked_store.py"),
    ("rate_limit_cases", "rate-limit cases checked (window edges on an injected clock)", "test_ratelimit.py"),
]


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to a figure (``n`` may be 0: the figure was measured and is zero)."""
    assert name in {row[0] for row in ROWS}, name
    with _lock:
        FIGURES[name] += n


def measure(name: str, seconds: float) -> None:
    """A time measured for a timed figure; the page shows the longest."""
    assert name in {row[0] for row in ROWS}, name
    with _lock:
        TIMES[name] = max(seconds, TIMES.get(name, 0.0))
        FIGURES[name] += 0


def _value(name: str) -> str:
    if name not in TIMES:
        return f"{FIGURES[name]:,}"
    seconds = TIMES[name]
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report", action="store_true",
        help=f"write {PAGE.relative_to(PAGE.parent.parent)} from this run's figures (needs a full, passing run)",
    )
    parser.addoption(
        "--reliability-scale", choices=sorted(SCALES), default=None,
        help="how much the figure-earning tests do (default: full with --reliability-report, else everyday)",
    )


def pytest_configure(config: pytest.Config) -> None:
    global SCALE
    chosen = config.getoption("--reliability-scale") or ("full" if config.getoption("--reliability-report") else "everyday")
    SCALE = SCALES[chosen]


def render() -> str:
    lines = [
        "# Reliability figures",
        "",
        "Generated by `pytest --reliability-report` from a full, passing test run; do not edit by hand.",
        f"Run: {datetime.date.today().isoformat()}, Python {platform.python_version()},"
        f" hypothesis {hypothesis.__version__}, {platform.system()}; scale `{SCALE.name}`"
        f" (`--reliability-scale {SCALE.name}`: {SCALE.hostile_examples:,} hostile examples, {SCALE.kill_cycles}"
        f" `kill -9` cycles of one process, {SCALE.pg_restarts} PostgreSQL restart{'s' if SCALE.pg_restarts > 1 else ''}).",
        "",
        "| figure | value | counted by |",
        "|---|---:|---|",
    ]
    lines += [f"| {label} | {_value(name)} | `tests/{source}` |" for name, label, source in ROWS]
    lines += [
        "",
        "Every figure is counted by the test while it runs, from what the server answered and what",
        "the database holds afterwards; each of those tests fails if an acknowledged event is lost,",
        "stored twice, a 5xx is answered, or a rejected request writes anything.",
        "",
    ]
    return "\n".join(lines)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not session.config.getoption("--reliability-report"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    missing = [name for name, _, _ in ROWS if name not in FIGURES]
    if exitstatus != 0 or missing:
        reason = f"figures not counted: {', '.join(missing)}" if missing else "the run did not pass"
        if reporter:
            reporter.write("\n")
            reporter.write_line(f"reliability report NOT written: {reason}", red=True)
        return
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(render(), encoding="utf-8")
    if reporter:
        reporter.write("\n")
        reporter.write_line(f"reliability report written to {PAGE}", green=True)
