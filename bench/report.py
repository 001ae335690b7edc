"""docs/performance.md and its chart, from one run of ``bench/run.py``.

Every verdict in the "Targets" list is computed from this run's figures, so the page
says which targets were met and which were not, whatever the run measured.
"""

from __future__ import annotations

from pathlib import Path

NAMES = {"a": "ours", "b": "bare ceiling", "c": "naive peer"}
# (server, minimum a/b, minimum a/c): the targets.
RATIO_TARGETS = {"gunicorn": (0.8, 3.0), "granian": (0.4, 10.0)}


def _chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = list(report["servers"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.26
    colours = {"a": "#2a6f97", "b": "#a3a3a3", "c": "#d1495b"}
    for offset, target in enumerate("abc"):
        values = [report["servers"][s][target]["rps"] for s in servers]
        xs = [i + (offset - 1) * width for i in range(len(servers))]
        bars = left.bar(xs, values, width, label=f"({target}) {NAMES[target]}", color=colours[target])
        left.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)
    left.set_xticks(range(len(servers)), servers)
    left.set_ylabel("requests/s (median of rounds)")
    quick = " (quick run)" if report["args"].quick else ""
    left.set_title(f"POST /event, {report['args'].connections} connections{quick}")
    left.legend(fontsize=8)
    sizes = [p["size"] for p in report["properties"]]
    right.plot(sizes, [p["p50_ms"] for p in report["properties"]], "o-", label="p50", color="#2a6f97")
    right.plot(sizes, [p["p99_ms"] for p in report["properties"]], "s--", label="p99", color="#d1495b")
    for read, colour in (("newest page", "#edae49"), ("a visitor's page", "#66a182")):
        if report.get("reads"):
            right.plot([r["size"] for r in report["reads"]], [r[f"{read} p50_ms"] for r in report["reads"]], "^-",
                       label=f"list, {read}: p50", color=colour)
    right.set_xscale("log")
    right.set_ylim(bottom=0)
    right.set_xlabel("events stored in the list")
    right.set_ylabel("latency (ms, in process)")
    right.set_title(f"website_events.properties (p50, p99) and .list{quick}")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _per_event_write(cost: dict, per_commit: float) -> float:
    """µs of CPU per event of the durable write at ``per_commit`` events per commit (interpolated)."""
    points = sorted(cost["write"].items())
    for (low, low_cpu), (high, high_cpu) in zip(points, points[1:]):
        if low <= per_commit <= high:
            return low_cpu + (high_cpu - low_cpu) * (per_commit - low) / (high - low)
    return points[0][1] if per_commit < points[0][0] else points[-1][1]


def _budget(report: dict) -> list[str]:
    """Where the CPU went, per ratio target: this run's measured figures beside ``bench/cost.py``'s."""
    cost = report.get("cost")
    lines = []
    if cost:
        points = sorted(cost["write"].items())
        write = ", ".join(f"{cpu:.0f} µs at {n}" for n, cpu in points)
        (_, alone), (most, each) = points[0], points[-1]
        lines.append(
            f"- CPU per request in our code, measured in process in this run (`bench/cost.py`, the write on a store of"
            f" a served run's size): the request path without the write (parse, authenticate, validate, answer)"
            f" {cost['path']:.0f} µs; the durable write, per event, by events per commit: {write}. So a commit costs"
            f" about {alone - each:.0f} µs whatever it holds, and each event about {each:.0f} µs more (its cost at"
            f" {most} per commit): sharing a commit helps until the events' own cost is most of it."
        )
    for server, rows in report["servers"].items():
        a, b = rows["a"], rows["b"]
        min_ab = RATIO_TARGETS.get(server, (0, 0))[0]
        if not (min_ab and "machine_us" in a and "machine_us" in b):
            continue
        line = (
            f"- {server}: per request, the machine spent {b['machine_us']:.0f} µs of CPU on (b) and"
            f" {a['machine_us']:.0f} µs on (a) (every process, the load generator included), and stood idle"
            f" {b['idle']:.0%} and {a['idle']:.0%} of the time. Were both CPU-bound, a/b ≥ {min_ab} would need (a)"
            f" within {b['machine_us'] / min_ab:.0f} µs. The workers of (a) used {a['workers_us']:.0f} µs per request,"
            f" those of (b) {b['workers_us']:.0f}: {a['workers_us'] - b['workers_us']:.0f} µs more"
        )
        if cost and a.get("events_per_commit"):
            ours = cost["path"] + _per_event_write(cost, a["events_per_commit"])
            line += (f", where our code alone (the path, and the write at this run's {a['events_per_commit']:.1f}"
                     f" events per commit) costs {ours:.0f} µs in process")
        line += f". Context switches per request: {a['switches']:.1f} under (a), {b['switches']:.1f} under (b)."
        lines.append(line)
    return lines


def _cpu_table(report: dict) -> list[str]:
    """Measured CPU per request of every target (absent where ``/proc`` is not)."""
    rows = [(server, target, row) for server, targets in report["servers"].items()
            for target, row in targets.items() if "machine_us" in row]
    if not rows:
        return []
    lines = [
        "CPU per request, read from `/proc` around each round (`bench/procstat.py`; medians of rounds): the"
        " server's workers, the whole machine (every process, the load generator included), the machine's idle share,"
        " and context switches (machine-wide) per request.",
        "",
        "| server | target | workers µs/request | machine µs/request | machine idle | context switches/request |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for server, target, row in rows:
        lines.append(f"| {server} | ({target}) {NAMES[target]} | {row['workers_us']:.0f} | {row['machine_us']:.0f}"
                     f" | {row['idle']:.0%} | {row['switches']:.1f} |")
    return lines + [""]


def _mb(values: list[float]) -> str:
    return " / ".join(f"{v:.0f}" for v in values) or "?"


def write_report(report: dict, out: Path, machine: str, log) -> bool:
    from run import WARMUP_RUNS, durable_check

    args = report["args"]
    runs = args.rounds + WARMUP_RUNS
    rounds = f"{args.rounds} round{'' if args.rounds == 1 else 's'}"
    lines = [
        "# Performance" + (" (quick run)" if args.quick else ""),
        "",
        "Generated by `bench/run.py`" + (" --quick" if args.quick else "") + "; figures from one run on a shared,"
        " noisy machine: read the ratios, not the absolute numbers.",
        "",
    ]
    if args.quick:
        lines += [
            f"**A quick run, not the figures of record:** {rounds} of {args.duration:g} s after a"
            f" {args.warmup:g}-second warm-up (the full run: 5 rounds of 10 s after 30 s), and the properties endpoint"
            f" at {', '.join(f'{size:,}' for size in report['sizes'])} events instead of 10 thousand, 1 million and"
            " 10 million. Its memory and properties verdicts say little: a worker's memory settles over its first"
            " tens of seconds of load, and the largest store here is small. `python bench/run.py` is the full run.",
            "",
        ]
    if report["generator"] != "wrk":
        beside = [f"{rows['b']['machine_us'] - rows['b']['workers_us']:.0f} µs under {server}"
                  for server, rows in report["servers"].items() if "machine_us" in rows["b"]]
        lines += [
            "**Load from the bundled Python generator, not wrk:** it costs far more CPU per request than wrk, on"
            " the same cores as the servers, so it lowers a fast server's ceiling most"
            + (f" (beside each ceiling, the machine spent {' and '.join(beside)} a request outside the server's"
               " workers, most of it in the generator)" if beside else "")
            + ". The ratios and verdicts of this run are not comparable with those of a run under wrk"
            " (`apt-get install wrk`).",
            "",
        ]
    lines += [
        f"- Machine: {machine}; load generator ({report['generator']}) on the same cores, loopback only.",
        f"- Load: {args.connections} keep-alive connections, {rounds} of {args.duration:g} s per target,"
        " targets in alternation (a, b, c, a, b, c ...) after a warm-up; figures are medians over rounds.",
        "- Bodies: the reference's shapes, 5-30 properties, 70 % page views, 15 % custom events, 10 % conversions,"
        " 5 % identify (with email), every UUID distinct.",
        "- (a) ours: `create_app()`, SQLite, WAL, `synchronous=FULL`, group commit, rate limit off"
        " (`OCTETH_TRACKING_EVENT_RATE_LIMIT=0`); (b) `bench/ceiling.py`, a bare WSGI app; (c) `bench/peer.py`, a Flask"
        " view with `json.loads`, a `jsonschema` validator and one `sqlite3` INSERT + commit per request"
        " (`synchronous=FULL`, WAL).",
        "- gunicorn: `-w 2 --threads 8 -k gthread`; granian: `--interface wsgi --workers 2`.",
        "",
        "Reproduce: `python3 -m venv .venv && .venv/bin/pip install -e '.[bench]'` (and `apt-get install wrk`),"
        " then `.venv/bin/python bench/run.py` (or `--quick`).",
        "",
        "## POST /event",
        "",
        "| server | target | req/s | p50 ms | p99 ms | errors | acknowledged = stored | events/commit | RSS MB per worker, after warm-up → end |",
        "|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    all_durable = True
    verdicts = []
    for server, rows in report["servers"].items():
        for target in "abc":
            row = rows[target]
            ok, text = durable_check(row, target, args.connections, runs)
            all_durable &= ok
            per_commit = f"{row['events_per_commit']:.1f}" if row["events_per_commit"] else "-"
            lines.append(
                f"| {server} | ({target}) {NAMES[target]} | {row['rps']:,.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f}"
                f" | {row['errors']} | {'✓ ' if ok else '✗ '}{text} | {per_commit}"
                f" | {_mb(row['rss_start'])} → {_mb(row['rss_end'])} |"
            )
        a, b, c = rows["a"], rows["b"], rows["c"]
        min_ab, min_ac = RATIO_TARGETS.get(server, (0, 0))
        ab, ac = a["rps"] / b["rps"], a["rps"] / c["rps"] if c["rps"] else float("inf")
        p99 = a["p99_ms"] / b["p99_ms"] if b["p99_ms"] else float("inf")
        verdicts += [
            (ab >= min_ab, f"{server}: a/b = {ab:.2f} (target ≥ {min_ab})"),
            (ac >= min_ac, f"{server}: a/c = {ac:.2f} (target ≥ {min_ac:g})"),
            (p99 <= 3, f"{server}: p99 of a = {p99:.2f}× the ceiling's (target ≤ 3×)"),
        ]
        verdicts.append((a["errors"] == 0, f"{server}: (a) answered every request with a 2xx ({a['errors']} errors)"))
        growth = max((end / start - 1 for start, end in zip(a["rss_start"], a["rss_end"])), default=float("nan"))
        verdicts.append((growth <= 0.10, f"{server}: memory per worker of a grew {growth:+.0%} after warm-up (target ≤ +10 %)"))
        log(f"{server}: a/b = {ab:.2f}, a/c = {ac:.2f}, p99 a/b = {p99:.2f}, events per commit {a['events_per_commit'] or 0:.1f}")
    lines += [
        "",
        "With wrk, acknowledged counts the 2xx answers wrk received; wrk stops at its deadline without waiting for"
        " the requests in flight, which the server may still store, so stored may exceed acknowledged by at most the"
        " connections per run (never fall short); an event stored but answered with an error would hide in that"
        " margin, hence the errors column. The bundled Python generator waits for every answer: there the two"
        " are equal. Events per commit: stored events divided by distinct commit timestamps (a group commit stamps"
        " its whole batch with one time).",
        "",
    ] + _cpu_table(report)
    lines += ["Rounds (req/s, in order; then the workers' total RSS in MB after warm-up and after each round):", ""]
    for server, rows in report["servers"].items():
        for target in "abc":
            row = rows[target]
            rss = [round(sum(row["rss_start"]))] + [round(v) for v in row["rss_rounds"]]
            lines.append(f"- {server} ({target}): {', '.join(f'{v:,}' for v in row['rounds'])}; RSS {' → '.join(map(str, rss))}")
    lines += [
        "",
        "## website_events.properties against store size",
        "",
        "Seeded through `Store.record` in batches of 50,000 (`bench/seed.py`, cached under `bench/.cache/`), one list;"
        " measured in process (the WSGI app called directly, no server), 300 calls each after 20 warm-up calls, the"
        " sizes taking turns call by call.",
        "",
        "| events in the list | p50 ms | p99 ms |",
        "|---:|---:|---:|",
    ]
    for p in report["properties"]:
        lines.append(f"| {p['size']:,} | {p['p50_ms']:.3f} | {p['p99_ms']:.3f} |")
    props = report["properties"]
    if len(props) >= 2:
        ratio = props[-1]["p50_ms"] / props[0]["p50_ms"]
        verdicts.append((ratio <= 1.2, f"properties: p50 at {props[-1]['size']:,} events = {ratio:.2f}× the one at"
                                       f" {props[0]['size']:,} (target ≤ 1.2×)"))
    if report.get("reads"):
        from reads import table

        reads = report["reads"]
        lines += ["", "## website_events.list against store size", "",
                  "`bench/reads.py`, on the same seeded stores, in process, the sizes and reads taking turns call by"
                  " call: a page of 100 each (ratio: p50 against the smallest store's).", ""] + table(reads)
        for read in ("newest page", "a visitor's page"):
            ratio = reads[-1][f"{read} p50_ms"] / reads[0][f"{read} p50_ms"]
            verdicts.append((ratio <= 1.5, f"list, {read}: p50 at {reads[-1]['size']:,} events = {ratio:.2f}× the one"
                                           f" at {reads[0]['size']:,} (target ≤ 1.5×)"))
    verdicts.append((all_durable, "acknowledged == stored for (a) and (c) on every server"))
    lines += ["", "## Targets on this run", ""]
    lines += [f"- {'met' if ok else '**not met**'}: {text}" for ok, text in verdicts]
    lines += ["", f"![throughput and properties latency]({out.with_suffix('.png').name})", ""]
    lines += [
        "## Where the time goes",
        "",
        "- A durable 200 waits for its commit. A commit holds SQLite's one write lock through its fsync, so the two"
        " workers take turns (an `flock`, woken at once). In each worker one request thread at a time leads: it"
        " takes everything queued when its turn comes and commits it (the common batch, no email and no property"
        " name new to the registry, as one INSERT that is its own transaction), wakes the first of the others (each"
        " woken thread wakes the next) and passes the lead to the first request queued meanwhile (no writer thread)."
        " Requests per commit are bounded by the requests in flight per worker: at most 8 under gunicorn's 8"
        " threads.",
    ]
    lines += _budget(report)
    lines += [
        "- The load generator, both server workers and the writers share two cores with other work: the bare"
        " ceiling's own figure moves by ±30 % between rounds, so the ratios carry that noise.",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    _chart(report, out.with_suffix(".png"))
    out.write_text("\n".join(lines), encoding="utf-8")
    for ok, text in verdicts:
        log(f"{'met    ' if ok else 'NOT MET'} {text}")
    log(f"wrote {out} and {out.with_suffix('.png')}")
    return all_durable
