"""Routing and transport errors over real HTTP: 404, 405 with Allow, and the body limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, unique_name
from conftest import LiveServer, LiveServerFactory, make_settings

MAX_BODY_BYTES = 2048
# The phrase is Python's: "Request Entity Too Large" before 3.13, "Content Too Large" after.
CONTENT_TOO_LARGE = HTTPStatus.REQUEST_ENTITY_TOO_LARGE.phrase
JSON_HEADERS = {"content-type": "application/json"}


def rfc9457_members(problem: dict[str, Any]) -> dict[str, Any]:
    """The standard members only: extension members (a request id, say) may come and go."""
    return {key: problem[key] for key in ("type", "title", "status", "detail", "instance")}


@pytest.fixture(scope="module")
def small_body_server(
    live_server_factory: LiveServerFactory, database_url: str
) -> Iterator[LiveServer]:
    with live_server_factory(make_settings(database_url, max_body_bytes=MAX_BODY_BYTES)) as server:
        yield server


@pytest.fixture
def small_body_client(small_body_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small_body_server.url, timeout=30) as http:
        yield http


def application_body(name: str, size: int) -> bytes:
    """A valid create body for `name`, padded with JSON whitespace to exactly `size` bytes."""
    body = json.dumps({"name": name}).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def in_chunks(body: bytes, size: int = 500) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def names_listed(client: httpx.Client, name: str) -> list[str]:
    response = client.get("/api/v1/applications", params={"name": name})
    assert response.status_code == 200, response.text
    return [application["name"] for application in response.json()]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing-here"),
        ("POST", "/api/v2/applications"),
        ("GET", "/"),
        ("DELETE", "/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC/revisions/nope/extra"),
    ],
)
def test_an_unknown_route_is_a_404_problem(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)

    problem = assert_problem(response, 404)
    assert rfc9457_members(problem) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": f"no route matches {method} {path}",
        "instance": path,
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/api/v1/applications", "GET, POST"),
        ("DELETE", "/api/v1/applications", "GET, POST"),
        ("POST", "/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC", "DELETE, GET, PUT"),
        ("POST", "/api/v1/configurations/01JQ3V6KX8Q7M4Z2W9R5T1N0BC", "DELETE, GET, PATCH, PUT"),
    ],
)
def test_a_wrong_method_is_a_405_problem_listing_every_allowed_method(
    client: httpx.Client, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)

    problem = assert_problem(response, 405)
    assert response.headers["allow"] == allowed
    assert rfc9457_members(problem) == {
        "type": "about:blank",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": f"{method} is not allowed here; allowed: {allowed}",
        "instance": path,
    }


def test_a_content_length_over_the_limit_is_a_413_problem(small_body_client: httpx.Client) -> None:
    name = unique_name("too-large")

    response = small_body_client.post(
        "/api/v1/applications",
        content=application_body(name, MAX_BODY_BYTES + 1),
        headers=JSON_HEADERS,
    )

    problem = assert_problem(response, 413)
    assert rfc9457_members(problem) == {
        "type": "about:blank",
        "title": CONTENT_TOO_LARGE,
        "status": 413,
        "detail": f"the body must be at most {MAX_BODY_BYTES} bytes "
        f"(Content-Length says {MAX_BODY_BYTES + 1})",
        "instance": "/api/v1/applications",
    }
    assert names_listed(small_body_client, name) == []


def test_a_chunked_body_over_the_limit_is_a_413_problem(small_body_client: httpx.Client) -> None:
    name = unique_name("too-large-chunked")

    response = small_body_client.post(
        "/api/v1/applications",
        content=in_chunks(application_body(name, MAX_BODY_BYTES + 1)),
        headers=JSON_HEADERS,
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    problem = assert_problem(response, 413)
    assert rfc9457_members(problem) == {
        "type": "about:blank",
        "title": CONTENT_TOO_LARGE,
        "status": 413,
        "detail": f"the body must be at most {MAX_BODY_BYTES} bytes",
        "instance": "/api/v1/applications",
    }
    assert names_listed(small_body_client, name) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_exactly_at_the_limit_is_accepted(
    small_body_client: httpx.Client, chunked: bool
) -> None:
    name = unique_name("at-limit")
    body = application_body(name, MAX_BODY_BYTES)

    response = small_body_client.post(
        "/api/v1/applications",
        content=in_chunks(body) if chunked else body,
        headers=JSON_HEADERS,
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name
    assert names_listed(small_body_client, name) == [name]
