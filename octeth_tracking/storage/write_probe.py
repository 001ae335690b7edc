"""Health's question for SQLite: could a write get its turn now, within a short bound?

A read answers while another process holds the write lock (WAL lets it), so a health check
that only reads says "ok" while every event waits for its ``busy_timeout`` and then gets a
503. :class:`WriteProbe` asks the real question: a probe thread queues for the writers' turn
(the file lock every process's writer takes, see
:class:`~octeth_tracking.storage.group_commit.WriterTurn`) and then for SQLite's write lock
(``BEGIN IMMEDIATE``, then ``ROLLBACK``: nothing is written). The caller waits for it at most
the bound; a probe that is still queued past it answers "no", and a later check waits on the
same probe rather than starting another one.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from .group_commit import WriterTurn
from .sqlite_writes import connect


class _Probe:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class WriteProbe:
    """Whether a write to the SQLite file at ``path`` can get its turn within ``bound`` seconds.

    :param path: the database file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._running: _Probe | None = None
        self._pid = os.getpid()

    def check(self, bound: float) -> bool:
        with self._lock:
            if self._pid != os.getpid():  # after a fork: the parent's probe thread is not here
                self._running, self._pid = None, os.getpid()
            probe = self._running
            if probe is None:
                probe = self._running = _Probe()
                threading.Thread(target=self._run, args=(probe, bound), name="octeth-write-probe", daemon=True).start()
        return probe.done.wait(bound) and probe.ok

    def _run(self, probe: _Probe, bound: float) -> None:
        turn = WriterTurn(self.path)  # a file lock of its own: in the queue with our own writer too
        try:
            with turn:
                conn = connect(self.path, bound)
                try:
                    conn.execute("BEGIN IMMEDIATE")  # the write lock, waited for at most the bound
                    conn.execute("ROLLBACK")
                    probe.ok = True
                finally:
                    conn.close()
        except (sqlite3.Error, OSError):
            probe.ok = False
        finally:
            turn.close()
            with self._lock:
                if self._running is probe:
                    self._running = None
            probe.done.set()
