"""The OpenAPI document: generated from the route table and the schema files, and checked by an
outside fuzzer (schemathesis) against the app, in process and over HTTP: no 5xx, and no
answer (status, content type, body, headers) outside the document, on every route."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)
from werkzeug.test import Client

from octeth_tracking import openapi
from octeth_tracking.cli import main
from octeth_tracking.testing import TrackingKit
from servers import ROOT

# positive_data_acceptance is left out on purpose: a body valid by the schema may still name a
# list that is not the caller's, which is a 422 by design.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


def fuzz(schema, headers: dict[str, str], examples: int) -> dict[tuple[str, str], set[int]]:
    """Every operation of ``schema``, ``examples`` positive and negative cases each; the statuses seen."""
    seen: dict[tuple[str, str], set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE)

        @given(case=cases)
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            seen.setdefault((operation.method.upper(), operation.path), set()).add(response.status_code)

        run()
    return seen


@pytest.fixture
def kit():
    kit = TrackingKit(micro=True, metrics_token="a-scrape-token-of-16+")  # every route, micro ones and /metrics too
    yield kit
    kit.close()


def test_every_route_is_in_the_document_with_its_answers(kit):
    document = openapi.document(kit.app, "/api/v1")
    assert {(path, method.upper()) for path, ops in document["paths"].items() for method in ops} == {
        (route.path, method) for route in kit.app.routes.values() for method in route.methods}
    event = document["paths"]["/event"]["post"]
    assert sorted(event["responses"]) == ["200", "400", "401", "403", "413", "415", "422", "500", "503"]  # test defaults: no rate limit
    assert "4 Invalid ListID parameter" in event["responses"]["422"]["description"]
    assert event["requestBody"]["content"]["application/json"]["schema"]["properties"]["apikey"]["type"] == "string"


def test_the_document_states_the_limits_as_configured():
    kit = TrackingKit(max_event_length=10, event_rate_limit=7, tracker_rate_limit=50, max_body_size=1234)
    event = openapi.document(kit.app)["paths"]["/event"]["post"]
    schema = event["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["event"]["allOf"][0]["maxLength"] == 10
    assert "Over 7 requests per 60 s for this user, or 50 per 60 s per tracker key;" in event["responses"]["429"]["description"]
    assert "over 1234 bytes" in event["responses"]["413"]["description"]
    kit.close()


def test_served_and_printed_documents_are_the_same(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OCTETH_TRACKING_PREFIX", raising=False)
    kit = TrackingKit()
    served = Client(kit.wsgi).get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    assert main(["openapi", "--db", str(tmp_path / "o.db")]) == 0
    printed = json.loads(capsys.readouterr().out)
    kit.close()
    # The same routes and limits (the kit turns rate limits off; the CLI's app has the defaults).
    assert served.get_json()["servers"] == printed["servers"] == [{"url": "/api/v1"}]
    assert served.get_json()["paths"].keys() == printed["paths"].keys()
    assert served.get_json()["components"] == printed["components"]


def test_schemathesis_finds_nothing_outside_the_document_in_process(kit):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", kit.wsgi)
    seen = fuzz(schema, {"Authorization": f"Bearer {kit.api_key}"}, examples=40)
    # Not a vacuous run: every operation answered, successes and refusals among them.
    assert len(seen) == sum(len(route.methods) for route in kit.app.routes.values()) - 1  # it skips GET of its own document
    statuses = set().union(*seen.values())
    assert {200, 401, 422} <= statuses


def test_schemathesis_fails_an_answer_outside_the_document(kit):
    document = openapi.document(kit.app, "/api/v1")
    broken = copy.deepcopy(document)
    broken["components"]["schemas"]["health"]["required"].append("uptime")  # the app never sends it
    schema = schemathesis.openapi.from_dict(broken)
    schema.app = kit.wsgi
    schema = schema.include(path="/health", method="GET")
    with pytest.raises(FailureGroup) as failed:
        fuzz(schema, {}, examples=5)
    assert [type(failure).__name__ for failure in failed.value.exceptions] == ["JsonSchemaError"]
    assert "Response violates schema" in str(failed.value.exceptions[0])


def test_schemathesis_over_http_on_a_micro_server():
    process = subprocess.Popen([sys.executable, "-m", "octeth_tracking", "serve", "--micro", "--port", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(process.stdout.readline())
        schema = schemathesis.openapi.from_url(started["url"] + "/openapi.json")
        seen = fuzz(schema, {"Authorization": f"Bearer {started['api_key']}"}, examples=10)
        assert ("GET", "/micro/all") in seen and ("POST", "/event") in seen
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()


def test_a_batchs_items_are_described_by_the_event_schema(kit):
    document = openapi.document(kit.app, "/api/v1")
    request = document["paths"]["/events.batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    items = request["properties"]["events"]["items"]
    assert items["required"] == ["listid", "event"] and "timestamp" in items["properties"]
    assert sorted(document["paths"]["/events.batch"]["post"]["responses"]) == [
        "200", "400", "401", "403", "413", "415", "422", "500", "503"]
