"""Every response says `X-Content-Type-Options: nosniff`: API answers, problems, refusals made
before routing, health, metrics and the docs."""

from __future__ import annotations

import httpx
import pytest

MISSING_ID = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/v1/applications", {}, {200, 401}),
        ("GET", f"/api/v1/applications/{MISSING_ID}", {}, {401, 404}),
        ("POST", "/api/v1/applications", {"Content-Type": "text/plain"}, {401, 415}),
        ("GET", "/api/v1/applications", {"X-Big": "x" * 20_000}, {431}),
        ("DELETE", "/health/live", {}, {405}),
        ("GET", "/nowhere", {}, {404}),
        ("GET", "/health/live", {}, {200}),
        ("GET", "/metrics", {}, {200}),
        ("GET", "/docs", {}, {200}),
        ("GET", "/openapi.json", {}, {200}),
    ],
)
def test_every_response_forbids_content_sniffing(
    client: httpx.Client, method: str, path: str, headers: dict[str, str], status: set[int]
) -> None:
    response = client.request(method, path, headers=headers)

    assert response.status_code in status, response.text
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
