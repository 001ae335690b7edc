"""What a web page needs: the tracker script (served at ``{mount}/tracker.js``) and the snippet that loads it.

The script, ``static/tracker.js``, is hand-written and served as it is in the package: what
was reviewed is what runs, readable in a browser's developer tools, with no build step or
JavaScript toolchain; it is gzip-compressed once, when first asked for, and a test keeps its
compressed size under 5 KB.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

SCRIPT = Path(__file__).parent / "static" / "tracker.js"


@dataclass(frozen=True)
class Script:
    """The script's bytes as served, plain and gzip-compressed, each with its strong ETag."""

    plain: bytes
    gzipped: bytes
    etag: str  # without its quotes
    gzip_etag: str


@functools.lru_cache(maxsize=1)
def script() -> Script:
    plain = SCRIPT.read_bytes()
    tag = hashlib.sha256(plain).hexdigest()[:20]
    return Script(plain, gzip.compress(plain, compresslevel=9, mtime=0), tag, tag + "-gzip")


def _js(value: Any) -> str:
    """``value`` as a JavaScript literal that is safe inside an HTML ``<script>`` element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def snippet(api_url: str, tracker_key: str, list_id: int, options: Mapping[str, Any] | None = None) -> str:
    """The HTML to paste before ``</head>``: it queues calls to ``octethTracker`` until the script has loaded.

    :param api_url: where the API answers for browsers, mount point included (``https://track.example.com/api/v1``).
    :param tracker_key: the list's tracker key (public: it may be in every page).
    :param list_id: its list.
    :param options: the script's options (``respectPrivacy``, ``visitorCookie``, ...; see the README).
    """
    api_url = api_url.rstrip("/")
    settings = {"key": tracker_key, "listId": list_id, "api": api_url, **(options or {})}
    fields = ", ".join(f"{name}: {_js(value)}" for name, value in settings.items())
    return (
        "<!-- Octeth event tracking -->\n"
        "<script>\n"
        f"  window.octethTracker = window.octethTracker || {{{fields}, q: []}};\n"
        '  ["eventP", "eventI", "eventT", "eventC"].forEach(function (name) {\n'
        "    octethTracker[name] = octethTracker[name] || function () { octethTracker.q.push([name, [].slice.call(arguments)]); };\n"
        "  });\n"
        "</script>\n"
        f"<script async src={_js(api_url + '/tracker.js')}></script>\n"
    )
