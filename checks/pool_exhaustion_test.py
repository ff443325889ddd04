"""A busy pool over real HTTP: a bounded wait, then a 503 problem; healthy again once freed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, create_application, unique_name
from conftest import LiveServer, LiveServerFactory, make_settings
from database.pool import Database


def rfc9457_members(problem: dict[str, Any]) -> dict[str, Any]:
    """The standard members only: extension members (a request id, say) may come and go."""
    return {key: problem[key] for key in ("type", "title", "status", "detail", "instance")}


@pytest.fixture(scope="module")
def one_connection_server(
    live_server_factory: LiveServerFactory, database_url: str
) -> Iterator[LiveServer]:
    settings = make_settings(
        database_url,
        database_pool_max_size=1,
        database_pool_min_size=1,
        database_pool_timeout_seconds=0.3,
    )
    with live_server_factory(settings) as server:
        yield server


@pytest.fixture
def one_connection_client(one_connection_server: LiveServer) -> Iterator[httpx.Client]:
    # A generous timeout: the claim is that a 503 arrives, not that it arrives fast.
    with httpx.Client(base_url=one_connection_server.url, timeout=30) as http:
        yield http


def server_database(server: LiveServer) -> Database:
    database: Database = server.app.state.database
    return database


def test_a_request_waiting_on_a_busy_pool_gets_503_then_200_once_freed(
    one_connection_server: LiveServer, one_connection_client: httpx.Client
) -> None:
    created = create_application(one_connection_client)
    query = {"name": created["name"]}

    with server_database(one_connection_server).connection():
        response = one_connection_client.get("/api/v1/applications", params=query)

    problem = assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert rfc9457_members(problem) == {
        "type": "urn:config-service:problem:database-unavailable",
        "title": "Database unavailable",
        "status": 503,
        "detail": "no database connection became free within 0.3 seconds; retry after 1 s",
        "instance": "/api/v1/applications",
    }

    healthy = one_connection_client.get("/api/v1/applications", params=query)
    assert healthy.status_code == 200, healthy.text
    assert [application["id"] for application in healthy.json()] == [created["id"]]


def test_a_write_on_a_busy_pool_gets_503_and_stores_nothing(
    one_connection_server: LiveServer, one_connection_client: httpx.Client
) -> None:
    name = unique_name("busy-pool")

    with server_database(one_connection_server).connection():
        response = one_connection_client.post("/api/v1/applications", json={"name": name})

    problem = assert_problem(response, 503)
    assert problem["type"] == "urn:config-service:problem:database-unavailable"
    assert response.headers["retry-after"] == "1"
    listed = one_connection_client.get("/api/v1/applications", params={"name": name})
    assert listed.status_code == 200, listed.text
    assert listed.json() == []
