"""Form bodies (``application/x-www-form-urlencoded``) for Octeth's legacy ``/api.php``, read as PHP reads them.

A body becomes the same object a JSON body would be, so that one pipeline (schemas, codes,
handlers) answers both:

- ``name=value`` pairs, percent-decoded as UTF-8 (``+`` is a space); a value is always text;
- brackets nest: ``Properties[url]=/`` is ``{"Properties": {"url": "/"}}``, ``Properties[a][b]=c``
  is ``{"Properties": {"a": {"b": "c"}}}``, and ``[]`` appends to a list (``tags[]=a&tags[]=b``);
- a later pair replaces an earlier one at the same name, whatever either held (as PHP does, and
  as the JSON parser does with a repeated key); a name that is not ``name[...]...`` is taken as it is;
- a body whose ``Content-Type`` is ``application/json`` is JSON, as on the other routes; a
  ``multipart/form-data`` one is refused (code 73); any other is a form.

Nothing turns text into a number: every parameter that takes a number takes its digits as text
too (``ListID=3``, ``ID=2006``, ``Properties[conversion-value]=290.50``), in JSON as in a form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import parse_qsl

from .body import parse_object
from .errors import InvalidForm

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_NAME = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])+)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
Node = Union[dict[str, Any], list[Any]]


def media_type(environ: WSGIEnvironment) -> str:
    """The request's ``Content-Type`` without its parameters, lower-cased."""
    return str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()


def parse_body(environ: WSGIEnvironment, data: bytes) -> dict[str, Any]:
    """A body of ``/api.php``: JSON if its ``Content-Type`` says so, else a form; 400 (code 73) for
    ``multipart/form-data`` (``curl -F``), which is not read: a form is sent url-encoded."""
    kind = media_type(environ)
    if kind == "application/json":
        return parse_object(data)
    if kind.startswith("multipart/"):
        raise InvalidForm()
    return parse_form(data)


def parse_form(data: bytes) -> dict[str, Any]:
    """``data`` as an object, brackets nested; 400 (code 73) if it is not UTF-8 once decoded."""
    try:
        pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidForm() from None
    body: dict[str, Any] = {}
    for key, value in pairs:
        match = _NAME.fullmatch(key)
        if match is None:
            body[key] = value
        else:
            path: list[str | None] = [segment or None for segment in _SEGMENT.findall(match.group(2))]
            _assign(body, match.group(1), path, value)
    return body


def _assign(body: dict[str, Any], name: str, path: list[str | None], value: str) -> None:
    """``body[name][path[0]]...= value``, making each level the container its next segment needs
    (an object for a name, a list for ``[]``), in place of whatever held another shape."""
    node: Node = body
    key: str | None = name
    for segment in path:
        child = node.get(key) if isinstance(node, dict) and key is not None else None
        if not isinstance(child, list if segment is None else dict):
            child = [] if segment is None else {}
            _put(node, key, child)
        node, key = child, segment
    _put(node, key, value)


def _put(node: Node, key: str | None, value: Any) -> None:
    if isinstance(node, list):
        node.append(value)  # [] appends; a list is only ever made for []
    else:
        assert key is not None
        node[key] = value
