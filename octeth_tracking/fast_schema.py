"""The fast path of request validation: a ``fastjsonschema`` function compiled from a schema file.

``jsonschema`` (in :mod:`octeth_tracking.schemas`) is the reference, which names the rule a
body breaks; these functions answer the common case, a valid body, in a few microseconds.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator, Mapping

import fastjsonschema


def nodes(value: Any) -> Iterator[Any]:
    """Every value inside ``value``, itself included, without recursion (input may be deep)."""
    stack = [value]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def shape(value: Any) -> tuple[int, int]:
    """(nesting depth, longest string) of a dict or list, in one pass, no recursion.

    The depth counts as ``schemas._depth_exceeds`` does: ``value`` itself is level 1. The longest
    string counts nested dict keys, not ``value``'s own (as ``schemas._max_string_length``).
    """
    depth = longest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > depth:
            depth = level
        if isinstance(node, dict):
            if level > 1:
                for key in node:
                    if isinstance(key, str) and len(key) > longest:
                        longest = len(key)
            children = node.values()
        else:
            children = node
        for child in children:
            if isinstance(child, str):
                if len(child) > longest:
                    longest = len(child)
            elif isinstance(child, (dict, list)):
                stack.append((child, level + 1))
    return depth, longest


def custom_rules(schema: Any) -> list[tuple[tuple[str, ...], str, int]]:
    """(path of property names, keyword, limit) for each custom keyword the fast path must check.

    Only custom keywords on named properties of the top-level object are supported (the
    only place the schemas use them); anything else is refused at start-up.
    """
    found: list[tuple[tuple[str, ...], str, int]] = []
    for name, sub in schema.get("properties", {}).items():
        for node in nodes(sub):
            if isinstance(node, dict):
                found.extend(((name,), key, node[key]) for key in ("x-octeth-max-depth", "x-octeth-max-string-length") if key in node)
    total = sum(1 for node in nodes(schema) if isinstance(node, str) and node.startswith("x-octeth-max-"))
    if total != len(found):
        raise ValueError("a custom x-octeth-max-* keyword outside a top-level property is not supported by the fast path")
    return found


def compile_schema(schema: Any, formats: Mapping[str, Callable[[str], bool]]) -> Any:
    """A fastjsonschema function for ``schema`` (draft 7 holds every keyword our files use)."""
    draft7 = {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}
    return fastjsonschema.compile(draft7, formats=dict(formats))


def string_conditions(schema: Any) -> list[tuple[str, str, Any]]:
    """The top-level ``allOf`` rules of the form "if property P is the string V, then T", as (P, V, T)."""
    found = []
    for rule in schema.get("allOf", []):
        condition = rule.get("if") if isinstance(rule, dict) and set(rule) == {"if", "then"} else None
        if not (isinstance(condition, dict) and set(condition) == {"properties", "required"}
                and len(condition["properties"]) == 1):
            continue
        ((name, test),) = condition["properties"].items()
        if condition["required"] == [name] and set(test) == {"const"} and isinstance(test["const"], str):
            found.append((name, test["const"], rule["then"]))
    return found


class FastValidator:
    """The compiled validator, specialised by the values its ``if`` rules test.

    fastjsonschema checks an ``if`` by raising and catching an exception when it does not
    hold, about 2 µs each (most events are neither ``identify`` nor ``conversion``). So for
    each combination of the schema's "if P is the string V" rules that can hold, a variant
    is compiled with those rules' ``then`` in their place and the other rules left out;
    a body picks its variant by looking the values up. Anything else (a body that is not
    an object) gets the schema as written.

    :param schema: the schema; raises ``fastjsonschema.JsonSchemaException`` on an invalid body.
    :param formats: format name to a function that says whether a string is of that format.
    """

    def __init__(self, schema: Any, formats: Mapping[str, Callable[[str], bool]]) -> None:
        self.as_written = compile_schema(schema, formats)
        conditions = string_conditions(schema)
        self.names = sorted({name for name, _, _ in conditions})
        self.variants: dict[tuple[Any, ...], Any] = {}
        if not conditions or len(self.names) > 2:  # a variant per combination: keep them few
            return
        rest = [rule for rule in schema["allOf"] if not any(rule.get("then") is then for _, _, then in conditions)]
        # Each name's possible values: one of the tested strings, or anything else (None).
        choices = [[None, *sorted({value for n, value, _ in conditions if n == name})] for name in self.names]
        for key in itertools.product(*choices):
            held = dict(zip(self.names, key))
            rules = rest + [then for name, value, then in conditions if held[name] == value]
            variant = {k: v for k, v in schema.items() if k != "allOf"}
            if rules:
                variant["allOf"] = rules
            self.variants[key] = compile_schema(variant, formats)
        self.tested = {name: {value for n, value, _ in conditions if n == name} for name in self.names}

    def __call__(self, body: Any) -> None:
        if not self.variants or not isinstance(body, dict):
            self.as_written(body)
            return
        key = []
        for name in self.names:
            value = body.get(name)
            # A const matches only an equal string (True is not 1 here: only strings are tested).
            key.append(value if isinstance(value, str) and value in self.tested[name] else None)
        self.variants[tuple(key)](body)
