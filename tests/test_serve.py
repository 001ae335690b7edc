"""Which server ``serve`` runs: granian when installed, werkzeug's development server otherwise, saying which."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

# Runs the CLI with granian made unimportable, as on a machine without the server extra.
WITHOUT_GRANIAN = "import sys; sys.modules['granian'] = None; from octeth_tracking.cli import main; raise SystemExit(main())"


@pytest.mark.parametrize("command, server", [
    pytest.param([sys.executable, "-m", "octeth_tracking"], "granian", id="granian-when-installed"),
    pytest.param([sys.executable, "-c", WITHOUT_GRANIAN], "werkzeug's development server", id="werkzeug-fallback"),
])
def test_serve_says_which_server_and_answers(tmp_path, command, server):
    process = subprocess.Popen([*command, "serve", "--port", "0", "--db", str(tmp_path / "s.db")],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # type: ignore[union-attr]
            match = re.search(r"Serving .* on (http://127\.0\.0\.1:(\d+)/api/v1) \((.*)\)", line)
            if match:
                break
        else:
            raise AssertionError("no Serving line")
        url, port, said = match.groups()
        assert int(port) > 0 and said.startswith(server)
        request = urllib.request.Request(url + "/event", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 401 and json.loads(answer.value.read())["Errors"][0]["Code"] == 99998
    finally:
        process.terminate()
        out, err = process.communicate(timeout=15)
    assert process.returncode in (0, -15)
    # granian's warning that a WSGI app may run many threads is intended here: not printed.
    assert "Python threads" not in out + err and "WARNING" not in out + err


@pytest.mark.parametrize("command", [
    pytest.param([sys.executable, "-m", "octeth_tracking"], id="granian"),
    pytest.param([sys.executable, "-c", WITHOUT_GRANIAN], id="werkzeug-fallback"),
])
def test_a_port_in_use_is_one_line_and_a_failure_not_a_serving_line(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run([*command, "serve", "--port", str(port), "--db", str(tmp_path / "s.db")],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1
    assert finished.stderr == f"octeth-tracking: cannot listen on 127.0.0.1:{port}: Address already in use\n"
