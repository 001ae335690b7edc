"""What custom fields, email hashes and /api.php cost per request, measured in process (no server).

    python bench/fields_cost.py

1. The request path without the write (as ``bench/cost.py`` measures it: the store's ``record``
   hands back receipts), per kind of request: a page view in JSON; an identify on a list without
   fields; an identify with three ``IdentifyProperties`` on a list with three fields (the fields
   are read from the store on every identify); a page view whose ``ID`` is an email hash that
   matches (one more indexed read); and the page view as an ``/api.php`` form.
2. The durable write of one identify in its own commit, without field values and with three.

Figures are the best of several repetitions, in µs of CPU per request.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from octeth_tracking import SQLiteStore, TrackingApp
from octeth_tracking.storage import Event, Receipt


def best_cpu(run: Callable[[], None], count: int, repeat: int = 7) -> float:
    """Best µs of process CPU per item of ``run``'s ``count`` items."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, (time.process_time() - started) / count * 1e6)
    return best


def request_costs(workdir: Path, requests: int = 3000) -> dict[str, float]:
    store = SQLiteStore(workdir / "path.db")
    user = store.create_user("bench")
    key, plain, fielded = store.create_api_key(user), store.create_list(user, "plain"), store.create_list(user, "fields")
    store.create_custom_field(fielded, "First name", "First-Name")
    store.create_custom_field(fielded, "Plan", "Plan")
    store.create_custom_field(fielded, "Email", "Email-Key", unique_identifier=True)
    store.record([Event(fielded, str(uuid.uuid4()), "Ann@Example.com", "identify", "ann@example.com",
                        fields={3: "Ann@Example.com"})])
    store.record = lambda events: [Receipt(e.uuid, e.external_id, e.event == "identify") for e in events]  # type: ignore[method-assign]
    app = TrackingApp(store=store, event_rate_limit=0)
    hashed = hashlib.sha256(b"Ann@Example.com").hexdigest()
    base = {"APIKey": key, "ID": "visitor-1", "Properties": {"url": "/pricing", "$browser": "Firefox"}}
    kinds: dict[str, tuple[str, str, dict[str, Any]]] = {
        "page view (JSON)": ("/event", "json", {**base, "ListID": plain, "Event": "pageView"}),
        "identify, list without fields": ("/event", "json", {**base, "ListID": plain, "Event": "identify",
                                                             "Email": "ann@example.com"}),
        "identify, 3 IdentifyProperties": ("/event", "json", {**base, "ListID": fielded, "Event": "identify",
                                           "Email": "ann@example.com", "IdentifyProperties": {
                                               "First-Name": "Ann", "plan": "Gold", "CustomField3": "x"}}),
        "page view, ID an email hash that matches": ("/event", "json", {**base, "ListID": fielded, "Event": "pageView",
                                                     "ID": hashed}),
        "page view (/api.php form)": ("/api.php", "form", {"Command": "event.track", "APIKey": key, "ListID": str(plain),
                                      "Event": "pageView", "ID": "visitor-1", "Properties[url]": "/pricing",
                                      "Properties[$browser]": "Firefox"}),
    }
    costs = {}
    for name, (path, kind, body) in kinds.items():
        data = json.dumps(body).encode() if kind == "json" else urlencode(body).encode()
        content_type = "application/json" if kind == "json" else "application/x-www-form-urlencoded"

        def run(path: str = path, data: bytes = data, content_type: str = content_type) -> None:
            for _ in range(requests):
                environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
                           "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data)}
                statuses: list[str] = []
                b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))  # type: ignore[arg-type, misc]
                assert statuses == ["200 OK"], statuses
        costs[name] = best_cpu(run, requests)
    store.close()
    return costs


def write_costs(workdir: Path, events: int = 300) -> dict[str, float]:
    store = SQLiteStore(workdir / "write.db")
    list_id = store.create_list(store.create_user("bench"), "l")
    costs = {}
    for name, fields in [("identify write, no field values", {}), ("identify write, 3 field values", {1: "Ann", 2: "Gold", 3: "x"})]:
        def run(fields: dict[int, str] = fields) -> None:
            for i in range(events):
                store.record([Event(list_id, str(uuid.uuid4()), f"v{i}", "identify", f"s{i}@example.com", fields=fields)])
        costs[name] = best_cpu(run, events, repeat=3)
    store.close()
    return costs


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        for name, cost in {**request_costs(Path(folder)), **write_costs(Path(folder))}.items():
            print(f"{name:45} {cost:7.1f} µs CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
