"""``POST /api.php``: Octeth's legacy endpoint, whose ``Command`` names the endpoint that answers.

The body (a form, see :mod:`octeth_tracking.form`, or JSON) has been read and the caller
authenticated like any route's; the ``Command`` then chooses the route (``event.track`` is
``/event``, ``website_events.properties`` is ``/website_events.properties``: each schema names
its own), and the rest of that route's pipeline answers: its rate limit, its schema and codes,
its handler. So an ``/api.php`` call answers byte for byte as the JSON route does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidCommand, MissingCommand
from . import Answer

if TYPE_CHECKING:
    from ..app import Call, TrackingApp


def api_php(app: TrackingApp, call: Call) -> Answer:
    """The answer of the route that ``Command`` names: 422 code 72 without one, 71 for one that names none."""
    command = call.params.get("command")
    if command is None or command == "":
        raise MissingCommand()
    route = app.commands.get(command) if isinstance(command, str) else None
    if route is None:
        raise InvalidCommand()
    return app.answer(route, call)
