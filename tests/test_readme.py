"""The README says what the code does: its code table and commands match the project."""

from __future__ import annotations

import re
from pathlib import Path

from octeth_tracking import ROUTES, errors
from octeth_tracking.config import settings_names
from octeth_tracking.schemas import BodySchema

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def readme_codes() -> dict[int, tuple[int, str]]:
    table = README.split("### Every code the API returns", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| (\d+) \| (\d+) \| ([^|]+) \|", table, re.M)
    return {int(code): (int(status), message.strip()) for status, code, message in rows}


def declared_codes() -> dict[int, tuple[int, str]]:
    """Every code with its status and message, from the schemas and errors.py; a code declared
    in several places (71: both schemas and /api.php's error) must be declared alike."""
    declared: list[tuple[int, tuple[int, str]]] = []
    for name in {route.schema for route in ROUTES if route.schema}:
        declared += [(code, (422, message)) for code, message in BodySchema(name).messages.items()]
    for error in vars(errors).values():
        if isinstance(error, type) and issubclass(error, errors.APIError) and error.code:
            declared.append((error.code, (error.status, error.message)))
    expected: dict[int, tuple[int, str]] = {}
    for code, answer in declared:
        assert expected.setdefault(code, answer) == answer, f"code {code} is declared as {expected[code]} and {answer}"
    return expected


def test_code_table_lists_every_code_the_api_can_return():
    assert readme_codes() == declared_codes()


def test_configuration_table_lists_every_setting():
    for name in settings_names():
        assert f"| `{name}` | `OCTETH_TRACKING_{name.upper()}` |" in README


def test_ci_runs_the_readme_test_command():
    command = re.search(r"Install and run the tests:\n\n```sh\n(.+)\n```", README).group(1)
    assert command in (ROOT / ".ci" / "run").read_text()


def test_command_table_lists_every_command():
    from octeth_tracking.cli import commands

    table = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)", table, re.M))
    assert listed == set(commands()) | {"serve"}


def test_the_snippet_to_paste_is_what_the_snippet_command_prints():
    from octeth_tracking.browser import snippet

    assert snippet("https://track.example.com/api/v1", "otk_YOUR_TRACKER_KEY", 1) in README
