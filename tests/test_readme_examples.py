"""The README's examples of custom fields, email hashes, Command and /api.php, run as written with curl
against a real server: each section on a fresh store whose list 1 has the README's three fields."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from octeth_tracking import SQLiteStore
from servers import Server
from services import missing

README = (Path(__file__).parent.parent / "README.md").read_text()
FIELDS = "### Subscribers' custom fields: `IdentifyProperties`"
SECTIONS = [FIELDS, "### Identify by email hash", "### The `Command` parameter", "### Octeth 5.9.4's examples",
            "### Batches", "### Compressed bodies", "### Event time"]


def section(heading: str) -> str:
    return README.split(heading + "\n", 1)[1].split("\n### ", 1)[0]


def examples(heading: str) -> list[tuple[str, str]]:
    """Each ``sh`` block of the section with the ``json`` block that shows what it prints."""
    return re.findall(r"```sh\n(.*?)```\n```json\n(.*?)```", section(heading), re.S)


def values(text: str) -> Iterator[Any]:
    """The JSON values printed one after another (curl prints an answer without a final newline)."""
    decoder, at = json.JSONDecoder(), 0
    while at < len(text.rstrip()):
        while text[at].isspace():
            at += 1
        value, at = decoder.raw_decode(text, at)
        yield _anonymous(value)


def _anonymous(value: Any) -> Any:
    """``value`` with each event's UUID and time, the run's own, as ``"any"`` (in a batch's items too)."""
    if isinstance(value, list):
        return [_anonymous(item) for item in value]
    if isinstance(value, dict):
        return {name: "any" if name in ("uuid", "occurred_at") else _anonymous(item) for name, item in value.items()}
    return value


@pytest.mark.parametrize("heading", SECTIONS)
def test_the_readme_examples_work_as_written(tmp_path: Path, heading: str) -> None:
    for tool in ("curl", "sha256sum", "bash"):
        if shutil.which(tool) is None:
            missing(tool, "the README's examples are curl commands (Debian: apt-get install curl coreutils)")
    store = SQLiteStore(tmp_path / "octeth_tracking.db")  # what the quick start's first run creates
    user = store.create_user("admin")
    key, list_id = store.create_api_key(user), store.create_list(user, "My first list")
    store.close()
    assert list_id == 1
    server = Server(tmp_path, "serve", "--port", "0")
    try:
        port = re.search(r":(\d+)/", server.url).group(1)  # type: ignore[union-attr]
        steps = examples(heading) if heading == FIELDS else examples(FIELDS)[:1] + examples(heading)
        assert len(steps) >= 2
        for script, shown in steps:
            script = (script.replace(".venv/bin/python", sys.executable).replace("YOUR_KEY", key)
                      .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}"))
            done = subprocess.run(["bash", "-c", "set -e\n" + script], cwd=tmp_path, capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr
            assert list(values(done.stdout)) == list(values(shown)), script
    finally:
        server.stop()
