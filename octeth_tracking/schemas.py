"""Loading ``schemas/`` and mapping a failed rule to its Octeth error code.

The schema files are the single source of truth: the rules, the code each rule's
failure produces (``x-octeth-code``, and ``x-octeth-missing-code`` for a missing
name), the messages (``x-octeth-errors``) and the default limits
(``x-octeth-limit`` names the ``TrackingApp`` argument that may replace one).
Nothing here knows a code or a field name.

Two validators come from each file: ``jsonschema`` is the reference, which names the
rule a body breaks (and so its code); a ``fastjsonschema`` function compiled from the
same schema answers the common case, a valid body, in a few microseconds. The custom
keywords (``x-octeth-max-depth``, ``x-octeth-max-string-length``) are checked beside
it by the same functions the reference uses. Only a body the fast path refuses goes
to the reference; ``tests/test_schema_fast_path.py`` shows the fast path never accepts
a body the reference refuses, and that the answers are the reference's.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import fastjsonschema
from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from .details import details
from .fast_schema import FastValidator, compile_schema, custom_rules, nodes, shape

# Installed wheels carry the schemas inside the package; a source checkout has them beside it.
_PACKAGED = Path(__file__).parent / "schemas"
SCHEMA_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).parent.parent / "schemas"

_LIMIT_KEYWORDS = ("maxLength", "maxProperties", "maxItems", "x-octeth-max-depth", "x-octeth-max-string-length")


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _string_too_long(value: Any, limit: int) -> bool:
    """Whether any string in ``value`` (dict keys too) is longer than ``limit``; no recursion."""
    if isinstance(value, str):
        return len(value) > limit
    stack = [value]
    while stack:
        node = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            if any(len(key) > limit for key in node if isinstance(key, str)):
                return True
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        for child in children:
            if isinstance(child, str):
                if len(child) > limit:
                    return True
            elif isinstance(child, (dict, list)):
                stack.append(child)
    return False


def _max_depth(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if isinstance(instance, (dict, list)) and _depth_exceeds(instance, limit):
        yield ValidationError(f"nested deeper than {limit} levels")


def _max_string_length(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # The object's own names have their own limit (max_property_name_length); nested names do not.
    if _string_too_long(list(instance.values()) if isinstance(instance, dict) else instance, limit):
        yield ValidationError(f"holds a string longer than {limit} characters")


_Validator = validators.extend(
    Draft202012Validator,
    {"x-octeth-max-depth": _max_depth, "x-octeth-max-string-length": _max_string_length},
)

_formats = FormatChecker()


@lru_cache(maxsize=4096)
def _validated_email(address: str) -> str:
    """The normalised form of a syntactically valid address; raises ``EmailNotValidError``.

    Cached: the schema check and ``normalize_email`` ask about the same address in one
    request (a check costs tens of microseconds), and a site's visitors come back.
    Syntax only: a tracking call must not wait on DNS.
    """
    normalized: str = validate_email(address, check_deliverability=False).normalized
    return normalized


@_formats.checks("email", raises=EmailNotValidError)  # type: ignore[untyped-decorator]
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_validated_email(value))


def _email_or_empty(value: str) -> bool:
    try:
        return bool(_is_email(value))
    except EmailNotValidError:
        return False


_FORMATS = {"email": _email_or_empty}  # the fast path's formats


def normalize_email(address: str) -> str:
    """The form under which a subscriber is stored and compared: case-insensitive."""
    return _validated_email(address).lower()


@lru_cache(maxsize=None)
def _load_file(name: str) -> str:
    return (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")


def _limit_rules(schema: Any) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(limit name, the dict holding its keyword, the keyword) for each ``x-octeth-limit``."""
    for node in nodes(schema):
        if isinstance(node, dict) and "x-octeth-limit" in node:
            rule = node
            while not any(k in rule for k in _LIMIT_KEYWORDS):
                rule = next(v for v in rule.values() if isinstance(v, dict))
            yield node["x-octeth-limit"], rule, next(k for k in _LIMIT_KEYWORDS if k in rule)


