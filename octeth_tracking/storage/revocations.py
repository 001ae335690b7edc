"""The revocation generation: how every process learns at once that a credential was taken away.

Any change that takes access away (an API key revoked, a session ended, and any credential
that joins later) goes through one store method, ``_revoke`` (see
:class:`~octeth_tracking.storage.accounts.SQLAccounts`), which commits the change and then
moves a counter, the generation, that every process of every host can read cheaply. The
default authenticator remembers a found key or a list's owner only together with the
generation it read *before* the look-up, and trusts it only while the generation is the same:
so a revocation is seen by the very next request anywhere, and a cache hit still costs no
query. ``None`` means the generation cannot be known now (then nothing is trusted from a cache).

- SQLite (one machine): :class:`GenerationFile`, eight bytes in ``<database>-revocations``,
  mapped into memory by every process that opens the store: a read is a memory load.
- PostgreSQL (any number of hosts): ``NOTIFY`` in the revoking transaction, and a listening
  thread in each process (:mod:`~octeth_tracking.storage.postgres_listen`).
"""

from __future__ import annotations

import logging
import mmap
import os

log = logging.getLogger("octeth_tracking")

_SIZE = 8


class GenerationFile:
    """The revocation generation of one SQLite file, shared by every process through a mapped file.

    :param path: the database file; the counter lives beside it in ``<path>-revocations``.
        For ``:memory:`` (one process) it is a counter in memory.

    A bump is a read and a write of the mapped counter, after the revoking commit: two at
    once may both write the same next value, which still differs from what any reader saw
    before either commit, so no lock is needed. If the file cannot be made (a read-only
    directory), the generation is unknown (``None``) and every look-up goes to the database.
    """

    def __init__(self, path: str) -> None:
        self._memory: int | None = None
        self._map: mmap.mmap | None = None
        self._counter: memoryview | None = None  # the mapped eight bytes as one unsigned integer
        if path == ":memory:" or path.startswith("file:"):
            self._memory = 0
            return
        try:
            fd = os.open(path + "-revocations", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            log.warning("cannot use %s-revocations (%s): API keys are looked up on every request", path, error)
            return
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)  # zeros; a file another process made already keeps its value
            self._map = mmap.mmap(fd, _SIZE)
            self._counter = memoryview(self._map).cast("Q")  # a read is an index: the cheapest there is
        except OSError as error:
            log.warning("cannot map %s-revocations (%s): API keys are looked up on every request", path, error)
        finally:
            os.close(fd)  # the mapping keeps the file

    def current(self) -> int | None:
        counter = self._counter
        if counter is not None:
            try:
                return counter[0]
            except ValueError:  # closed meanwhile
                return None
        return self._memory

    def bump(self) -> None:
        counter = self._counter
        if counter is not None:
            counter[0] = (counter[0] + 1) % 2**64
        elif self._memory is not None:
            self._memory += 1

    def close(self) -> None:
        counter, mapped = self._counter, self._map
        self._counter = self._map = None
        if counter is not None:
            counter.release()
        if mapped is not None:
            mapped.close()
