"""A non-editable install carries the schemas and the tracker script inside the package and works from anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_wheel_ships_schemas_and_works_without_the_checkout(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("octeth_tracking-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"octeth_tracking/schemas/{schema.name}" in names
    assert zipfile.ZipFile(wheel).read("octeth_tracking/static/tracker.js") == (
        ROOT / "octeth_tracking" / "static" / "tracker.js").read_bytes()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    probe = (
        "import json, octeth_tracking, octeth_tracking.schemas as s, octeth_tracking.browser as b;"
        "print(json.dumps([octeth_tracking.__file__, str(s.SCHEMA_DIR), s.BodySchema('event').errors({}),"
        " str(b.SCRIPT), len(b.script().plain)]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         check=True, capture_output=True, text=True).stdout
    module, schema_dir, errors, script, size = json.loads(out)
    assert module.startswith(str(target)) and schema_dir.startswith(str(target)) and script.startswith(str(target))
    assert [code for code, _, _ in errors] == [4, 5]
    assert size == (ROOT / "octeth_tracking" / "static" / "tracker.js").stat().st_size
