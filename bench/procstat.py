"""What a round of load cost in CPU, read from ``/proc`` (Linux): the server's workers and the machine.

A ratio of requests per second says how far (a) is from (b), not where the difference
goes. These counters do: CPU seconds of the worker processes, the machine's busy and
idle time (every process, the load generator included), and context switches, each
divided by the requests of the round. Elsewhere (no ``/proc``) the meter reads nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(pids: list[int]) -> float:
    """Seconds of CPU (user + system) the processes have used so far; a process gone counts 0."""
    total = 0
    for pid in pids:
        try:
            # The name field may hold spaces: the numbers start after its closing parenthesis.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def machine_cpu() -> tuple[float, float, int]:
    """(busy seconds, idle seconds, context switches) of the whole machine since boot."""
    busy = idle = 0.0
    switches = 0
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = (values[3] + values[4]) / TICK  # idle, iowait
            busy = (sum(values[:3]) + values[5] + values[6]) / TICK  # user, nice, system, irq, softirq (not steal)
        elif line.startswith("ctxt "):
            switches = int(line.split()[1])
    return busy, idle, switches


class Meter:
    """CPU of ``pids`` and of the machine from now until :meth:`read`.

    :param pids: the server's worker processes.
    """

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.available = Path("/proc/stat").exists()
        if self.available:
            self.start = process_cpu(pids), *machine_cpu()

    def read(self, requests: int) -> dict[str, float]:
        """Per request: ``workers_us`` and ``machine_us`` of CPU, ``switches``; and ``idle``, the
        machine's idle share of the time. Empty without ``/proc`` or without requests."""
        if not (self.available and requests):
            return {}
        workers, busy, idle, switches = process_cpu(self.pids), *machine_cpu()
        workers0, busy0, idle0, switches0 = self.start
        elapsed = (busy - busy0) + (idle - idle0)
        return {
            "workers_us": (workers - workers0) / requests * 1e6,
            "machine_us": (busy - busy0) / requests * 1e6,
            "switches": (switches - switches0) / requests,
            "idle": (idle - idle0) / elapsed if elapsed else 0.0,
        }
