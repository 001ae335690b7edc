"""Real servers in subprocesses, on free loopback ports, for the tests that need real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent


class Server:
    """``python -m octeth_tracking [ARGS]`` in a subprocess, on a free loopback port.

    :param cwd: the working directory (where a default ``./octeth_tracking.db`` goes).
    :param args: the command line after ``python -m octeth_tracking``.
    :param command: the whole command instead (e.g. gunicorn); its stderr must print
        the URL it listens on (``on http://...`` or ``Listening at: http://...``).
    :param env: extra environment variables.
    :param prefix: appended to the URL found on stderr (gunicorn prints no mount point).
    """

    def __init__(self, cwd: Path, *args: str, command: list[str] | None = None,
                 env: dict[str, str] | None = None, prefix: str = "") -> None:
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "octeth_tracking", *args],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # a process group: the server may be several processes (granian's workers)
        )
        self.stderr_lines: list[str] = []
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.stderr_lines.append(line)
            match = re.search(r"(?:on|at:) (http://\S+)", line)
            if match:
                self.url = match.group(1).rstrip(")") + prefix
                break
        else:
            self.process.kill()
            raise RuntimeError("the server did not start: " + "".join(self.stderr_lines))
        # Drain stderr in the background: a full pipe would block the server's logging.
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.stderr_lines.append(line)

    def request(self, path: str, body: bytes | None = None, method: str = "POST",
                headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, Any]:
        """(status, decoded JSON body); a network failure raises ``OSError``."""
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def post(self, path: str, body: bytes, method: str = "POST") -> tuple[int, Any]:
        return self.request(path, body, method)

    def event(self, body: dict[str, Any], timeout: float = 10) -> tuple[int, Any]:
        return self.request("/event", json.dumps(body).encode(), timeout=timeout)

    def kill(self) -> None:
        """``kill -9`` of every process of the server: no chance to flush, close or clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self._wait()

    def _wait(self) -> None:
        try:
            self.process.wait(timeout=10)
        finally:
            try:  # whatever is left of the group (a worker that outlived its parent) goes too
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._drain.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            pipe.close()  # type: ignore[union-attr]

    def stop(self) -> str:
        """Stop politely; everything the server wrote on stderr."""
        self.process.terminate()
        self._wait()
        return "".join(self.stderr_lines)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)
