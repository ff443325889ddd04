"""Hot routes: which routes the edge answers itself, with the authorization each declares, and
that its answers are the framework's (the same request sent again with the raw handlers switched
off; a query string would not do: the by-id route answers requests with one too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.auth.authorization import ApplicationFrom, Permission
from api.edge.hot_routes import HotRouteMiddleware, hot_routes
from conftest import LiveServer
from testing.seeding import create_application, create_configuration

VARYING_HEADERS = {"date", "x-request-id"}


def test_the_hot_routes_are_the_reads_and_liveness_each_with_its_declared_check(
    live_server: LiveServer,
) -> None:
    routes = {
        route.template: [check.authorization for check in route.checks]  # type: ignore[attr-defined]
        for route in hot_routes(live_server.app)
    }

    assert routes == {
        "/api/v1/configurations/{configuration_id}": [
            (Permission.READ, ApplicationFrom.CONFIGURATION)
        ],
        "/api/v1/values/{application_name}/{configuration_name}": [
            (Permission.READ, ApplicationFrom.NAMES)
        ],
        "/health/live": [],
    }


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING_HEADERS}
    return response.status_code, headers, response.content


def hot_route_middleware(app: Any) -> HotRouteMiddleware:
    layer = app.middleware_stack
    while layer is not None:
        if isinstance(layer, HotRouteMiddleware):
            return layer
        layer = getattr(layer, "app", None)
    raise AssertionError("no HotRouteMiddleware in the stack")


@contextmanager
def framework_only(server: LiveServer) -> Iterator[None]:
    """While it lasts, no route is hot: FastAPI routes every request."""
    middleware = hot_route_middleware(server.app)
    routes = middleware.routes
    middleware.routes = ()
    try:
        yield
    finally:
        middleware.routes = routes


def _framework_answer(
    server: LiveServer, client: httpx.Client, path: str, **kwargs: Any
) -> httpx.Response:
    """The same request, routed by FastAPI."""
    with framework_only(server):
        return client.get(path, **kwargs)


@pytest.mark.parametrize("if_none_match", [None, '"1"', '"7"'])
def test_a_values_read_from_the_edge_is_the_frameworks_answer(
    live_server: LiveServer, client: httpx.Client, if_none_match: str | None
) -> None:
    application = create_application(client)
    create_configuration(client, application["id"], "edge", {"v": 1})
    path = f"/api/v1/values/{quote(application['name'], safe='')}/edge"
    headers = {"If-None-Match": if_none_match} if if_none_match else {}

    fast = client.get(path, headers=headers)
    routed = _framework_answer(live_server, client, path, headers=headers)

    assert fast.status_code == (304 if if_none_match == '"1"' else 200)
    assert _answer(fast) == _answer(routed)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/values/no-such-application/edge", 404),
        ("/api/v1/values/a/b/c", 404),
        ("/api/v1/configurations/01J0000000000000000000000Z", 404),
    ],
)
def test_a_problem_from_the_edge_is_the_frameworks_problem(
    live_server: LiveServer, client: httpx.Client, path: str, status: int
) -> None:
    fast = client.get(path)
    routed = _framework_answer(live_server, client, path)

    assert fast.status_code == status
    assert fast.headers["content-type"] == "application/problem+json"
    fast_body, routed_body = fast.json(), routed.json()
    assert fast_body.pop("request_id") != routed_body.pop("request_id")
    assert fast_body == routed_body
    assert {
        k: v for k, v in fast.headers.items() if k not in VARYING_HEADERS | {"content-length"}
    } == {k: v for k, v in routed.headers.items() if k not in VARYING_HEADERS | {"content-length"}}


def test_without_a_key_the_edge_answers_401_as_the_framework_does(
    checked_server: LiveServer,
) -> None:
    path = "/api/v1/configurations/01J0000000000000000000000Z"
    with httpx.Client(base_url=checked_server.url) as anonymous:
        fast = anonymous.get(path)
        routed = _framework_answer(checked_server, anonymous, path)

    assert fast.status_code == 401
    assert fast.headers["www-authenticate"] == "Bearer"
    fast_body, routed_body = fast.json(), routed.json()
    assert fast_body.pop("request_id") != routed_body.pop("request_id")
    assert fast_body == routed_body


def test_a_read_by_id_from_the_edge_is_the_whole_configuration(client: httpx.Client) -> None:
    application = create_application(client)
    configuration = create_configuration(client, application["id"], "edge", {"v": 1})

    fast = client.get(f"/api/v1/configurations/{configuration['id']}")

    assert fast.status_code == 200
    assert fast.headers["etag"] == '"1"'
    assert fast.headers["config-revision"] == "1"
    assert fast.json()["config"] == {"v": 1}
    assert fast.json()["id"] == configuration["id"]
