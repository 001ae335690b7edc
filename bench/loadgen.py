"""The load: wrk when it is installed, else a bundled Python generator; same bodies, same report.

Both keep ``connections`` keep-alive connections busy for ``duration`` seconds, each
sending the next body as soon as the previous answer arrived, and report a dict:
``requests`` (answers received), ``acknowledged`` (2xx answers), ``errors`` (non-2xx
answers, connect/read/write errors, timeouts), ``rps``, ``p50_ms``, ``p99_ms``.

wrk stops at its deadline without waiting for the requests still in flight, so the
server may store up to ``connections`` events more than wrk saw acknowledged; the
Python generator stops sending at the deadline and waits for every answer, so with it
stored == acknowledged exactly.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bodies import make_uuid

_LUA = r"""
local bodies = {%(bodies)s}
local run = %(run)d
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("worker", threads)
end
function init(args)
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local parts = bodies[(counter %% #bodies) + 1]
  local uuid = string.format("%%08x-%%04x-4000-8000-%%012x", run, worker, counter)
  return wrk.format(nil, nil, nil, parts[1] .. uuid .. parts[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nRESULT {"requests": %%d, "duration_us": %%d, "status": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0)))
end
"""


# Traffic (single.py): each wrk thread's visitors in sessions of 3-12 events, 10,000 at a time;
# 10 % with a random v4 UUID, 10 % without one (the server gives it), the rest a UUIDv7 (its
# milliseconds the run's start plus the request's count, its last bits the run, thread and count).
_TRAFFIC_LUA = r"""
local bodies = {%(bodies)s}
local run, base = %(run)d, %(base_ms)d
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("worker", threads)
end
local function hex16() return math.random(0, 65535) end
function init(args)
  counter, made = 0, 0
  math.randomseed(run * 1000 + worker)
  sessions = {}
  for i = 1, 10000 do
    made = made + 1
    sessions[i] = {string.format("visitor-%%d-%%d-%%d", run, worker, made), math.random(3, 12)}
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local session = sessions[math.random(1, 10000)]
  local visitor = session[1]
  session[2] = session[2] - 1
  if session[2] == 0 then
    made = made + 1
    session[1], session[2] = string.format("visitor-%%d-%%d-%%d", run, worker, made), math.random(3, 12)
  end
  local roll, uuid = math.random(), ""
  if roll < 0.1 then
    uuid = string.format(', "UUID": "%%04x%%04x-%%04x-4%%03x-%%04x-%%04x%%04x%%04x"', hex16(), hex16(), hex16(),
      math.random(0, 4095), 32768 + math.random(0, 16383), hex16(), hex16(), hex16())
  elseif roll >= 0.2 then
    local ms = base + counter
    uuid = string.format(', "UUID": "%%04x%%04x-%%04x-7%%03x-%%04x-%%02x%%02x%%08x"', math.floor(ms / 4294967296),
      math.floor(ms / 65536) %% 65536, ms %% 65536, math.random(0, 4095), 32768 + math.random(0, 16383),
      run %% 256, worker, counter)
  end
  local parts = bodies[(counter %% #bodies) + 1]
  local rest = parts[2]
  if parts[3] then rest = string.gsub(rest, "@EMAIL@", visitor .. "@example.com") end
  return wrk.format(nil, nil, nil, parts[1] .. visitor .. rest .. uuid .. "}")
end
""" + _LUA[_LUA.index("function done"):]


class Traffic:
    """Bodies as a site's traffic sends them (``single.py``): ``templates`` of (head, rest, identify),
    the body ``head + visitor + rest + UUID part + "}"`` ("@EMAIL@" in ``rest``: the visitor's
    address); ``python(run, connection)`` the same for our generator."""

    def __init__(self, templates: list[tuple[str, str, bool]], python) -> None:
        self.templates, self.python = templates, python


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, templates, run: int, connections: int, duration: float,
            threads: int = 2) -> dict:
    if isinstance(templates, Traffic):
        bodies = ",\n".join("{%s, %s, %s}" % (_lua_string(head), _lua_string(rest), "true" if identify else "false")
                             for head, rest, identify in templates.templates)
        text = _TRAFFIC_LUA % {"bodies": bodies, "run": run, "base_ms": int(time.time() * 1000)}
    else:
        bodies = ",\n".join("{%s, %s}" % (_lua_string(head), _lua_string(tail)) for head, tail in templates)
        text = _LUA % {"bodies": bodies, "run": run}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(text)
    try:
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
             "-s", script.name, url],
            capture_output=True, text=True, timeout=duration + 60,
        )
    finally:
        Path(script.name).unlink()
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    raw = json.loads(line[len("RESULT "):])
    errors = raw["status"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "requests": raw["requests"], "acknowledged": raw["requests"] - raw["status"], "errors": errors,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6), "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000, "generator": "wrk",
    }


async def _connection(host: str, port: int, path: str, templates, run: int, worker: int, deadline: float,
                      latencies: list[float], counts: dict[str, int]) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        counts["errors"] += 1
        return
    counter = 0
    made = templates(run, worker) if callable(templates) else None  # a connection's own bodies
    try:
        while time.monotonic() < deadline:
            counter += 1
            if made is not None:
                body = next(made)
            else:
                head, tail = templates[counter % len(templates)]
                body = (head + make_uuid(run, worker, counter) + tail).encode()
            started = time.perf_counter()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head_bytes.split(b"\r\n")
            status = int(lines[0].split()[1])
            length = next(int(l.split(b":")[1]) for l in lines if l.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            counts["requests"] += 1
            if 200 <= status < 300:
                counts["acknowledged"] += 1
            else:
                counts["errors"] += 1
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, StopIteration):
        counts["errors"] += 1
    finally:
        writer.close()


def run_python(url: str, templates: list[tuple[str, str]], run: int, connections: int, duration: float) -> dict:
    parts = urlsplit(url)
    latencies: list[float] = []
    counts = {"requests": 0, "acknowledged": 0, "errors": 0}

    async def main() -> float:
        started = time.monotonic()
        await asyncio.gather(*(
            _connection(parts.hostname, parts.port, parts.path, templates, run, worker, started + duration,
                        latencies, counts)
            for worker in range(1, connections + 1)
        ))
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return {**counts, "rps": counts["requests"] / elapsed, "p50_ms": percentile(0.50), "p99_ms": percentile(0.99),
            "generator": "python"}


def load(url: str, templates: list[tuple[str, str]], run: int, connections: int, duration: float,
         generator: str = "auto") -> dict:
    """Drive ``url`` with POSTs of ``templates`` (UUIDs distinct per ``run``) and report. ``templates``
    may instead be a :class:`Traffic` (wrk's Lua or its ``python`` bodies), or a function of (run,
    connection) giving that connection's bodies (our generator only)."""
    if callable(templates):
        return run_python(url, templates, run, connections, duration)
    if isinstance(templates, Traffic) and not (generator == "wrk" or (generator == "auto" and wrk_available())):
        return run_python(url, templates.python, run, connections, duration)
    if generator == "wrk" or (generator == "auto" and wrk_available()):
        return run_wrk(url, templates, run, connections, duration)
    return run_python(url, templates, run, connections, duration)
