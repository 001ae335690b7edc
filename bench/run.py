"""The benchmark: our app (a), the bare WSGI ceiling (b) and the naive Flask peer (c).

    python bench/run.py            # the full run (about 12 minutes, plus seeding 10M events once)
    python bench/run.py --quick    # under two minutes: fewer, shorter rounds, smaller stores

Under gunicorn (2 workers x 8 threads, gthread) and granian (2 workers, WSGI), each
target on a fresh database, loopback only, the three driven in alternation
(A, B, C, A, B, C ...) by the same load generator (wrk if installed, else ours).
Reports medians over rounds, the ratios a/b and a/c, acknowledged == stored for (a)
and (c), memory per worker, events per group commit, and the properties endpoint's
latency against store size. Writes docs/performance.md and docs/performance.png.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bodies import templates  # noqa: E402
from loadgen import load, wrk_available  # noqa: E402
from procstat import Meter  # noqa: E402
from seed import copy_store  # noqa: E402

ROOT = BENCH.parent
TARGETS = {"a": "ours", "b": "ceiling", "c": "peer", "d": "peer-pg"}
# target -> (the app a server loads, whether it is a factory to call)
APPS = {"a": ("octeth_tracking:create_app", True), "b": ("ceiling:app", False), "c": ("peer:app", False),
        "d": ("peer_pg:app", False)}
SERVERS = ("gunicorn", "granian")
PATH = "/api/v1/event"
# The warm-up is this many runs: each run's connections are spread over the workers
# anew, so no worker goes into the rounds barely warmed.
WARMUP_RUNS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(server: str, target: str, port: int) -> list[str]:
    """The same server, with the same settings, for each target."""
    app, is_factory = APPS[target]
    if server == "gunicorn":
        spec = app + "()" if is_factory else app
        return [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "8", "-k", "gthread",
                "-b", f"127.0.0.1:{port}", "--chdir", str(BENCH), "--log-level", "warning", spec]
    factory = ["--factory"] if is_factory else []
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "2", "--host", "127.0.0.1",
            "--port", str(port), "--working-dir", str(BENCH), "--log-level", "warning", "--no-access-log",
            *factory, app]


class Target:
    """One server process tree serving one target on a fresh database.

    :param server: ``gunicorn`` or ``granian``.
    :param target: ``a``, ``b`` or ``c``.
    :param workdir: where its database goes.
    :param api_key: the key the load sends (created in ours; the peer is told it).
    :param env: the environment shared by all targets.
    :param db: the database it serves (a ``postgresql://`` URL, say); default a SQLite file in ``workdir``.
    """

    def __init__(self, *, server: str, target: str, workdir: Path, env: dict[str, str], db: str | None = None) -> None:
        self.server, self.target = server, target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.db = db or workdir / f"{server}-{TARGETS[target]}.db"
        env = {**env, "OCTETH_TRACKING_DB": str(self.db), "BENCH_PEER_DB": str(self.db)}
        self.log = open(workdir / f"{server}-{TARGETS[target]}.log", "w")
        self.process = subprocess.Popen(server_command(server, target, self.port), env=env, cwd=BENCH,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.acknowledged = 0
        self.results: list[dict] = []

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} {TARGETS[self.target]} exited; see {self.log.name}")
            try:
                urllib.request.urlopen(self.url, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it serves
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.server} {TARGETS[self.target]} did not start in {timeout} s")

    def workers(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(pid) for pid in children)

    def rss_mb(self) -> list[float]:
        found = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            found.append(round(kb / 1024, 1))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()

    def stored(self) -> tuple[int, float | None]:
        """(events stored, events per commit) from the database; the ceiling stores nothing."""
        if self.target == "b":
            return 0, None
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            if self.target == "c":
                return conn.execute("SELECT count(*) FROM events").fetchone()[0], None
            # One commit writes every event of its batch with the same created_at.
            count, commits = conn.execute("SELECT count(*), count(DISTINCT created_at) FROM events").fetchone()
            return count, (count / commits if commits else None)


def prepare_account(workdir: Path) -> tuple[str, int, str]:
    """A user, an API key and a list in a template database that each (a) copies."""
    from octeth_tracking import SQLiteStore

    path = workdir / "template.db"
    store = SQLiteStore(path)
    user = store.create_user("bench")
    key = store.create_api_key(user)
    list_id = store.create_list(user, "bench")
    store.close()
    with closing(sqlite3.connect(path)) as conn:  # closed: a copy (or a rename) of the file is then the whole store
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return key, list_id, str(path)


def bench_server(
    server: str, args: argparse.Namespace, workdir: Path, log, names: tuple[str, ...] = ("a", "b", "c"),
    account: tuple[str, int, str] | None = None, make_bodies=None,
) -> dict:
    """Serve each of ``names`` (keys of ``APPS``) under ``server`` and drive them in alternation.

    :param account: (API key, list id, database file our app starts from, copied): default a fresh one.
    :param make_bodies: given (key, list id): what ``load`` sends; default ``bodies.templates``.
    """
    key, list_id, template = account or prepare_account(workdir)
    bodies = (make_bodies or templates)(key, list_id)
    env = {**os.environ, "OCTETH_TRACKING_EVENT_RATE_LIMIT": "0", "BENCH_API_KEY": key,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)])}
    targets = {}
    for name in names:
        if APPS[name][1]:  # our app, built on the account's database
            copy_store(template, workdir / f"{server}-{TARGETS[name]}.db")
        targets[name] = Target(server=server, target=name, workdir=workdir, env=env)
    run = 0
    try:
        for target in targets.values():
            target.wait_ready()
        for _ in range(WARMUP_RUNS):  # imports, connections, caches
            for target in targets.values():
                run += 1
                target.acknowledged += load(target.url, bodies, run, args.connections, args.warmup / WARMUP_RUNS,
                                            args.generator)["acknowledged"]
        rss_start = {name: t.rss_mb() for name, t in targets.items()}
        rss_rounds: dict[str, list[float]] = {name: [] for name in targets}
        for round_ in range(1, args.rounds + 1):
            for name, target in targets.items():
                run += 1
                meter = Meter(target.workers())
                result = load(target.url, bodies, run, args.connections, args.duration, args.generator)
                result.update(meter.read(result["requests"]))
                target.acknowledged += result["acknowledged"]
                target.results.append(result)
                rss_rounds[name].append(round(sum(target.rss_mb()), 1))
                log(f"  {server} round {round_} {name} {TARGETS[name]:8} {result['rps']:8.0f} req/s"
                    f"  p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:8.2f} ms  errors {result['errors']}")
        rss_end = {name: t.rss_mb() for name, t in targets.items()}
    finally:
        for target in targets.values():
            target.stop()
    summary = {}
    for name, target in targets.items():
        stored, per_commit = target.stored()
        results = target.results
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "acknowledged": target.acknowledged, "stored": stored, "events_per_commit": per_commit,
            "rss_start": rss_start[name], "rss_end": rss_end[name], "rss_rounds": rss_rounds[name],
            "rounds": [round(r["rps"]) for r in results], "generator": results[0]["generator"],
        }
        for key in ("workers_us", "machine_us", "switches", "idle"):  # absent without /proc
            if all(key in r for r in results):
                summary[name][key] = statistics.median(r[key] for r in results)
    return summary


def durable_check(row: dict, target: str, connections: int, runs: int) -> tuple[bool, str]:
    """acknowledged == stored (exact with our generator; wrk may leave <= connections in flight per run)."""
    if target == "b":
        return True, "-"
    surplus = row["stored"] - row["acknowledged"]
    if row["generator"] == "python":
        return surplus == 0, f"{row['acknowledged']} = {row['stored']}" if surplus == 0 else f"{row['acknowledged']} != {row['stored']}"
    ok = 0 <= surplus <= connections * runs
    return ok, f"{row['acknowledged']} acked, {row['stored']} stored (+{surplus} in flight at wrk's stops)"


def properties_latency(sizes: list[int], log, repeat: int = 300) -> list[dict]:
    """Median and p99 of the properties endpoint, in process, on a store of each size.

    The sizes take turns call by call (as the targets of the load do round by round), so
    drift on a shared machine hits every size alike.
    """
    from werkzeug.test import EnvironBuilder

    from octeth_tracking import create_app
    from seed import seeded

    calls = []
    for size in sizes:
        path, list_id, key = seeded(size, log=log)
        app = create_app(db=str(path), prefix="", properties_rate_limit=0)
        environ = EnvironBuilder(path="/website_events.properties", query_string={"APIKey": key, "ListID": list_id}).get_environ()
        calls.append((app, environ))
    timings: list[list[float]] = [[] for _ in sizes]
    for index in range(repeat + 20):
        for (app, environ), kept in zip(calls, timings):
            status: list[str] = []
            started = time.perf_counter()
            b"".join(app(dict(environ), lambda s, h, *a: status.append(s)))
            if index >= 20:
                kept.append(time.perf_counter() - started)
            assert status[0].startswith("200"), status
    results = []
    for size, kept in zip(sizes, timings):
        kept.sort()
        results.append({"size": size, "p50_ms": statistics.median(kept) * 1000, "p99_ms": kept[int(len(kept) * 0.99)] * 1000})
    return results


def cost_figures(quick: bool, log) -> dict:
    """``bench/cost.py``'s figures: µs of CPU per request of the path, and of the write by events per commit."""
    from cost import commit_cost, request_path

    with tempfile.TemporaryDirectory(prefix="octeth-cost-") as tmp:
        path = request_path(Path(tmp), requests=2000 if quick else 5000, repeat=3 if quick else 10)
        stored = 50_000 if quick else 200_000  # about what a round of serving leaves in the store
        write = {n: commit_cost(Path(tmp), n, events=512 if quick else 2000, stored=stored)[0] for n in (1, 4, 16, 64)}
    log(f"  in process: request path {path:.0f} µs CPU; write per event, on a store of {stored:,} events, "
        + ", ".join(f"{cpu:.0f} µs at {n}/commit" for n, cpu in write.items()))
    return {"path": path, "write": write}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 4 s, stores of 10k and 100k events")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float, help="seconds per round and target")
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--sizes", help="comma-separated store sizes for the properties endpoint")
    parser.add_argument("--out", type=Path, help="default docs/performance.md (--quick: bench/.cache/performance-quick.md)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.duration = args.duration or (4 if args.quick else 10)
    # Long enough for a worker's memory to settle: under gunicorn its RSS grew by about
    # 4 MB in its first 10 s of load, then by about 1 MB over the next 80 s. The growth
    # lies in the malloc arenas of its 8 request threads (a few hundred kB each), not in
    # SQLite's page cache (capping that at 256 kB changed nothing).
    args.warmup = args.warmup or (2 if args.quick else 30)
    args.out = args.out or (BENCH / ".cache" / "performance-quick.md" if args.quick else ROOT / "docs" / "performance.md")
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [10_000, 100_000] if args.quick else [10_000, 1_000_000, 10_000_000])

    def log(text: str) -> None:
        print(text, flush=True)

    generator = "wrk" if args.generator == "wrk" or (args.generator == "auto" and wrk_available()) else "python"
    log(f"load generator: {generator}{'' if generator == 'wrk' else ' (wrk not found: apt-get install wrk)'}")
    if args.quick:
        log(f"--quick: {args.rounds} rounds of {args.duration:g} s; properties at {', '.join(f'{s:,}' for s in sizes)} events"
            " (not the full run's 10k / 1M / 10M)")
    report = {"servers": {}, "properties": [], "args": args, "sizes": sizes, "generator": generator}
    for server in args.servers.split(","):
        log(f"{server}: a = ours, b = bare ceiling, c = naive peer")
        with tempfile.TemporaryDirectory(prefix=f"octeth-bench-{server}-") as workdir:
            report["servers"][server] = bench_server(server, args, Path(workdir), log)
    for result in properties_latency(sizes, log):
        log(f"  properties at {result['size']:>11,} events: p50 {result['p50_ms']:.3f} ms  p99 {result['p99_ms']:.3f} ms")
        report["properties"].append(result)
    from reads import reads_latency

    report["reads"] = reads_latency(sizes, log)
    report["cost"] = cost_figures(args.quick, log)
    from report import write_report

    ok = write_report(report, args.out, machine(), log)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
