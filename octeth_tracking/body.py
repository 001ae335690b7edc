"""Reading a request body: its framing, its size limit, and parsing it as a JSON object.

Framing: a ``Content-Length`` frames the body unless a ``Transfer-Encoding`` does (RFC 9112:
the chunks win); a server that ends the stream at the body's end says so with
``wsgi.input_terminated``. Never more than ``limit + 1`` bytes are read, which tells a body
exactly at the limit from one past it. Parsing: orjson answers the common case, and the
json module gives the verdict on anything orjson refuses or might read differently.
A ``Content-Encoding`` (gzip, deflate, zstd) is undone here, for every route and every
adapter (Django's reads bodies through this module too), the limit applying to the
decompressed size (:mod:`~octeth_tracking.compression`).
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

import orjson
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from . import compression
from .errors import BodyTooLarge, InvalidJSON, NotAnObject

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# orjson reads an integer past 64 bits as a float: a body with a run of 19 digits takes
# the json module's path. (Mapping every digit to "0" and searching is 5x faster than a regex.)
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def declared_length(environ: WSGIEnvironment) -> int | None:
    """The body's ``Content-Length``, if it is what frames the body: digits, and no ``Transfer-Encoding``
    (whose framing wins, RFC 9112). ``"²".isdigit()`` is true too: ASCII digits only."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if environ.get("HTTP_TRANSFER_ENCODING") or not (declared.isascii() and declared.isdigit()):
        return None
    return int(declared)


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The body, decompressed, without ever holding more than ``limit`` decompressed bytes:
    413 past it, 400 if cut short, 415 (code 30) for an unknown ``Content-Encoding`` and 400
    (code 31) for a corrupt compressed stream."""
    found = compression.codings(environ)
    if not found:
        return _read_raw(environ, limit)
    return compression.decode(_read_raw(environ, compression.read_limit(limit)), found, limit)


def _read_raw(environ: WSGIEnvironment, limit: int) -> bytes:
    """The body as sent, at most ``limit`` bytes."""
    length = declared_length(environ)
    if length is not None and length > limit:
        raise BodyTooLarge()
    try:
        if environ.get("wsgi.input_terminated"):  # the server ends the stream at the body's end
            data = _read_to_end(environ["wsgi.input"], limit)
            if length is not None and len(data) < length:
                raise InvalidJSON()  # the client went away mid-body
            return data
        if length is not None:
            data = environ["wsgi.input"].read(length) if length else b""
            if len(data) < length:
                raise InvalidJSON()  # the client went away mid-body
            return data
        return _read_to_end(get_input_stream(environ, max_content_length=limit + 1), limit)
    except RequestEntityTooLarge:
        raise BodyTooLarge() from None
    except (ClientDisconnected, OSError, ValueError):
        raise InvalidJSON() from None


def _read_to_end(stream: Any, limit: int) -> bytes:
    """The stream to its end, never more than one byte past ``limit``. A read may return less
    than asked (a chunk at a time), so read until the end or past the limit."""
    data: bytes = stream.read(limit + 1)
    while 0 < len(data) <= limit:
        more = stream.read(limit + 1 - len(data))
        if not more:
            break
        data += more
    if len(data) > limit:
        raise BodyTooLarge()
    return data


def parameter_names(body: dict[str, Any]) -> dict[str, Any]:
    """``body``'s parameters as the schemas see them: names are case-insensitive, and a null value
    counts as absent. ASCII case only: Unicode's lower() turns the Kelvin sign into "k" (U+212A, "APIKEY")."""
    return {key.lower() if key.isascii() else key: value for key, value in body.items() if value is not None}


def parse_object(data: bytes) -> dict[str, Any]:
    """``data`` as a JSON object: 400 (code 20) if it is not JSON, 400 (code 21) if not an object."""
    try:
        # The fast parser answers the common case; anything it refuses or might
        # read differently gets the json module's verdict.
        body = None if _LONG_DIGITS in data.translate(_DIGITS_AS_ZEROS) else orjson.loads(data)
    except orjson.JSONDecodeError:
        body = None
    if body is None:
        body = _parse_slowly(data)
    if not isinstance(body, dict):
        raise NotAnObject()
    return body


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_slowly(data: bytes) -> Any:
    try:
        body = json.loads(data.decode("utf-8"), parse_float=_finite_float, parse_constant=_reject_constant)
        if _SURROGATE_ESCAPE.search(data):
            # A lone surrogate is not Unicode: no store could keep it.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise InvalidJSON() from None
    return body
