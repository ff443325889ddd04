"""API keys over HTTP: creation, listing, revocation, expiry, scopes, and the one place that
checks them (every /api/v1 route declares what it needs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from api.v1.applications_test import assert_problem, unique_name
from conftest import LiveServer, make_settings
from database.pool import Database
from delivery.streams import event_text
from models.api_key import Role
from models.change import Change, ChangeKind
from testing.api_keys import bearer, create_api_key
from testing.live_server import run_live_server

KEY_SHAPE = re.compile(r"cs_[a-z2-9]{8}_[A-Za-z0-9_-]{43}")


def test_every_api_route_declares_what_it_needs(checked_server: LiveServer) -> None:
    # The routes of included routers, with their full paths (app.routes holds the routers).
    routes = [
        route
        for route in iter_route_contexts(checked_server.app.router.routes)
        if isinstance(route.original_route, APIRoute) and (route.path or "").startswith("/api/v1")
    ]
    undeclared = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in routes
        if not any(
            hasattr(dependency.call, "authorization") for dependency in route.dependant.dependencies
        )
    ]
    assert len(routes) > 20  # the check reaches the routes at all
    assert undeclared == []


def test_a_created_key_is_shown_once_and_works(admin: httpx.Client, database: Database) -> None:
    created = admin.post("/api/v1/keys", json={"name": "deploys", "role": "write"})

    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert KEY_SHAPE.fullmatch(body["key"])
    assert body["key"].startswith(f"cs_{body['prefix']}_")
    assert created.headers["location"] == f"/api/v1/keys/{body['id']}"
    assert {k: body[k] for k in ("name", "role", "applications", "expires_at", "revoked_at")} == {
        "name": "deploys",
        "role": "write",
        "applications": None,
        "expires_at": None,
        "revoked_at": None,
    }
    shown = admin.get(f"/api/v1/keys/{body['id']}").json()
    assert shown == {k: v for k, v in body.items() if k != "key"}
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT secret_hash FROM api_keys WHERE id = %(id)s", {"id": body["id"]})
        row = cursor.fetchone()
    assert row is not None
    assert len(bytes(row[0])) == 32
    assert body["key"].encode() not in bytes(row[0])
    listed = admin.get("/api/v1/keys", params={"limit": 1000}).json()
    assert all("key" not in key for key in listed)
    assert body["id"] in [key["id"] for key in listed]
    used = httpx.get(
        f"{admin.base_url}/api/v1/applications", headers=bearer(body["key"]), timeout=30
    )
    assert used.status_code == 200


def test_the_key_list_is_paged_with_a_link(admin: httpx.Client) -> None:
    for _ in range(2):
        admin.post("/api/v1/keys", json={"name": "page", "role": "read"}).raise_for_status()

    first = admin.get("/api/v1/keys", params={"limit": 1})

    assert len(first.json()) == 1
    assert 'rel="next"' in first.headers["link"]


def test_a_revoked_key_gets_401_at_once_and_stays_listed(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/keys", json={"name": "leaving", "role": "read"}).json()
    as_key = bearer(created["key"])
    assert httpx.get(f"{admin.base_url}/api/v1/applications", headers=as_key).status_code == 200

    revoked = admin.post(f"/api/v1/keys/{created['id']}/revoke")
    again = admin.post(f"/api/v1/keys/{created['id']}/revoke")
    refused = httpx.get(f"{admin.base_url}/api/v1/applications", headers=as_key)

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    problem = assert_problem(refused, 401)
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert problem["detail"] == f"the API key {created['prefix']} is revoked"
    assert created["key"] not in refused.text


def test_an_expired_key_gets_401(checked_server: LiveServer, database_url: str) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = create_api_key(make_settings(database_url), expires_at=past)

    refused = httpx.get(f"{checked_server.url}/api/v1/applications", headers=bearer(expired.key))

    problem = assert_problem(refused, 401)
    assert problem["detail"] == f"the API key {expired.prefix} is expired"


@pytest.mark.parametrize(
    ("authorization", "challenge", "detail"),
    [
        (
            None,
            "Bearer",
            "send an API key or an identity token as `Authorization: Bearer <token>`",
        ),
        ("Basic dXNlcjpwYXNz", 'Bearer error="invalid_token"', None),
        ("Bearer cs_abcdefgh_" + "A" * 43, 'Bearer error="invalid_token"', None),
        ("Bearer not-a-key-at-all", 'Bearer error="invalid_token"', None),
    ],
)
def test_no_or_an_unknown_key_gets_401_without_the_key_in_the_answer(
    checked_server: LiveServer, authorization: str | None, challenge: str, detail: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{checked_server.url}/api/v1/events", headers=headers)

    problem = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == challenge
    if detail is not None:
        assert problem["detail"] == detail
    if authorization is not None:
        assert authorization.split(" ", 1)[1] not in response.text


def test_an_admin_key_cannot_be_limited_to_applications(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/v1/keys",
        json={"name": "x", "role": "admin", "applications": ["01JQ3V6KX8Q7M4Z2W9R5T1N0BC"]},
    )

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["message"] == (
        "Value error, applications must be null for an admin key (admin reaches all)"
    )


def test_a_number_is_no_expiry_date(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/keys", json={"name": "x", "role": "read", "expires_at": 0})

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "expires_at"
    assert problem["errors"][0]["rule"] == "datetime_format"


def test_lists_show_only_the_applications_a_key_reaches(
    admin: httpx.Client, database_url: str
) -> None:
    mine = admin.post("/api/v1/applications", json={"name": unique_name("mine")}).json()
    admin.post("/api/v1/applications", json={"name": unique_name("other")}).raise_for_status()
    key = create_api_key(make_settings(database_url), role=Role.READ, applications=[mine["id"]])

    listed = httpx.get(
        f"{admin.base_url}/api/v1/applications", params={"limit": 1000}, headers=bearer(key.key)
    )

    assert [application["id"] for application in listed.json()] == [mine["id"]]


def test_event_streams_leave_out_applications_outside_the_scope() -> None:
    change = Change(
        position=7,
        kind=ChangeKind.UPDATED,
        application_id="01JQ3V6KX8Q7M4Z2W9R5T1N0BC",
        configuration_id="01JQ3V7B2D4F6H8K0M2P4R6T8V",
        name="production",
        revision=2,
    )

    assert event_text(change, frozenset({"01JQ3V6KX8Q7M4Z2W9R5T1N0BC"})).startswith("id: 7\n")
    assert event_text(change, None).startswith("id: 7\n")
    assert event_text(change, frozenset({"01JQ3V8C5E7G9J1M3P5S7V9X1Z"})) == ""


def test_metrics_need_an_admin_key_only_when_the_setting_says_so(database_url: str) -> None:
    settings = make_settings(database_url, metrics_require_key=True)
    reader = create_api_key(settings, role=Role.READ).key
    with run_live_server(settings, default_key=False) as live:
        assert live.admin_key is not None
        without = httpx.get(f"{live.url}/metrics")
        as_reader = httpx.get(f"{live.url}/metrics", headers=bearer(reader))
        as_admin = httpx.get(f"{live.url}/metrics", headers=bearer(live.admin_key))

    assert_problem(without, 401)
    assert_problem(as_reader, 403)
    assert as_admin.status_code == 200


def test_a_key_naming_an_application_that_does_not_exist_is_refused(
    admin: httpx.Client, database: Database
) -> None:
    known = admin.post("/api/v1/applications", json={"name": unique_name("known")}).json()
    unknown = "01JQ3V8C5E7G9J1M3P5S7V9X1Z"
    name = unique_name("never made")

    response = admin.post(
        "/api/v1/keys",
        json={"name": name, "role": "read", "applications": [known["id"], unknown.lower()]},
    )

    problem = assert_problem(response, 422, "application_exists")
    assert problem["errors"] == [
        {
            "location": "body",
            "field": "applications.1",
            "rule": "application_exists",
            "message": f"application {unknown} does not exist",
            "pointer": "/applications/1",
        }
    ]
    assert problem["detail"] == f"applications.1: application {unknown} does not exist"
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM api_keys WHERE name = %(name)s", {"name": name})
        assert cursor.fetchone() == (0,)
    made = admin.post(
        "/api/v1/keys", json={"name": name, "role": "read", "applications": [known["id"]]}
    )
    assert (made.status_code, made.json()["applications"]) == (201, [known["id"]])