class BodySchema:
    """One request body's schema, ready to say which Octeth errors a body has.

    :param name: the file ``schemas/<name>.schema.json``.
    :param limits: ``x-octeth-limit`` name to value; ``None`` keeps the schema's own.
    """

    def __init__(self, name: str, limits: Mapping[str, int | None] | None = None) -> None:
        self.schema = json.loads(_load_file(name))
        for limit, rule, keyword in list(_limit_rules(self.schema)):
            if limits and limits.get(limit) is not None:
                rule[keyword] = limits[limit]
        _Validator.check_schema(self.schema)
        self.messages = {int(code): text for code, text in self.schema["x-octeth-errors"].items()}
        self._validator = _Validator(self.schema, format_checker=_formats)
        self._fast = FastValidator(self.schema, _FORMATS)
        # A schema whose body names a list (ListID) says which code an unknown one earns.
        list_id = self.schema["properties"].get("listid")
        self._list_id_validator = _Validator(list_id) if list_id else None
        self._fast_list_id = compile_schema(list_id, _FORMATS) if list_id else None
        # name -> (deepest allowed, longest string allowed), from the custom keywords on it.
        self._custom: dict[str, list[float]] = {}
        for (name,), keyword, value in custom_rules(self.schema):
            bounds = self._custom.setdefault(name, [math.inf, math.inf])
            bounds[1 if keyword == "x-octeth-max-string-length" else 0] = value
        # A valid ListID naming no list of the caller's (none at all, or another user's: the same
        # words); (0, "", ""): a body that names no list never earns it.
        code = self.schema.get("x-octeth-unknown-list-code")
        self.unknown_list = (code, self.messages[code], self.schema["x-octeth-unknown-list-detail"]) if list_id else (0, "", "")
        # An event older than the backfill window (event_time.py) earns this, its detail a template of {window}.
        too_old = self.schema.get("x-octeth-too-old-code")
        self.too_old = (too_old, self.messages[too_old], self.schema["x-octeth-too-old-detail"]) if too_old else (0, "", "")
        # The Command that names this endpoint in Octeth's legacy API (/api.php), if the schema gives one.
        self.command: str | None = self.schema["properties"].get("command", {}).get("const")

    def parameter_error(self, name: str) -> tuple[int, str, str]:
        """The (code, message, detail) of a top-level parameter's own rule, for a check past the
        schema's reach (a date of the right shape that names no day: February 30)."""
        node = self.schema["properties"][name]
        code = int(node["x-octeth-code"])
        return code, self.messages[code], str(node["x-octeth-detail"])

    def fast_valid(self, body: Mapping[str, Any]) -> bool:
        """The fast path: ``True`` only for a body that the reference finds valid too.

        It may refuse a few bodies the reference accepts (fastjsonschema's ``$`` does not
        match before a final newline, Python's does), so a refusal is never the verdict.
        """
        try:
            self._fast(body)
        except fastjsonschema.JsonSchemaException:
            return False
        for name, (max_depth, max_string) in self._custom.items():
            value = body.get(name)
            if isinstance(value, (dict, list)):
                depth, longest = shape(value)
                if depth > max_depth or longest > max_string:
                    return False
            elif isinstance(value, str) and len(value) > max_string:
                return False
        return True

    def errors(self, body: Mapping[str, Any]) -> list[tuple[int, str, str]]:
        """The (code, message, detail) that ``body`` earns, each code once, in code order; a code
        earned by several rules has their details joined by "; " (see :mod:`~octeth_tracking.details`)."""
        if self.fast_valid(body):
            return []
        found: dict[int, list[str]] = {}
        for error in self._validator.iter_errors(body):
            for code, detail in self._failures(error):
                if detail not in found.setdefault(code, []):
                    found[code].append(detail)
        return [(code, self.messages[code], "; ".join(found[code])) for code in sorted(found)]

    def list_id(self, body: Mapping[str, Any], body_valid: bool = False) -> int | None:
        """The body's ListID as a number, if it is a valid one (``body_valid``: the whole body is)."""
        value = body.get("listid")
        if value is None or self._fast_list_id is None or self._list_id_validator is None:
            return None
        if body_valid:
            return int(value)
        try:
            self._fast_list_id(value)
        except fastjsonschema.JsonSchemaException:
            return int(value) if self._list_id_validator.is_valid(value) else None
        return int(value)

    def _failures(self, error: ValidationError) -> list[tuple[int, str]]:
        """(code, detail) for each thing ``error`` says is wrong (a ``required`` error: each missing name)."""
        path = list(error.absolute_schema_path)
        node = self.schema
        enclosing = [node]
        for key in path[:-1]:
            node = node[key]
            enclosing.append(node)
        code = None
        for schema in reversed(enclosing):
            if isinstance(schema, dict) and "x-octeth-code" in schema:
                code = int(schema["x-octeth-code"])
                break
        found = []
        for missing, detail in details(self.schema, error, node):
            if missing:
                # A missing name costs the code its own schema names (x-octeth-missing-code, a
                # code or a list of codes, else its x-octeth-code).
                named = node.get("properties", {}).get(missing, {})
                codes = named.get("x-octeth-missing-code", named.get("x-octeth-code"))
                found += [(int(c), detail) for c in (codes if isinstance(codes, list) else [codes])]
            elif code is not None:
                found.append((code, detail))
            else:
                raise LookupError(f"schema rule {path} has no x-octeth-code")
        return found


def schema_limits(name: str) -> dict[str, int]:
    """The schema's own value of each ``x-octeth-limit`` (for documentation and tests)."""
    return {limit: rule[keyword] for limit, rule, keyword in _limit_rules(json.loads(_load_file(name)))}
