"""The OpenAPI document says what the API does: API-key schemes on the operations that
check a key, our error envelope on every refusal; /docs works without a CDN."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests import score_contract as contract

SECURED = {
    ("post", "/v1/score"),
    ("get", "/v1/transactions"),
    ("get", "/v1/transactions/{transaction_id}"),
    ("post", "/v1/feedback"),
    ("post", "/v1/admin/reload"),
    ("get", "/v1/rules"),
    ("get", "/v1/rules/{rule_id}"),
    ("get", "/v1/rules/{rule_id}/changes"),
    ("put", "/v1/rules/{rule_id}"),
    ("delete", "/v1/rules/{rule_id}"),
    ("post", "/v1/rules/backtest"),
    ("post", "/v1/lists"),
    ("get", "/v1/lists"),
    ("get", "/v1/lists/{entry_id}"),
    ("delete", "/v1/lists/{entry_id}"),
    ("get", "/v1/cases"),
    ("get", "/v1/cases/{case_id}"),
    ("post", "/v1/cases/{case_id}/assign"),
    ("post", "/v1/cases/{case_id}/resolve"),
    ("get", "/v1/me"),
    ("get", "/v1/alerts"),
    ("get", "/v1/rules/hits"),
    ("get", "/v1/reports/performance"),
    ("get", "/v1/model"),
    ("get", "/v1/model/drift"),
}
ENVELOPES = {"#/components/schemas/ErrorBody", "#/components/schemas/ValidationErrorBody"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    # Not started: these routes need none of the clients the lifespan builds.
    return TestClient(create_app(Settings(environment="test")))


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_both_api_key_schemes_are_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"bearer", "apiKey"}
    assert schemes["bearer"]["type"] == "http"
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_exactly_the_operations_that_check_a_key_need_one(document: dict[str, Any]) -> None:
    secured = {(m, p) for m, p, op in operations(document) if "security" in op}
    assert secured == SECURED
    for method, path, operation in operations(document):
        if (method, path) in SECURED:
            assert operation["security"] == [{"bearer": []}, {"apiKey": []}]
            assert "401" in operation["responses"]


def test_every_refusal_is_documented_with_our_envelope(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema["$ref"] in ENVELOPES, (method, path, status)
                if status == "422":
                    assert schema["$ref"].endswith("/ValidationErrorBody")


def test_body_routes_document_413_415_and_422(document: dict[str, Any]) -> None:
    for path, method in (
        ("/v1/score", "post"),
        ("/v1/feedback", "post"),
        ("/v1/rules/{rule_id}", "put"),
        ("/v1/rules/backtest", "post"),
        ("/v1/lists", "post"),
        ("/v1/cases/{case_id}/assign", "post"),
        ("/v1/cases/{case_id}/resolve", "post"),
    ):
        assert {"413", "415", "422"} <= set(document["paths"][path][method]["responses"])


def test_the_list_routes_show_examples(document: dict[str, Any]) -> None:
    add = document["paths"]["/v1/lists"]["post"]
    body = add["requestBody"]["content"]["application/json"]["schema"]
    assert body["examples"][0]["action"] == "block"
    assert {"201", "403", "409", "422", "503"} <= set(add["responses"])
    entry = document["components"]["schemas"]["ListEntryOut"]
    assert entry["examples"][0]["id"] == 17
    assert set(document["paths"]["/v1/lists/{entry_id}"]["delete"]["responses"]) >= {"204", "404"}


def test_the_case_bodies_carry_examples(document: dict[str, Any]) -> None:
    for path in ("/v1/cases/{case_id}/assign", "/v1/cases/{case_id}/resolve"):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["examples"], path


def test_every_reference_resolves_in_the_document(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    refs = set(re.findall(r'"\$ref": "([^"]+)"', text))
    assert refs, "the document uses references"
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"]


def test_the_envelope_schema_is_error_and_detail(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "detail"}
    assert set(schemas["ValidationErrorBody"]["properties"]) == {"error", "detail"}
    assert set(schemas["FieldError"]["properties"]) == {"field", "message", "type", "position"}
    assert set(schemas["FieldError"]["required"]) == {"field", "message", "type"}


EXTERNAL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_only_our_own_assets(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert EXTERNAL.findall(html.text) == []
    assets = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']|url: *'([^']+)'""", html.text)
    urls = {a or b for a, b in assets}
    assert urls, html.text
    for url in urls:
        assert url.startswith("/"), url
        served = client.get(url)
        assert served.status_code == 200, url
        assert len(served.content) > 1000 or url == "/openapi.json"


def test_swagger_ui_is_not_sent_to_the_public_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_only_the_listed_assets_are_served(client: TestClient) -> None:
    r = client.get("/docs/assets/..%2F..%2Fcore.py")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_the_document_is_as_recorded(client: TestClient, request: pytest.FixtureRequest) -> None:
    """Byte for byte (tests/contract/openapi.json): /v1/score is served ahead of FastAPI,
    and documented exactly as it was when FastAPI served it."""
    document = client.get("/openapi.json")
    assert document.status_code == 200
    if request.config.getoption("--record-contract"):
        contract.OPENAPI.write_bytes(document.content)
    assert document.content == contract.OPENAPI.read_bytes()
    assert list(document.headers.multi_items()) == [
        ("content-length", str(len(document.content))),
        ("content-type", "application/json"),
    ]
