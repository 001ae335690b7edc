"""What a 422 says was wrong: the ``Detail`` of each error item, written from the rule that failed.

Octeth's codes and messages stay as the reference has them (``"Missing conversion-value event
property."`` also answers a conversion-value that is not a number); the detail says which rule
the body broke: ``"conversion-value must be a number, or a string holding a decimal number
such as \\"290.50\\""``. It comes from the schema file, like the code:

- a rule's node may carry ``x-octeth-detail``, the sentence for any failure of a keyword of
  that node (used where a keyword alone says too little: a pattern, ``anyOf``, ``oneOf``);
- otherwise a sentence is made from the keyword (``type``, ``minLength``, ``maxLength``,
  ``maxProperties``, ``propertyNames``, ``required``, the ``x-octeth-max-*`` limits) and its
  value as configured, naming the parameter by its ``title`` (``Event``) or, inside
  ``Properties``, by its own name;
- an invalid email says why, as ``email-validator`` puts it.

A detail never repeats the value sent: it may be long, and it is the client's own.
"""

from __future__ import annotations

from typing import Any, Iterator

from jsonschema import ValidationError

_TYPES = {"string": "a string", "integer": "an integer", "number": "a number", "object": "an object",
          "array": "an array", "boolean": "true or false", "null": "null"}


def name_of(schema: dict[str, Any], path: list[Any]) -> str:
    """The parameter at ``path`` as a client writes it: a top-level one by its title, a name inside it as it is."""
    if not path:
        return "the body"
    top = schema.get("properties", {}).get(path[0], {})
    if len(path) == 1:
        return str(top.get("title", path[0]))
    return str(path[-1])


def _condition(schema: dict[str, Any], schema_path: list[Any]) -> str:
    """`` when Event is "identify"`` for a rule under an ``if``/``then`` on a constant, else nothing."""
    if len(schema_path) >= 3 and schema_path[0] == "allOf" and schema_path[2] == "then":
        condition = schema["allOf"][schema_path[1]].get("if", {}).get("properties", {})
        for name, test in condition.items():
            if "const" in test:
                return f' when {name_of(schema, [name])} is "{test["const"]}"'
    return ""


def _from_keyword(schema: dict[str, Any], error: ValidationError) -> str:
    name, limit = name_of(schema, list(error.absolute_path)), error.validator_value
    schema_path = list(error.absolute_schema_path)
    if "propertyNames" in schema_path:
        return f"Each name in {name} must be at most {limit} characters"
    phrases = {
        "type": lambda: f"{name} must be {_TYPES.get(limit, limit) if isinstance(limit, str) else ' or '.join(_TYPES.get(t, t) for t in limit)}",
        "minLength": lambda: f"{name} must not be empty" if limit == 1 else f"{name} must be at least {limit} characters",
        "maxLength": lambda: f"{name} must be at most {limit} characters",
        "maxProperties": lambda: f"{name} must hold at most {limit} names",
        "minItems": lambda: f"{name} must hold at least {limit} item{'s' if limit != 1 else ''}",
        "maxItems": lambda: f"{name} must hold at most {limit} items",
        "minimum": lambda: f"{name} must be {limit} or more",
        "maximum": lambda: f"{name} must be {limit} or less",
        "x-octeth-max-depth": lambda: f"{name} must be nested at most {limit} levels deep",
        "x-octeth-max-string-length": lambda: f"Every string in {name} must be at most {limit} characters",
    }
    phrase = phrases.get(str(error.validator))
    return phrase() if phrase else f"{name} breaks the rule {error.validator!r}"


def details(schema: dict[str, Any], error: ValidationError, node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(the name a ``required`` error is about, or "", its detail) for one failed rule; ``node``
    is the schema object holding the failed keyword."""
    if error.validator == "required":
        where = name_of(schema, list(error.absolute_path)) if error.absolute_path else ""
        condition = _condition(schema, list(error.absolute_schema_path))
        for missing in error.validator_value:
            if missing not in error.instance:
                named = name_of(schema, [missing]) if not where else missing
                yield missing, f"{named} is required{f' in {where}' if where else ''}{condition}"
        return
    if "x-octeth-detail" in node:
        yield "", str(node["x-octeth-detail"])
        return
    for sub in error.context or ():  # an email's own reason, from email-validator
        if sub.validator == "format" and sub.cause is not None:
            yield "", f"{name_of(schema, list(error.absolute_path))} is not a valid address: {sub.cause}"
            return
    yield "", _from_keyword(schema, error)
