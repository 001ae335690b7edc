"""The compiled fast path and the jsonschema reference agree on which bodies are valid.

The fast path (fastjsonschema from the same files, plus the custom keywords) answers
"valid" on its own; a body it accepted that the reference refuses would be stored
without its 422. It may refuse what the reference accepts (a ``$`` before a final
newline, as in ListID ``"1\n"``): then the reference decides. Hypothesis generates
bodies around every rule's boundary, with small limits so that depth, length and
count limits are reached often.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octeth_tracking.schemas import BodySchema

SMALL = {"max_event_length": 6, "max_properties": 4, "max_property_name_length": 5,
         "max_properties_depth": 3, "max_string_length": 8}

json_scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=7), inner, max_size=5), max_leaves=12)
list_ids = st.sampled_from([1, 42, 0, -1, 10**18, 10**17, 1.0, 2.5, True, "7", "007", "0", "x", "", " 1", "1\n"]) | json_values
events = st.sampled_from(["pageView", "identify", "conversion", "", "abcdefg", "x" * 300]) | st.text(max_size=8) | json_values
emails = st.sampled_from(["ada@example.com", "", "nope", "a@b", "ADA@EXAMPLE.COM", "a b@example.com", "ada@exa_mple.com"]) | json_values
uuids = st.sampled_from(["6a2f41a3-c54c-fce8-32d2-0324e1c32e22", "6A2F41A3-C54C-FCE8-32D2-0324E1C32E22", "nope", ""]) | json_values
conversion = st.fixed_dictionaries({}, optional={
    "conversion-id": json_values, "conversion-name": json_values,
    "conversion-value": st.sampled_from([1, 2.5, "3.5", " 4 ", "1e5", "1e500", "x", "", True]) | json_values,
})
properties = st.one_of(
    st.dictionaries(st.text(max_size=7), json_values, max_size=6),
    st.builds(lambda a, b: {**a, **b}, conversion, st.dictionaries(st.text(max_size=4), json_values, max_size=3)),
    json_values,
)
ids = st.sampled_from(["ab" * 32, "AB" * 32, "ab" * 32 + "\n", "ab" * 31 + "g0", "a" * 63, "v-1", "", 42]) | json_values
commands = st.sampled_from(["event.track", "website_events.properties", "Event.Track", ""]) | json_values
identify_properties = st.dictionaries(st.text(max_size=7), json_scalars, max_size=6) | json_values
bodies = st.fixed_dictionaries({}, optional={
    "listid": list_ids, "event": events, "email": emails, "uuid": uuids, "id": ids,
    "properties": properties, "apikey": st.text(max_size=5), "command": commands,
    "identifyproperties": identify_properties,
})


def test_the_fast_path_answers_the_common_valid_body():
    schema = BodySchema("event")
    assert schema.fast_valid({"listid": 1, "event": "pageView", "properties": {"url": "https://x.test/", "n": [1, {"a": 2}]}})
    assert schema.fast_valid({"listid": "3", "event": "identify", "email": "ada@example.com"})


@pytest.mark.parametrize("body, valid", [
    pytest.param({"listid": 1, "event": "identify"}, False, id="identify-needs-an-email"),
    pytest.param({"listid": 1, "event": "identify", "id": "ab" * 32}, True, id="or-an-email-hash-id"),
    pytest.param({"listid": 1, "event": "identify", "id": "ab" * 32 + "\n"}, False, id="not-a-hash-with-a-newline"),
    pytest.param({"listid": 1, "event": "x", "command": "event.track", "identifyproperties": {"a": 1}}, True,
                 id="command-and-identify-properties"),
    pytest.param({"listid": 1, "event": "x", "identifyproperties": {"a": {}}}, False, id="identify-properties-scalar"),
    pytest.param({"listid": 1, "event": "identify", "email": "ada@example.com"}, True, id="identify-with-email"),
    pytest.param({"listid": 1, "event": "conversion", "properties": {"conversion-id": 1}}, False,
                 id="conversion-needs-its-properties"),
    pytest.param({"listid": 1, "event": "conversion", "properties": {
        "conversion-id": 1, "conversion-name": "x", "conversion-value": "x"}}, False, id="conversion-value-a-number"),
    pytest.param({"listid": 1, "event": "Identify"}, True, id="another-event-needs-no-email"),
    pytest.param({"listid": 1, "event": ["identify"]}, False, id="event-not-a-string"),
])
def test_the_fast_path_compiled_per_event_kind_keeps_each_kinds_rules(body, valid):
    # The validator is specialised by the values the schema's if-rules test (identify,
    # conversion, anything else): each variant must keep exactly its kind's rules.
    schema = BodySchema("event")
    assert len(schema._fast.variants) == 3
    assert schema.fast_valid(body) == valid == reference_valid(schema, body)


def reference_valid(schema: BodySchema, body: Any) -> bool:
    return not any(True for _ in schema._validator.iter_errors(body))


@pytest.mark.parametrize("limits", [pytest.param(None, id="schema-limits"), pytest.param(SMALL, id="small-limits")])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_event_fast_path_agrees_with_the_reference(limits, body):
    schema = BodySchema("event", limits)
    valid = reference_valid(schema, body)
    assert not schema.fast_valid(body) or valid
    assert (schema.errors(body) == []) == valid


@settings(max_examples=100, deadline=None)
@given(body=st.fixed_dictionaries({}, optional={"listid": list_ids, "apikey": st.text(max_size=5), "command": commands}))
def test_properties_fast_path_agrees_with_the_reference(body):
    schema = BodySchema("website_events.properties")
    valid = reference_valid(schema, body)
    assert not schema.fast_valid(body) or valid
    assert (schema.errors(body) == []) == valid


@pytest.mark.parametrize("value", [1, "7", "007", "1\n", 10**17, 1.0, 0, -1, "0", "x", True, None, 2.5, [1], 10**18])
def test_list_id_fast_path_agrees_with_the_reference(value):
    schema = BodySchema("event")
    expected = int(value) if value is not None and schema._list_id_validator.is_valid(value) else None
    assert schema.list_id({"listid": value}) == expected
