"""Health, metrics and request ids over real HTTP."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from api.v1.applications_test import assert_problem
from config.logging_setup import ContextFilter
from conftest import LiveServer, LiveServerFactory, make_settings
from testing.live_server import run_live_server

HEALTH = "application/health+json"
MISSING_ID = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
CANARY_PASSWORD = "canary-Pa55word-7f3e9d"  # a fake secret that must never surface
CANARY_KEY = "cs_canaryk2_" + "Kq7" * 14  # shaped as an API key; must never surface either


@pytest.fixture
def own_server(live_server_factory: LiveServerFactory, database_url: str) -> Iterator[LiveServer]:
    """A server of the test's own: fresh metrics, and a draining flag the test may set."""
    with live_server_factory(make_settings(database_url)) as server:
        yield server


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    context = ContextFilter([CANARY_PASSWORD])
    caplog.handler.addFilter(context)
    caplog.set_level(logging.DEBUG)
    yield caplog
    caplog.handler.removeFilter(context)


def test_liveness_passes_without_checks(client: httpx.Client) -> None:
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.headers["content-type"] == HEALTH
    assert response.json() == {"status": "pass", "checks": {}}


def test_readiness_passes_every_check_when_the_database_is_current(client: httpx.Client) -> None:
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.headers["content-type"] == HEALTH
    body = response.json()
    assert body["status"] == "pass"
    assert {
        name: [check["status"] for check in checks] for name, checks in body["checks"].items()
    } == {
        "service:shutdown": ["pass"],
        "postgresql:connection": ["pass"],
        "postgresql:schema": ["pass"],
    }


def test_readiness_fails_once_shutdown_has_begun_while_liveness_passes(
    own_server: LiveServer,
) -> None:
    draining: threading.Event = own_server.app.state.draining
    draining.set()
    with httpx.Client(base_url=own_server.url, timeout=10) as http:
        ready = http.get("/health/ready")
        live = http.get("/health/live")

    assert ready.status_code == 503
    assert ready.json()["status"] == "fail"
    assert ready.json()["checks"]["service:shutdown"][0]["output"] == "shutting down"
    assert ready.json()["checks"]["postgresql:connection"][0]["status"] == "pass"
    assert live.status_code == 200


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("trace-01.A_b", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("", False),
        ("é-accent", False),
    ],
)
def test_a_valid_request_id_is_echoed_and_any_other_is_replaced(
    client: httpx.Client, sent: str, echoed: bool
) -> None:
    response = client.get(
        f"/api/v1/applications/{MISSING_ID}", headers={b"X-Request-ID": sent.encode()}
    )

    problem = assert_problem(response, 404)
    request_id = response.headers["x-request-id"]
    if echoed:
        assert request_id == sent
    else:
        assert GENERATED_ID.fullmatch(request_id), request_id
    assert problem["request_id"] == request_id


def test_each_request_without_an_id_gets_a_fresh_one(client: httpx.Client) -> None:
    first = client.get("/health/live").headers["x-request-id"]
    second = client.get("/health/live").headers["x-request-id"]

    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


def test_an_oversized_body_still_carries_the_request_id(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/applications",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json", "X-Request-ID": "big-body-1"},
    )

    problem = assert_problem(response, 413)
    assert response.headers["x-request-id"] == "big-body-1"
    assert problem["request_id"] == "big-body-1"


def test_one_access_line_per_request_with_the_request_id(
    client: httpx.Client, captured: pytest.LogCaptureFixture
) -> None:
    client.get(f"/api/v1/applications/{MISSING_ID}", headers={"X-Request-ID": "access-1"})
    client.get("/health/live", headers={"X-Request-ID": "access-2"})

    # Only this test's requests: an earlier test's refused upload may log its line late.
    access = [
        r
        for r in captured.records
        if r.name == "config_service.access" and r.request_id in {"access-1", "access-2"}  # type: ignore[attr-defined]
    ]
    assert [(r.levelname, r.request_id, r.method, r.route, r.status) for r in access] == [  # type: ignore[attr-defined]
        ("INFO", "access-1", "GET", "/api/v1/applications/{application_id}", 404),
        ("DEBUG", "access-2", "GET", "/health/live", 200),
    ]
    assert all(isinstance(r.duration_ms, float) for r in access)  # type: ignore[attr-defined]


