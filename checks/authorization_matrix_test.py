"""Every operation of the OpenAPI document, called with every kind of key, answers as the rules
say: admin everything; write and read within their applications; 404 (the very body of a missing
object) outside them; 403 for a role too low; 401 without a usable key.

Identity tokens go through the same checks: a token whose bindings grant what a key grants gets
exactly the key's answers (`token_write_a` those of `write_a`...); a verified token that no
binding lets in gets 403 everywhere, an expired one 401.

The operations come from the document the service serves, and the expectations must name each
one, so a route added without a line here fails the first test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.v1.applications_test import unique_name
from conftest import make_settings
from models.api_key import Role
from services.ids import new_id
from testing.api_keys import bearer, create_api_key
from testing.live_server import LiveServer, run_live_server
from testing.oidc_issuer import OidcIssuer, run_oidc_issuer, trusting

KEYS = ("admin", "write_a", "read_a", "read_b", "revoked", "expired", "none")
# Each identity token, and the key whose rights its binding grants.
TOKENS = {
    "token_admin": "admin",
    "token_write_a": "write_a",
    "token_read_a": "read_a",
    "token_read_b": "read_b",
}
CALLERS = (*KEYS, *TOKENS, "token_unbound", "token_expired")

# Per operation: the answer of write_a, read_a and read_b (admin: 2xx; revoked, expired and none:
# 401). "404=" means the body equals the not-found answer of a missing object.
EXPECTED: dict[str, tuple[str, str, str]] = {
    "POST /api/v1/applications": ("403", "403", "403"),
    "GET /api/v1/applications": ("2xx", "2xx", "2xx"),
    "GET /api/v1/applications/{application_id}": ("2xx", "2xx", "404="),
    "PUT /api/v1/applications/{application_id}": ("2xx", "403", "404="),
    "DELETE /api/v1/applications/{application_id}": ("403", "403", "403"),
    "GET /api/v1/applications/{application_id}/configurations": ("2xx", "2xx", "404="),
    "POST /api/v1/configurations": ("2xx", "403", "422="),
    "GET /api/v1/configurations/{configuration_id}": ("2xx", "2xx", "404="),
    "PUT /api/v1/configurations/{configuration_id}": ("2xx", "403", "404="),
    "PATCH /api/v1/configurations/{configuration_id}": ("2xx", "403", "404="),
    "DELETE /api/v1/configurations/{configuration_id}": ("2xx", "403", "404="),
    "GET /api/v1/configurations/{configuration_id}/revisions": ("2xx", "2xx", "404="),
    "GET /api/v1/configurations/{configuration_id}/revisions/{revision}": ("2xx", "2xx", "404="),
    "POST /api/v1/configurations/{configuration_id}/revisions/{revision}/restore": (
        "2xx",
        "403",
        "404=",
    ),
    "GET /api/v1/configurations/{configuration_id}/diff": ("2xx", "2xx", "404="),
    "GET /api/v1/values/{application_name}/{configuration_name}": ("2xx", "2xx", "404="),
    "GET /api/v1/applications/{application_id}/events": ("2xx", "2xx", "404="),
    "GET /api/v1/events": ("2xx", "2xx", "2xx"),
    "POST /api/v1/keys": ("403", "403", "403"),
    "GET /api/v1/keys": ("403", "403", "403"),
    "GET /api/v1/keys/{key_id}": ("403", "403", "403"),
    "POST /api/v1/keys/{key_id}/revoke": ("403", "403", "403"),
    "GET /api/v1/audit": ("2xx", "403", "403"),
    "POST /api/v1/bindings": ("403", "403", "403"),
    "GET /api/v1/bindings": ("403", "403", "403"),
    "GET /api/v1/bindings/{binding_id}": ("403", "403", "403"),
    "DELETE /api/v1/bindings/{binding_id}": ("403", "403", "403"),
}


@dataclass
class World:
    server: LiveServer
    admin: httpx.Client
    keys: dict[str, str]
    app_a: dict[str, Any]
    config_a: dict[str, Any]
    issuer: OidcIssuer


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[World]:
    with run_oidc_issuer(families=("RSA",)) as issuer:
        yield from _world(database_url, issuer)


def _world(database_url: str, issuer: OidcIssuer) -> Iterator[World]:
    settings = make_settings(database_url, oidc_issuers=trusting(issuer))
    with (
        run_live_server(settings, default_key=False) as server,
        httpx.Client(base_url=server.url, timeout=30) as admin,
    ):
        assert server.admin_key is not None
        admin.headers.update(bearer(server.admin_key))
        app_a = admin.post("/api/v1/applications", json={"name": unique_name("a")}).json()
        app_b = admin.post("/api/v1/applications", json={"name": unique_name("b")}).json()
        config_a = admin.post(
            "/api/v1/configurations",
            json={"application_id": app_a["id"], "name": "production", "config": {"x": 1}},
        ).json()

        def key(role: Role, applications: list[str] | None = None, **more: Any) -> str:
            return create_api_key(settings, role=role, applications=applications, **more).key

        revoked = create_api_key(settings, name="revoked")
        admin.post(f"/api/v1/keys/{revoked.id}/revoke").raise_for_status()
        keys = {
            "admin": server.admin_key,
            "write_a": key(Role.WRITE, [app_a["id"]]),
            "read_a": key(Role.READ, [app_a["id"]]),
            "read_b": key(Role.READ, [app_b["id"]]),
            "revoked": revoked.key,
            "expired": key(Role.ADMIN, expires_at=datetime.now(UTC) - timedelta(seconds=1)),
        }
        grants = {
            "token_admin": ("admin", None),
            "token_write_a": ("write", [app_a["id"]]),
            "token_read_a": ("read", [app_a["id"]]),
            "token_read_b": ("read", [app_b["id"]]),
        }
        for who, (role, applications) in grants.items():
            binding = {"name": who, "issuer": issuer.url, "role": role}
            admin.post(
                "/api/v1/bindings",
                json={**binding, "claims": {"sub": who}, "applications": applications},
            ).raise_for_status()
            keys[who] = issuer.token(issuer.claims(subject=who, lifetime=3600))
        keys["token_unbound"] = issuer.token(issuer.claims(subject="nobody", lifetime=3600))
        keys["token_expired"] = issuer.token(
            issuer.claims(subject="token_admin", iat=int(time.time()) - 600, exp=1)
        )
        yield World(server, admin, keys, app_a, config_a, issuer)


def operations(document: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        if path.startswith("/api/v1")
        for method in item
    ]


def test_the_expectations_name_every_operation_of_the_document(world: World) -> None:
    document = httpx.get(f"{world.server.url}/openapi.json").json()

    assert sorted(operations(document)) == sorted(EXPECTED)


def request_for(
    world: World, operation: str, *, missing: bool = False
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Method, URL and body of a call of `operation` on objects of application A (`missing`:
    on objects that do not exist). Deletes and revokes get fresh objects of their own."""
    method, template = operation.split(" ", 1)
    app_id, config_id = world.app_a["id"], world.config_a["id"]
    app_name, config_name = world.app_a["name"], "production"
    key_id = binding_id = new_id()
    if method == "DELETE" and "configuration_id" in template:
        created = world.admin.post(
            "/api/v1/configurations",
            json={"application_id": app_id, "name": unique_name("doomed"), "config": {}},
        )
        config_id = created.json()["id"]
    if method == "DELETE" and "configuration_id" not in template:
        app_id = world.admin.post("/api/v1/applications", json={"name": unique_name()}).json()["id"]
    if "{key_id}" in template:
        key_id = world.admin.post("/api/v1/keys", json={"name": "target", "role": "read"}).json()[
            "id"
        ]
    if "{binding_id}" in template:
        binding = {"name": "target", "issuer": world.issuer.url, "role": "read"}
        binding_id = world.admin.post(
            "/api/v1/bindings", json={**binding, "claims": {"sub": "target"}}
        ).json()["id"]
    if missing:
        app_id, config_id, app_name = new_id(), new_id(), unique_name("missing")
    path = (
        template.replace("{application_id}", app_id)
        .replace("{configuration_id}", config_id)
        .replace("{revision}", "1")
        .replace("{application_name}", app_name)
        .replace("{configuration_name}", config_name)
        .replace("{key_id}", key_id)
        .replace("{binding_id}", binding_id)
    )
    bodies: dict[str, Any] = {
        "POST /api/v1/applications": {"name": unique_name()},
        "PUT /api/v1/applications/{application_id}": {"comments": unique_name("c")},
        "POST /api/v1/configurations": {
            "application_id": app_id,
            "name": unique_name("cfg"),
            "config": {},
        },
        "PUT /api/v1/configurations/{configuration_id}": {"comments": unique_name("c")},
        "PATCH /api/v1/configurations/{configuration_id}": {"comments": unique_name("c")},
        "POST /api/v1/keys": {"name": "matrix", "role": "read"},
        "POST /api/v1/bindings": {
            "name": "matrix",
            "issuer": world.issuer.url,
            "claims": {"sub": "matrix"},
            "role": "read",
        },
    }
    params = {"from": 1, "to": 1} if template.endswith("/diff") else {}
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    body = bodies.get(operation)
    if body is not None and not headers:
        headers = {"Content-Type": "application/json"}
    request = {
        "method": method,
        "url": world.server.url + path,
        "params": params,
        "headers": headers,
        "content": None if body is None else json.dumps(body),
    }
    return request, (app_id, config_id, app_name)


