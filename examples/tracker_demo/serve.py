"""A web site on its own origin, for trying the browser tracker: the demo shop page with your snippet in it.

    octeth-tracking create-tracker --list-id 1 --origin http://127.0.0.1:8080      # {"tracker_key": "otk_...", ...}
    octeth-tracking snippet --tracker otk_... > snippet.html
    python examples/tracker_demo/serve.py snippet.html                             # http://127.0.0.1:8080

with the API served by ``octeth-tracking serve`` (http://127.0.0.1:8000) in another terminal.
"""

from __future__ import annotations

import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = Path(__file__).with_name("index.html")
MARK = "<!-- SNIPPET: serve.py puts the output of `octeth-tracking snippet --tracker KEY` here -->"


def page(snippet: str) -> bytes:
    """The demo page with ``snippet`` pasted before ``</head>``, where the README says to."""
    return PAGE.read_text(encoding="utf-8").replace(MARK, snippet.strip()).encode("utf-8")


class DemoSite(ThreadingHTTPServer):
    """Answers ``GET /`` with the page holding :attr:`snippet` (which may be set after the port is known)."""

    snippet = ""


def make_server(snippet: str, host: str = "127.0.0.1", port: int = 8080) -> DemoSite:
    """A server (not yet serving) that answers ``GET /`` with the page; ``port=0`` picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/favicon.ico":  # a browser asks for it: nothing, rather than a 404 in its console
                self.send_response(204)
                self.end_headers()
                return
            if self.path.split("?")[0] != "/":
                self.send_error(404)
                return
            body = page(self.server.snippet)  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = DemoSite((host, port), Handler)
    server.snippet = snippet
    return server


def serve_in_background(snippet: str = "", host: str = "127.0.0.1", port: int = 0) -> DemoSite:
    """The site, served from a daemon thread; ``server_address`` tells its port; ``shutdown()`` stops it."""
    server = make_server(snippet, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snippet", type=Path, help="a file holding the output of `octeth-tracking snippet`")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = make_server(args.snippet.read_text(encoding="utf-8"), args.host, args.port)
    print(f"Demo shop on http://{args.host}:{server.server_address[1]}/ (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
