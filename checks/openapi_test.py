"""The OpenAPI document as served: every operation documented, every error a problem+json."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import LiveServer

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Health checks answer application/health+json, errors included, as their readers expect.
API_PREFIX = "/api/"


@pytest.fixture(scope="module")
def document(live_server: LiveServer) -> dict[str, Any]:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        response = http.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    served: dict[str, Any] = response.json()
    return served


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, path_item in document["paths"].items()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][method.lower()]
    return found


def returned_schema(operation: dict[str, Any]) -> dict[str, Any]:
    success = operation["responses"].get("200", {})
    schema: dict[str, Any] = (
        success.get("content", {}).get("application/json", {}).get("schema", {})
    )
    return schema


def test_the_document_describes_the_api(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Config Service"
    assert {(method, path) for method, path, _ in operations(document)} >= {
        ("POST", "/api/v1/applications"),
        ("GET", "/api/v1/applications"),
        ("GET", "/api/v1/applications/{application_id}"),
        ("PUT", "/api/v1/applications/{application_id}"),
        ("DELETE", "/api/v1/applications/{application_id}"),
        ("GET", "/api/v1/applications/{application_id}/configurations"),
        ("POST", "/api/v1/configurations"),
        ("GET", "/api/v1/configurations/{configuration_id}"),
        ("PUT", "/api/v1/configurations/{configuration_id}"),
        ("DELETE", "/api/v1/configurations/{configuration_id}"),
    }


def test_every_operation_declares_a_success_response(document: dict[str, Any]) -> None:
    without_success = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if not any(status.startswith("2") for status in operation["responses"])
    ]
    assert without_success == []


def test_every_error_response_is_a_problem_with_schema_and_matching_example(
    document: dict[str, Any],
) -> None:
    wrong = []
    api_operations = [entry for entry in operations(document) if entry[1].startswith(API_PREFIX)]
    assert len(api_operations) >= 10
    for method, path, operation in api_operations:
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            media = content.get(PROBLEM, {})
            # One example, or several named ones (a 503 of the database or of a missing key).
            named = [example["value"] for example in media.get("examples", {}).values()]
            examples = named or [media.get("example", {})]
            if (
                list(content) != [PROBLEM]
                or media.get("schema") != PROBLEM_SCHEMA
                or any(example.get("status") != int(status) for example in examples)
                or not response.get("description")
            ):
                wrong.append(f"{method} {path} {status}: {response}")
    assert wrong == []


def test_the_problem_schema_has_the_rfc_9457_members(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["Problem"]

    assert set(schema["required"]) >= {"type", "title", "status", "detail", "instance"}


def test_every_503_declares_retry_after(document: dict[str, Any]) -> None:
    without = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if path.startswith(API_PREFIX)
        and "503" in operation["responses"]
        and "Retry-After" not in operation["responses"]["503"].get("headers", {})
    ]
    assert without == []


def test_creates_declare_201_with_a_location_header(document: dict[str, Any]) -> None:
    # A create is a POST to a collection; a POST to an item (restore, say) is an action.
    creates = [
        (path, op)
        for method, path, op in operations(document)
        if method == "POST" and "{" not in path
    ]

    assert [path for path, _ in creates] == [
        "/api/v1/applications",
        "/api/v1/configurations",
        "/api/v1/keys",
        "/api/v1/bindings",
    ]
    for _, create in creates:
        created = create["responses"]["201"]
        assert created["headers"]["Location"]["schema"] == {"type": "string"}
        assert "200" not in create["responses"]


def test_every_201_declares_a_location_header(document: dict[str, Any]) -> None:
    without = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if "201" in operation["responses"]
        and "Location" not in operation["responses"]["201"].get("headers", {})
    ]
    assert without == []


def test_list_operations_declare_a_link_header(document: dict[str, Any]) -> None:
    lists = [
        path
        for method, path, op in operations(document)
        if method == "GET" and returned_schema(op).get("type") == "array"
    ]

    assert set(lists) >= {
        "/api/v1/applications",
        "/api/v1/applications/{application_id}/configurations",
    }
    for path in lists:
        headers = operation(document, "GET", path)["responses"]["200"]["headers"]
        assert headers["Link"]["schema"] == {"type": "string"}


def test_every_operation_has_a_summary(document: dict[str, Any]) -> None:
    without = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if not operation.get("summary", "").strip()
    ]
    assert without == []


def test_every_path_and_query_parameter_has_a_description(document: dict[str, Any]) -> None:
    parameters = [
        (f"{method} {path}", parameter)
        for method, path, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["in"] in {"path", "query"}
    ]
    without = [
        f"{where} {parameter['in']} {parameter['name']}"
        for where, parameter in parameters
        if not parameter.get("description", "").strip()
    ]

    assert len(parameters) >= 10
    assert without == []


def test_create_application_documents_exactly_its_statuses(document: dict[str, Any]) -> None:
    create = operation(document, "POST", "/api/v1/applications")

    assert set(create["responses"]) == {
        "201",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "422",
        "429",
        "503",
    }


def test_every_api_operation_needs_a_bearer_key_and_documents_401_and_403(
    document: dict[str, Any],
) -> None:
    """Swagger UI's Authorize button sends what `securitySchemes` declares, on each operation
    that lists it in `security`."""
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": document["components"]["securitySchemes"]["HTTPBearer"]["description"],
        }
    }
    for method, path, found in operations(document):
        if path.startswith("/api/v1"):
            assert found["security"] == [{"HTTPBearer": []}], f"{method} {path}"
            assert {"401", "403"} <= set(found["responses"]), f"{method} {path}"
            challenge = found["responses"]["401"]["headers"]["WWW-Authenticate"]
            assert challenge["schema"] == {"type": "string"}
        else:
            assert "security" not in found, f"{method} {path}"


def test_docs_serve_swagger_ui(client: httpx.Client) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


def test_delivery_routes_declare_their_bodies_headers_and_503s(document: dict[str, Any]) -> None:
    paths = document["paths"]
    values = paths["/api/v1/values/{application_name}/{configuration_name}"]["get"]
    assert values["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "object"}
    for path in ("/api/v1/events", "/api/v1/applications/{application_id}/events"):
        responses = paths[path]["get"]["responses"]
        assert set(responses["200"]["headers"]) >= {"Cache-Control", "X-Accel-Buffering"}
        assert "text/event-stream" in responses["200"]["content"]
        assert responses["503"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