def call(request: dict[str, Any], key: str | None) -> tuple[int, dict[str, str], Any]:
    headers = {**request["headers"], **(bearer(key) if key else {})}
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            request["method"],
            request["url"],
            params=request["params"],
            headers=headers,
            content=request["content"],
        ) as response,
    ):
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, dict(response.headers), None
        response.read()
        body = response.json() if response.content else None
        return response.status_code, dict(response.headers), body


def status_class(status: int) -> str:
    return "2xx" if 200 <= status < 300 else str(status)


def without_ids(body: Any, *values: str) -> str:
    text = json.dumps({k: v for k, v in body.items() if k != "request_id"}, sort_keys=True)
    for value in values:
        text = text.replace(value, "<id>")
    return text


@pytest.mark.parametrize("operation", sorted(EXPECTED))
@pytest.mark.parametrize("who", CALLERS)
def test_each_key_gets_what_its_role_and_scope_allow(
    world: World, operation: str, who: str
) -> None:
    request, shown = request_for(world, operation)
    status, headers, body = call(request, world.keys.get(who))

    if who in {"revoked", "expired", "none", "token_expired"}:
        assert status == 401, body
        sent = who != "none"
        assert headers["www-authenticate"] == ('Bearer error="invalid_token"' if sent else "Bearer")
        assert body["status"] == 401
        assert world.keys.get(who, "no key") not in json.dumps(body)
        return
    if who == "token_unbound":
        assert status == 403, body
        assert body["detail"].startswith("the identity 'nobody' of ")
        return
    roles = ("write_a", "read_a", "read_b")
    as_key = TOKENS.get(who, who)
    expected = "2xx" if as_key == "admin" else EXPECTED[operation][roles.index(as_key)]
    assert status_class(status) == expected.rstrip("="), body
    if expected.endswith("="):
        # Out of scope answers exactly as a missing object does (ids aside).
        missing, hidden = request_for(world, operation, missing=True)
        missing_status, _, missing_body = call(missing, world.keys["admin"])
        assert missing_status == status
        assert without_ids(body, *shown) == without_ids(missing_body, *hidden)
    if status == 403:
        caller = "the identity " if who in TOKENS else "the API key "
        assert body["detail"].startswith(caller)
        assert world.keys[who] not in json.dumps(body)
