"""Regression tests for what contract fuzzing found the OpenAPI document did not say.

Each case: a body the old document called valid was a 422 (or the reverse), or a header the
service sends was not described. The document and the service must now agree.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from testing.fuzz_settings import in_ci

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def document(client_module: httpx.Client) -> dict[str, Any]:
    served: dict[str, Any] = client_module.get("/openapi.json").json()
    return served


@pytest.fixture(scope="module")
def client_module(live_server: Any) -> Any:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield http


def body_validator(document: dict[str, Any], path: str, method: str) -> Draft202012Validator:
    content = document["paths"][path][method]["requestBody"]["content"]
    schema = next(iter(content.values()))["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


@pytest.fixture(scope="module")
def configuration(client_module: httpx.Client) -> dict[str, Any]:
    app = client_module.post("/api/v1/applications", json={"name": f"h-{secrets.token_hex(6)}"})
    body = {"application_id": app.json()["id"], "name": "c", "config": {}}
    created: dict[str, Any] = client_module.post("/api/v1/configurations", json=body).json()
    return created


@pytest.mark.parametrize(
    "config",
    [{"\x00": 1}, {"a": "\x00"}, {"a": [{"b": "x\x00y"}]}],
    ids=["NUL in a key", "NUL in a string", "NUL deep down"],
)
def test_documents_postgres_cannot_store_are_invalid_in_the_schema_too(
    document: dict[str, Any],
    client_module: httpx.Client,
    configuration: dict[str, Any],
    config: dict[str, Any],
) -> None:
    body = {"application_id": configuration["application_id"], "name": "n", "config": config}

    assert not body_validator(document, "/api/v1/configurations", "post").is_valid(body)
    assert client_module.post("/api/v1/configurations", json=body).status_code == 422


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"unknown": 1}, 422),
        ({"name": None}, 422),
        ({"config": None}, 422),
        ({"config": {"a": None}, "comments": None, "schema": None, "message": "m"}, 200),
    ],
)
def test_the_merge_patch_schema_says_what_the_service_accepts(
    document: dict[str, Any],
    client_module: httpx.Client,
    configuration: dict[str, Any],
    patch: dict[str, Any],
    status: int,
) -> None:
    path = "/api/v1/configurations/{configuration_id}"
    valid = body_validator(document, path, "patch").is_valid(patch)
    response = client_module.patch(
        f"/api/v1/configurations/{configuration['id']}", json=patch, headers=MERGE_PATCH
    )

    assert (valid, response.status_code) == (status == 200, status), response.text


def test_every_response_describes_x_request_id(document: dict[str, Any]) -> None:
    undescribed = [
        (method, path, status)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if "X-Request-ID" not in response.get("headers", {})
    ]

    assert undescribed == []


@pytest.mark.parametrize("path", ["/api/v1/applications", "/api/v1/configurations"])
def test_created_responses_describe_location_and_link_onwards(
    document: dict[str, Any], path: str
) -> None:
    created = document["paths"][path]["post"]["responses"]["201"]

    assert {"Location", "ETag", "X-Request-ID"} <= set(created["headers"])
    assert created["links"]


def test_fuzz_settings_know_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert in_ci() is True
    monkeypatch.setenv("CI", "")
    assert in_ci() is False
