"""The event's own time: ``Timestamp`` and ``SentAt``, the client's clock skew, and the bounds.

- ``Timestamp``: when the event happened, by the client's clock; ``SentAt``: when the client
  sent it, by the same clock. Each is ISO 8601 with an offset (``2026-12-05T10:00:00.250Z``,
  ``...+01:00``) or whole milliseconds since 1970 (a number, or its digits as text for a form).
- The stored time (``occurred_at``) is ``received - (SentAt - Timestamp)`` with both (the
  client's clock may be wrong, but the gap it measured is right: Segment's and PostHog's rule),
  ``Timestamp`` with only it, else the receive time (``SentAt`` alone changes nothing).
- More than ``future_tolerance`` seconds ahead of the receive time: stored at the receive time,
  and the answer's ``time_adjusted`` says ``"future"``.
- More than ``backfill_window`` seconds before it: refused (422, code 52), unless the body says
  ``Import: true`` (a backfill, the import command); ``0`` (or ``None``): no window.

The shapes are the schema's (codes 50, 51, 53); a shape that names no real moment (February 30,
hour 25) earns its parameter's own code here, read from the schema too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from . import times
from .errors import InvalidParameters

if TYPE_CHECKING:
    from .schemas import BodySchema

FUTURE = "future"  # time_adjusted's value: the event was too far ahead, stored at the receive time


def parse_time(value: Any) -> float | None:
    """``value`` (ISO 8601 with an offset, or epoch milliseconds) as seconds since the epoch;
    ``None`` if it names no moment (see :func:`octeth_tracking.times.parse_time`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return times.parse_time(int(value) if isinstance(value, float) else value)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class EventTime:
    """When the event is stored as having happened (to the millisecond: the answer's precision, and
    one every store keeps exactly), and which bound moved it, if one did."""

    occurred_at: float
    adjusted: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", round(self.occurred_at * 1000) / 1000)


@dataclass(frozen=True)
class TimeRules:
    """The bounds, from ``TrackingApp(future_tolerance=..., backfill_window=...)``."""

    future_tolerance: float = 3600.0
    backfill_window: float | None = 5 * 86400.0

    def decide(self, schema: BodySchema, params: Mapping[str, Any], received: float) -> EventTime:
        """The event's time by the rules above; 422 for a time that names no moment or is too old."""
        errors = []
        timestamp = sent = None
        if params.get("timestamp") is not None:
            timestamp = parse_time(params["timestamp"])
            if timestamp is None:
                errors.append(schema.parameter_error("timestamp"))
        if params.get("sentat") is not None:
            sent = parse_time(params["sentat"])
            if sent is None:
                errors.append(schema.parameter_error("sentat"))
        if errors:
            raise InvalidParameters(errors)
        if timestamp is None:
            return EventTime(received)
        occurred = timestamp if sent is None else received - (sent - timestamp)
        if occurred > received + self.future_tolerance:
            return EventTime(received, FUTURE)
        window = self.backfill_window
        if window and occurred < received - window and params.get("import") not in (True, "true"):
            code, message, detail = schema.too_old
            raise InvalidParameters([(code, message, detail.format(window=f"{window:g}"))])
        return EventTime(occurred)
