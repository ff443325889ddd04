"""Limits answer with the status the README documents, naming the limit, over real HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.v1.applications_test import JSON_HEADERS, assert_problem, create_application
from checks.operations_test import metric
from conftest import LiveServer, LiveServerFactory, make_settings

VALIDATION = "urn:config-service:problem:validation-error"
DIGIT_LIMIT = sys.get_int_max_str_digits()


@pytest.fixture
def small_limits(live_server_factory: LiveServerFactory, database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(database_url, max_body_bytes=2048, max_header_bytes=2048)
    with live_server_factory(settings) as server:
        yield server


def post_configuration(client: httpx.Client, config_text: str) -> httpx.Response:
    application = create_application(client)
    body = f'{{"application_id": "{application["id"]}", "name": "n", "config": {config_text}}}'
    return client.post("/api/v1/configurations", content=body, headers=JSON_HEADERS)


def test_an_integer_at_the_digit_limit_keeps_every_digit(client: httpx.Client) -> None:
    number = "7" * DIGIT_LIMIT

    response = post_configuration(client, f'{{"n": {number}}}')

    assert response.status_code == 201, response.text
    stored = client.get(f"/api/v1/configurations/{response.json()['id']}")
    assert f'"n":{number}' in stored.text.replace(" ", "")


def test_an_integer_past_the_digit_limit_is_a_422_naming_the_limit(client: httpx.Client) -> None:
    response = post_configuration(client, f'{{"n": {"7" * (DIGIT_LIMIT + 1)}}}')

    problem = assert_problem(response, 422, "number_too_long")
    assert problem["type"] == VALIDATION
    [error] = problem["errors"]
    assert error == {
        "location": "body",
        "field": "",
        "rule": "number_too_long",
        "message": f"integers may have at most {DIGIT_LIMIT} digits (one here has "
        f"{DIGIT_LIMIT + 1}); send longer ones as strings",
        "pointer": "",
    }


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_nesting_too_deep_to_parse_is_the_documented_422(client: httpx.Client, depth: int) -> None:
    response = post_configuration(client, '{"a": ' + "[" * depth + "]" * depth + "}")

    problem = assert_problem(response, 422, "nesting_too_deep")
    assert problem["errors"][0]["message"] == (
        "objects and arrays may be nested at most 32 levels deep (MAX_JSON_DEPTH); "
        "this body nests too deep to be read at all"
    )


def test_malformed_json_is_still_a_400(client: httpx.Client) -> None:
    response = client.post("/api/v1/applications", content='{"name": ', headers=JSON_HEADERS)

    problem = assert_problem(response, 400, "json_invalid")
    assert problem["type"] == "urn:config-service:problem:malformed-json"


def test_oversized_headers_are_a_431_problem(small_limits: LiveServer) -> None:
    with httpx.Client(base_url=small_limits.url, timeout=10) as http:
        response = http.get("/health/live", headers={"X-Padding": "p" * 3000})
        fine = http.get("/health/live", headers={"X-Padding": "p" * 1000})

    problem = assert_problem(response, 431)
    assert problem["title"] == "Request Header Fields Too Large"
    assert problem["detail"].startswith("the request headers must be at most 2048 bytes in all")
    assert problem["detail"].endswith("MAX_HEADER_BYTES sets the limit")
    assert problem["request_id"] == response.headers["x-request-id"]
    assert fine.status_code == 200


def test_a_mebibyte_of_headers_is_refused(client: httpx.Client) -> None:
    headers = {f"X-Padding-{index}": "p" * 8000 for index in range(128)}

    response = client.get("/health/live", headers=headers)

    assert_problem(response, 431)


def test_metrics_label_docs_openapi_and_refused_bodies_by_route(small_limits: LiveServer) -> None:
    with httpx.Client(base_url=small_limits.url, timeout=10) as http:
        assert http.get("/docs").status_code == 200
        assert http.get("/openapi.json").status_code == 200
        too_large: dict[str, Any] = {"name": "x" * 4000}
        assert http.post("/api/v1/applications", json=too_large).status_code == 413
        assert http.get("/no/such/route").status_code == 404
        text = http.get("/metrics").text

    def requests(method: str, route: str, status_class: str) -> float:
        labels = f'method="{method}",route="{route}",status_class="{status_class}"'
        return metric(text, f"config_service_http_requests_total{{{labels}}}")

    assert requests("GET", "/docs", "2xx") == 1.0
    assert requests("GET", "/openapi.json", "2xx") == 1.0
    assert requests("POST", "/api/v1/applications", "4xx") == 1.0
    assert requests("GET", "<unmatched>", "4xx") == 1.0
