"""Times as clients write them: ISO 8601 with a UTC offset, a date, or milliseconds since 1970.

The schemas decide what is well-formed (their patterns); :func:`parse_time` reads it, and
refuses (``ValueError``) what is well-formed but no time: a 13th month, a 25th hour.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?))?"
)


LATEST = 253_402_300_799.999  # 9999-12-31T23:59:59.999Z: past it, neither store holds a time


def parse_time(value: str | int) -> float:
    """Seconds since the epoch, from 1970 to the end of 9999 (``ValueError`` outside); a date alone
    is its midnight, UTC."""
    if isinstance(value, int) or (value.isascii() and value.isdigit()):
        return _bounded(int(value) / 1000, value)
    match = _ISO.fullmatch(value)
    if match is None:
        raise ValueError(f"not a time: {value!r}")
    year, month, day, hour, minute, second, fraction, _, sign, off_hours, off_minutes = match.groups()
    offset = timedelta(0)
    if sign:
        if int(off_hours) > 23 or int(off_minutes or 0) > 59:
            raise ValueError(f"not a UTC offset: {value!r}")
        offset = (1 if sign == "+" else -1) * timedelta(hours=int(off_hours), minutes=int(off_minutes or 0))
    moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                      int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone(offset))
    return _bounded(moment.timestamp(), value)


def _bounded(seconds: float, value: str | int) -> float:
    if not 0 <= seconds <= LATEST:
        raise ValueError(f"not a time from 1970 to 9999: {value!r}")
    return seconds