def test_logs_of_a_request_carry_its_id_and_never_the_database_password(
    captured: pytest.LogCaptureFixture,
) -> None:
    unreachable = f"postgresql://postgres:{CANARY_PASSWORD}@127.0.0.1:1/config_service"
    # No key can be made on a database that does not answer; checking this one needs it (503).
    with (
        run_live_server(make_settings(unreachable), admin_key=CANARY_KEY) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        ready = http.get("/health/ready", headers={"X-Request-ID": "canary-ready"})
        listed = http.get("/api/v1/applications", headers={"X-Request-ID": "canary-list"})

    assert ready.status_code == 503
    assert_problem(listed, 503)
    assert CANARY_PASSWORD not in ready.text + listed.text
    by_request = {
        (r.request_id, r.name, r.getMessage())  # type: ignore[attr-defined]
        for r in captured.records
        if r.request_id in {"canary-ready", "canary-list"}  # type: ignore[attr-defined]
    }
    assert (
        "canary-list",
        "api.problems.handlers",
        "database unavailable: the database is unreachable",
    ) in by_request
    assert {name for request_id, name, _ in by_request if request_id == "canary-ready"} >= {
        "database.readiness",
        "config_service.access",
    }
    everything = "\n".join(captured.handler.format(r) for r in captured.records)
    assert CANARY_PASSWORD not in everything
    assert CANARY_KEY not in everything


def metric(text: str, sample: str) -> float:
    """The value of one sample line, `name{labels}`, of a Prometheus exposition."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {sample} in:\n{text}")


def test_metrics_count_requests_by_route_template_and_status_class(own_server: LiveServer) -> None:
    with httpx.Client(base_url=own_server.url, timeout=10) as http:
        for _ in range(2):
            assert http.get(f"/api/v1/applications/{MISSING_ID}").status_code == 404
        assert http.get("/api/v1/applications").status_code == 200
        response = http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    missing = 'method="GET",route="/api/v1/applications/{application_id}",status_class="4xx"'
    listing = 'method="GET",route="/api/v1/applications",status_class="2xx"'
    assert metric(text, f"config_service_http_requests_total{{{missing}}}") == 2.0
    assert metric(text, f"config_service_http_requests_total{{{listing}}}") == 1.0
    assert metric(text, f"config_service_http_request_duration_seconds_count{{{missing}}}") == 2.0
    assert metric(text, "config_service_http_requests_in_flight") == 1.0
    assert metric(text, 'config_service_db_pool_connections{state="in_use"}') == 0.0
    assert metric(text, 'config_service_db_pool_connections{state="idle"}') == 1.0
    assert metric(text, 'config_service_db_pool_connections{state="waiting"}') == 0.0
    # Three requests, and the first check of the server's key.
    assert metric(text, "config_service_db_pool_wait_seconds_count") == 4.0
    assert metric(text, 'config_service_db_errors_total{kind="lock_timeout"}') == 0.0


def test_operations_routes_are_documented(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]

    assert paths["/health/live"]["get"]["tags"] == ["operations"]
    ready = paths["/health/ready"]["get"]["responses"]
    assert set(ready["200"]["content"]) == {HEALTH}
    assert set(ready["503"]["content"]) == {HEALTH}
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {
        "text/plain; version=1.0.0; charset=utf-8"
    }
    assert "request_id" in document["components"]["schemas"]["Problem"]["required"]


def abandon_a_body(server: LiveServer, request_id: str, content_type: str) -> None:
    """POST half a body, then close the connection, as a client that gives up does."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/v1/applications HTTP/1.1\r\nHost: test\r\n"
            + f"Content-Type: {content_type}\r\nContent-Length: 1000\r\n".encode()
            + f"X-Request-ID: {request_id}\r\n\r\n".encode()
            + b'{"name": "never fini'
        )
        time.sleep(0.2)  # the request reaches the app and waits for the rest of the body


# Whatever the body claims to be: one that is not JSON is read by FastAPI itself, which would
# call an abandoned one "an error parsing the body" (400).
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data"])
def test_a_client_that_closes_mid_body_is_logged_at_info_and_counted_as_499(
    own_server: LiveServer, captured: pytest.LogCaptureFixture, content_type: str
) -> None:
    server_errors = logging.getLogger("uvicorn.error")
    server_errors.addHandler(captured.handler)
    try:
        abandon_a_body(own_server, "abandoned-1", content_type)
        with httpx.Client(base_url=own_server.url, timeout=10) as http:
            deadline = time.monotonic() + 10
            while not [r for r in captured.records if r.name == "config_service.access"]:
                assert time.monotonic() < deadline, "the abandoned request was never logged"
                time.sleep(0.05)
            text = http.get("/metrics").text
    finally:
        server_errors.removeHandler(captured.handler)

    logged = [r for r in captured.records if getattr(r, "request_id", None) == "abandoned-1"]
    assert [(r.name, r.levelname, r.exc_info) for r in logged] == [
        ("api.problems.handlers", "INFO", None),
        ("config_service.access", "INFO", None),
    ]
    assert logged[0].getMessage() == (
        "the client closed the connection before sending the whole request: "
        "POST /api/v1/applications"
    )
    assert logged[1].status == 499  # type: ignore[attr-defined]
    assert [r for r in captured.records if r.levelno >= logging.ERROR] == []
    route = 'method="POST",route="/api/v1/applications"'
    assert metric(text, f'config_service_http_requests_total{{{route},status_class="4xx"}}') == 1
    assert f'{route},status_class="5xx"' not in text
    assert metric(text, f"config_service_http_requests_abandoned_total{{{route}}}") == 1
