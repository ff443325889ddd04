"""Rate limits on the real service over real HTTP (PostgreSQL underneath).

The budgets refill so slowly (one request in 10,000 s) that nothing refills while a test runs,
so the headers' numbers are exact. Requests from other addresses come through uvicorn's
proxy headers, which it trusts from 127.0.0.1 (FORWARDED_ALLOW_IPS). Allowed API requests
may be 200 or, once API keys are required, 401: the budget counts both alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from checks.operations_test import metric
from conftest import LiveServer, make_settings
from testing.live_server import run_live_server

ALLOWED = {200, 401}


@pytest.fixture(scope="module")
def limited_server(database_url: str) -> Iterator[LiveServer]:
    settings = make_settings(
        database_url,
        rate_limit_address_per_second=0.0001,
        rate_limit_address_burst=3,
        rate_limit_per_second=0.0001,
        rate_limit_burst=2,
        events_heartbeat_seconds=0.05,
    )
    # No default key: these requests are counted by the key or address they really send.
    with run_live_server(settings, default_key=False) as server:
        yield server


def from_address(server: LiveServer, address: str, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, timeout=10, headers={"X-Forwarded-For": address, **headers}
    )


def test_an_address_without_a_key_gets_its_burst_then_429(limited_server: LiveServer) -> None:
    with from_address(limited_server, "203.0.113.10") as http:
        allowed = [http.get("/api/v1/applications") for _ in range(3)]
        refused = http.get("/api/v1/applications")
        open_routes = [http.get(path) for path in ("/health/live", "/metrics", "/openapi.json")]

    assert {response.status_code for response in allowed} <= ALLOWED
    assert {response.headers["ratelimit-policy"] for response in allowed} == {
        '"per-address";q=3;w=30000'
    }
    assert [response.headers["ratelimit"] for response in allowed] == [
        '"per-address";r=2;t=10000',
        '"per-address";r=1;t=20000',
        '"per-address";r=0;t=10000',
    ]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "10000"
    assert refused.headers["ratelimit"] == '"per-address";r=0;t=10000'
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.json() == {
        "type": "urn:config-service:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "too many requests for this address without a key: at most 3 at once, then "
        "0.0001 a second (RATE_LIMIT_ADDRESS_PER_SECOND, RATE_LIMIT_ADDRESS_BURST); "
        "retry after 10000 s",
        "instance": "/api/v1/applications",
        "request_id": refused.headers["x-request-id"],
    }
    assert [response.status_code for response in open_routes] == [200, 200, 200]
    assert not any("ratelimit" in response.headers for response in open_routes)
    exposition = open_routes[1].text
    assert metric(exposition, 'config_service_rate_limited_total{reason="budget"}') >= 1
    assert metric(exposition, 'config_service_rate_limited_total{reason="auth_failures"}') == 0


def test_other_addresses_and_each_key_have_budgets_of_their_own(
    limited_server: LiveServer,
) -> None:
    with from_address(limited_server, "203.0.113.20") as http:
        for _ in range(3):
            http.get("/api/v1/applications")
        assert http.get("/api/v1/applications").status_code == 429
        with_key = [
            http.get("/api/v1/applications", headers={"Authorization": "Bearer key-one"})
            for _ in range(3)
        ]
        other_key = http.get("/api/v1/applications", headers={"Authorization": "Bearer key-two"})
    with from_address(limited_server, "203.0.113.21") as http:
        other_address = http.get("/api/v1/applications")

    assert [response.status_code in ALLOWED for response in with_key] == [True, True, False]
    assert with_key[0].headers["ratelimit-policy"] == '"per-key";q=2;w=20000'
    assert with_key[0].headers["ratelimit"] == '"per-key";r=1;t=10000'
    assert with_key[2].status_code == 429
    assert "too many requests for this key" in with_key[2].json()["detail"]
    assert "key-one" not in with_key[2].text
    assert other_key.headers["ratelimit"] == '"per-key";r=1;t=10000'
    assert other_address.headers["ratelimit"] == '"per-address";r=2;t=10000'


def test_an_event_stream_counts_once_however_long_it_runs(limited_server: LiveServer) -> None:
    with from_address(limited_server, "203.0.113.30") as http:
        with http.stream("GET", "/api/v1/events") as stream:
            assert stream.status_code in ALLOWED
            stream_limit = stream.headers["ratelimit"]
            lines = stream.iter_lines()
            for _, _line in zip(range(6), lines, strict=False):  # several heartbeats
                pass
        after = http.get("/api/v1/applications")

    assert stream_limit == '"per-address";r=2;t=10000'
    assert after.headers["ratelimit"] == '"per-address";r=1;t=20000'


def test_the_document_says_which_operations_may_answer_429(limited_server: LiveServer) -> None:
    document = httpx.get(f"{limited_server.url}/openapi.json", timeout=10).json()

    limited = {
        path: {method: "429" in operation["responses"] for method, operation in item.items()}
        for path, item in document["paths"].items()
    }
    assert limited.pop("/health/live") == {"get": False}
    assert limited.pop("/health/ready") == {"get": False}
    assert limited.pop("/metrics") == {"get": False}
    assert all(path.startswith("/api/v1/") for path in limited)
    assert all(all(methods.values()) for methods in limited.values()), limited
    refused = document["paths"]["/api/v1/applications"]["get"]["responses"]["429"]
    assert set(refused["headers"]) == {
        "Retry-After",
        "RateLimit-Policy",
        "RateLimit",
        "X-Request-ID",
    }
    assert refused["content"]["application/problem+json"]["example"]["status"] == 429


def test_a_key_padded_with_non_ascii_white_space_is_not_the_key(limited_server: LiveServer) -> None:
    """Authentication reads the token as the rate limiter does: a padded key is not a fresh
    caller with the same rights, it is an unknown key."""
    key = limited_server.admin_key
    assert key is not None
    with httpx.Client(base_url=limited_server.url, timeout=10) as http:
        padded = http.get(
            "/api/v1/keys",
            headers={
                b"Authorization": f"Bearer {key}\xa0".encode("latin-1"),
                b"X-Forwarded-For": b"203.0.113.77",
            },
        )
    assert padded.status_code == 401
    assert padded.json()["detail"] == "the API key is not known"
