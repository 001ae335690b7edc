"""bench/fields_cost.py runs: every kind of request it times answers 200 (it asserts so), and it prints a figure each."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))

import fields_cost  # noqa: E402


def test_the_fields_benchmark_times_requests_that_succeed(tmp_path: Path) -> None:
    costs = {**fields_cost.request_costs(tmp_path, requests=20), **fields_cost.write_costs(tmp_path, events=3)}
    assert len(costs) == 7
