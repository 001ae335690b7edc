"""PostgreSQL's revocation generation: ``NOTIFY`` in each revoking transaction, a listener in each process.

A revocation commits ``pg_notify('octeth_tracking_revocations', current_schema())`` with the
change itself; PostgreSQL delivers it to every listening connection once (and only if) the
transaction commits. Each app process keeps one such connection in a daemon thread: a
notification for its schema moves the process's generation, which a request reads from
memory (see :mod:`~octeth_tracking.storage.revocations`). While that connection is down
(a server restart, a network fault) notifications may be missed, so the generation is
unknown (``None``: no cache is trusted) until the listener is back, listening, and has moved
the generation once more.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import psycopg

log = logging.getLogger("octeth_tracking")

CHANNEL = "octeth_tracking_revocations"
NOTIFY = f"SELECT pg_notify('{CHANNEL}', current_schema())"


class RevocationListener:
    """One process's listening connection and the generation it keeps.

    :param url: the store's database URL (the same schema: notifications of other schemas are ignored).
    :param connect_timeout: seconds to wait for the server when (re)connecting.

    Started by the first :meth:`generation` call in a process (a command-line run never
    starts it), and again in a child after a fork.
    """

    poll = 1.0  # seconds between checks that the store is still open
    probe_every = 5.0  # seconds of silence after which the connection is checked with a query
    retry_after = 0.5  # seconds between reconnection attempts

    def __init__(self, url: str, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._generation = 0
        self._live = False
        self._closed = False
        self._pid: int | None = None
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        if self._pid != os.getpid():
            self._start()
        return self._generation if self._live else None

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid() or self._closed:
                return
            self._pid, self._live = os.getpid(), False
            threading.Thread(target=self._listen, name="octeth-revocations", daemon=True).start()

    def _listen(self) -> None:
        pid = os.getpid()
        while not self._closed and self._pid == pid:
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
                                     keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2) as conn:
                    self._serve(conn, pid)
            except psycopg.Error as error:
                if self._live:
                    log.warning("revocation listener lost PostgreSQL (%s): API keys are looked up on every"
                                " request until it is back", str(error).strip().splitlines()[0] if str(error) else error)
                self._live = False
                time.sleep(self.retry_after)
        self._live = False

    def _serve(self, conn: psycopg.Connection[Any], pid: int) -> None:
        conn.execute(f"LISTEN {CHANNEL}")
        row = conn.execute("SELECT current_schema()").fetchone()
        schema = row[0] if row else None
        # Listening from now on; whatever was revoked while we were not must not be trusted.
        self._generation += 1
        self._live = True
        quiet_since = time.monotonic()
        while not self._closed and self._pid == pid:
            for notify in conn.notifies(timeout=self.poll):
                quiet_since = time.monotonic()
                if notify.payload == schema:
                    self._generation += 1
            if time.monotonic() - quiet_since > self.probe_every:
                conn.execute("SELECT 1")  # raises if the connection died without a word
                quiet_since = time.monotonic()

    def close(self) -> None:
        self._closed = True
        self._live = False
