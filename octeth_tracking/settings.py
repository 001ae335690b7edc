"""The one rule from settings to arguments, and the checks the arguments' numbers must pass.

A ``TrackingApp`` argument such as ``max_body_size`` is the setting
``OCTETH_TRACKING_MAX_BODY_SIZE`` (an environment variable for ``create_app``, a Django
setting, a key of Flask's ``app.config``). A value given as text is read as a JSON
literal when it is one (``5000``, ``60.5``, ``true``) and stays text otherwise.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

PREFIX = "OCTETH_TRACKING_"
DEFAULT_PREFIX = "/api/v1"  # where the API answers unless OCTETH_TRACKING_PREFIX (or --prefix) says otherwise


def setting_name(argument: str) -> str:
    """``max_body_size`` -> ``OCTETH_TRACKING_MAX_BODY_SIZE``."""
    return PREFIX + argument.upper()


def parse_text(value: Any) -> Any:
    """A setting's value: text holding a JSON literal is that literal; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or isinstance(value, float) and math.isfinite(value))


def _whole(value: Any) -> bool:
    """An integer, or a number with no fraction (``100.0``, ``1e5``: as JSON Schema counts them)."""
    return _number(value) and (isinstance(value, int) or value.is_integer())


LOG_FORMATS = ("text", "json")
SECRET_SETTINGS = {"metrics_token"}  # never repeated in a message


def _token(value: Any) -> bool:
    return value is None or (isinstance(value, str) and len(value) >= 16 and value.isprintable() and value.strip() == value)


# What each value a setting gives must be, and whether it is a whole number: a wrong type or
# range fails when the app is built (and, from the command line, before a server starts),
# naming the argument and its setting, rather than as a 500 on every request.
ARGUMENT_RULES: dict[str, tuple[str, Callable[[Any], bool], bool]] = {
    "event_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "properties_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "tracker_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "tracker_visitor_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "batch_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "max_batch_events": ("an integer, 1 or more", lambda v: _whole(v) and v >= 1, True),
    "max_batch_body_size": ("an integer, 1 or more", lambda v: _whole(v) and v >= 1, True),
    "rate_limit_window": ("a number of seconds above 0", lambda v: _number(v) and v > 0, False),
    "auth_cache_ttl": ("a number of seconds, 0 or more", lambda v: _number(v) and v >= 0, False),
    "max_body_size": ("an integer, 1 or more", lambda v: _whole(v) and v >= 1, True),
    "journal_size": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "rejected_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "list_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "forget_rate_limit": ("an integer, 0 or more", lambda v: _whole(v) and v >= 0, True),
    "future_tolerance": ("a number of seconds, 0 or more", lambda v: _number(v) and v >= 0, False),
    "backfill_window": ("a number of seconds, 0 or more (0: no window)", lambda v: _number(v) and v >= 0, False),
    "micro": ("true or false", lambda v: isinstance(v, bool), False),
    **{name: ("an integer, 0 or more, or None", lambda v: v is None or (_whole(v) and v >= 0), True) for name in (
        "max_event_length", "max_properties", "max_property_name_length", "max_properties_depth", "max_string_length")},
    "metrics_token": ("text of 16 printable characters or more, or None", _token, False),
    # Not TrackingApp's: the store's (see config.STORE_SETTINGS) and the logs' (config.SERVING_SETTINGS).
    "write_timeout": ("a number of seconds above 0", lambda v: _number(v) and v > 0, False),
    "visitor_index_every": ("an integer, 1 or more", lambda v: _whole(v) and v >= 1, True),
    "log_format": (" or ".join(map(repr, LOG_FORMATS)), lambda v: v in LOG_FORMATS, False),
}


def checked_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The values among ``arguments`` that have a rule, checked, a whole number as an ``int``;
    ``ValueError`` names a wrong one."""
    checked = {}
    for name, value in arguments.items():
        if name not in ARGUMENT_RULES:
            continue
        rule, valid, whole = ARGUMENT_RULES[name]
        if not valid(value):
            shown = f"a {type(value).__name__} of {len(str(value))} characters" if name in SECRET_SETTINGS else repr(value)
            raise ValueError(f"{name} must be {rule}, not {shown} (the setting {setting_name(name)})")
        checked[name] = int(value) if whole and value is not None else value
    return checked
