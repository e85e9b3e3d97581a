"""The OpenAPI spec documents every error answer of the API (service/openapi_errors.py)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from model.settings import Settings
from service.openapi_errors import SCHEMA, document_errors


def _spec() -> dict[str, Any]:
    bare = {"responses": {"200": {"description": "OK"}, "400": {"description": "kept"}}}
    return {
        "paths": {
            "/screen": {"post": {**bare, "responses": dict(bare["responses"])}},
            "/model_info": {"post": {**bare, "responses": dict(bare["responses"])}},
            "/readyz": {"get": {"responses": {"200": {"description": "OK"}}}},
        }
    }


def test_errors_are_added_to_the_routes_that_answer_them() -> None:
    spec = document_errors(_spec())
    screen = spec["paths"]["/screen"]["post"]["responses"]
    info = spec["paths"]["/model_info"]["post"]["responses"]
    assert set(screen) == {"200", "400", "401", "403", "413", "415", "429", "503", "504"}
    # Screen keys guard only the screening routes: /model_info answers no 401 or 403 (its 429
    # is BentoML's max_concurrency, as on every route).
    assert set(info) == {"200", "400", "413", "415", "429", "503", "504"}
    assert spec["paths"]["/readyz"]["get"]["responses"] == {"200": {"description": "OK"}}
    assert screen["400"] == {"description": "kept"}  # BentoML's own entry is left alone
    assert set(screen["503"]["headers"]) == {"Retry-After"} == set(screen["429"]["headers"])
    assert "headers" not in screen["413"]
    schema = screen["413"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{SCHEMA}"}
    # BentoML's own 429 and 504 carry no detail.
    assert spec["components"]["schemas"][SCHEMA]["required"] == ["error"]


def test_integer_status_keys_are_not_documented_twice() -> None:
    # BentoML's spec object has int keys until it is serialised.
    spec = {"paths": {"/screen": {"post": {"responses": {200: {}, 400: {}, 413: {"x": 1}}}}}}
    responses = document_errors(spec)["paths"]["/screen"]["post"]["responses"]
    assert responses[413] == {"x": 1} and "413" not in responses and "415" in responses


def test_served_spec_documents_the_errors_the_service_answers(service_client: TestClient) -> None:
    spec = service_client.get("/docs.json").json()
    schema = spec["components"]["schemas"][SCHEMA]
    responses = spec["paths"]["/screen_batch"]["post"]["responses"]
    assert {"200", "413", "415", "503"} <= set(responses)
    limit = Settings.from_env().max_body_bytes
    answers = {
        415: service_client.post(
            "/screen_batch", content=b"x", headers={"content-type": "text/plain"}
        ),
        413: service_client.post(
            "/screen_batch",
            content=b" " * (limit + 1),
            headers={"content-type": "application/json"},
        ),
    }
    for status, answer in answers.items():
        assert answer.status_code == status and str(status) in responses
        body = answer.json()
        assert set(body) == set(schema["properties"]) and all(
            isinstance(v, str) for v in body.values()
        )
