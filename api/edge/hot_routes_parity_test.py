"""Adversarial parity: every request the edge answers itself gets, byte for byte (request id and
date aside), the answer FastAPI's router gives when the edge steps aside. The raw handlers are
switched off for the second request, so this compares the two ways for the very same request
(api/edge/hot_routes_test.py's framework_only).

Callers of every kind (admin, a read key of the application, a read key of another one, a key
that may reveal secrets, revoked, expired, garbage, none, duplicate Authorization headers) and
path tricks (lower-case ids, encoded characters, dot segments, trailing slashes, `//`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.auth.identity_tokens_test import as_token, bind
from api.edge.hot_routes_test import framework_only
from api.v1.applications_test import unique_name
from conftest import LiveServer
from models.api_key import Role
from testing.api_keys import create_api_key
from testing.oidc_issuer import OidcIssuer

VARYING_HEADERS = {"date", "x-request-id"}


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING_HEADERS}
    body: Any = response.content
    if response.headers.get("content-type") == "application/problem+json":
        body = response.json()
        assert body.pop("request_id") == response.headers["x-request-id"]
    return response.status_code, headers, body


@dataclass
class World:
    callers: dict[str, list[tuple[str, str]]]
    paths: dict[str, str]


@pytest.fixture(scope="module")
def world(checked_server: LiveServer) -> World:
    settings = checked_server.app.state.settings
    assert checked_server.admin_key is not None
    admin = [("authorization", f"Bearer {checked_server.admin_key}")]
    with httpx.Client(base_url=checked_server.url, headers=dict(admin), timeout=30) as client:
        a = client.post("/api/v1/applications", json={"name": "parity-a"}).json()
        b = client.post("/api/v1/applications", json={"name": "parity-b"}).json()
        plain = client.post(
            "/api/v1/configurations",
            json={"application_id": a["id"], "name": "plain", "config": {"v": 1}},
        ).json()
        secret = client.post(
            "/api/v1/configurations",
            json={
                "application_id": a["id"],
                "name": "with/secret",
                "config": {"db": {"password": "hunter2"}},
                "secrets": ["/db/password"],
            },
        ).json()
        assert "id" in plain, plain
        assert "id" in secret, secret
        revoked = create_api_key(settings, name="parity-revoked", role=Role.READ)
        client.post(f"/api/v1/keys/{revoked.id}/revoke").raise_for_status()

    def key(**kwargs: Any) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {create_api_key(settings, **kwargs).key}")]

    read_a = key(role=Role.READ, applications=[a["id"]])
    callers = {
        "admin": admin,
        "read_a": read_a,
        "read_b": key(role=Role.READ, applications=[b["id"]]),
        "reveal_a": key(role=Role.READ, applications=[a["id"]], reveal_secrets=True),
        "revoked": [("authorization", f"Bearer {revoked.key}")],
        "expired": key(role=Role.READ, expires_at=datetime.now(UTC) - timedelta(seconds=1)),
        "garbage_key": [("authorization", "Bearer cs_nothing")],
        "garbage_jwt": [("authorization", "Bearer a.b.c")],
        "basic": [("authorization", "Basic dXNlcjpwYXNz")],
        "none": [],
        "duplicate_good_first": [*read_a, ("authorization", "Bearer cs_nothing")],
        "duplicate_bad_first": [("authorization", "Bearer cs_nothing"), *read_a],
    }
    values = f"/api/v1/values/{quote(a['name'], safe='')}"
    paths = {
        "by_id": f"/api/v1/configurations/{plain['id']}",
        "by_id_lower": f"/api/v1/configurations/{plain['id'].lower()}",
        "secret_by_id": f"/api/v1/configurations/{secret['id']}",
        "by_id_trailing_slash": f"/api/v1/configurations/{plain['id']}/",
        "by_id_double_slash": f"/api/v1//configurations/{plain['id']}",
        "by_id_dots": f"/api/v1/x/../configurations/{plain['id']}",
        "by_id_encoded": f"/api/v1/configurations/{plain['id'][:-1]}%{ord(plain['id'][-1]):02X}",
        "by_id_missing": "/api/v1/configurations/01J0000000000000000000000Z",
        "by_id_malformed": "/api/v1/configurations/not-an-id",
        "values": f"{values}/plain",
        "values_secret": f"{values}/with%2Fsecret",
        "values_secret_unencoded": f"{values}/with/secret",
        "values_trailing_slash": f"{values}/plain/",
        "values_double_slash": f"{values}//plain",
        "values_other_app": "/api/v1/values/parity-b/plain",
        "values_unicode": "/api/v1/values/%C3%A9/%F0%9F%98%80",
        "values_long": "/api/v1/values/" + "a" * 4000 + "/b",
        "live": "/health/live",
        "live_trailing": "/health/live/",
    }
    return World(callers=callers, paths=paths)


PATHS = [
    "by_id",
    "by_id_lower",
    "secret_by_id",
    "by_id_trailing_slash",
    "by_id_double_slash",
    "by_id_dots",
    "by_id_encoded",
    "by_id_missing",
    "by_id_malformed",
    "values",
    "values_secret",
    "values_secret_unencoded",
    "values_trailing_slash",
    "values_double_slash",
    "values_other_app",
    "values_unicode",
    "values_long",
    "live",
    "live_trailing",
]
CALLERS = [
    "admin",
    "read_a",
    "read_b",
    "reveal_a",
    "revoked",
    "expired",
    "garbage_key",
    "garbage_jwt",
    "basic",
    "none",
    "duplicate_good_first",
    "duplicate_bad_first",
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("if_none_match", [None, '"1"', '"1-revealed"'])
def test_the_edge_answers_as_the_framework_for_every_caller_and_path(
    checked_server: LiveServer, world: World, caller: str, path: str, if_none_match: str | None
) -> None:
    headers = list(world.callers[caller])
    if if_none_match is not None:
        headers.append(("if-none-match", if_none_match))
    url = checked_server.url + world.paths[path]
    with httpx.Client(timeout=30) as client:
        fast = client.send(httpx.Request("GET", url, headers=headers))
        with framework_only(checked_server):
            routed = client.send(httpx.Request("GET", url, headers=headers))

    assert _answer(fast) == _answer(routed)


# Identity tokens: the same parity, with the verified-token cache in play (each token is used
# once before the comparison, so the edge's request finds it kept).


def _compare(server: LiveServer, path: str, headers: dict[str, str]) -> int:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        fast = client.get(path, headers=headers)
        with framework_only(server):
            routed = client.get(path, headers=headers)
    assert _answer(fast) == _answer(routed)
    return fast.status_code


def test_the_edge_answers_identity_tokens_as_the_framework(
    identity_admin: httpx.Client, identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    a = identity_admin.post("/api/v1/applications", json={"name": unique_name("pa")}).json()
    b = identity_admin.post("/api/v1/applications", json={"name": unique_name("pb")}).json()
    secret = identity_admin.post(
        "/api/v1/configurations",
        json={
            "application_id": a["id"],
            "name": "s",
            "config": {"password": "hunter2"},
            "secrets": ["/password"],
        },
    ).json()
    paths = [f"/api/v1/configurations/{secret['id']}", f"/api/v1/values/{a['name']}/s"]

    def token(subject: str, **claims: Any) -> dict[str, str]:
        return as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject, **claims)))

    on_a, revealing, on_b, deleted = (unique_name(s) for s in ("a", "r", "b", "d"))
    bind(identity_admin, oidc_issuer, {"sub": on_a}, applications=[a["id"]])
    bind(
        identity_admin, oidc_issuer, {"sub": revealing}, applications=[a["id"]], reveal_secrets=True
    )
    bind(identity_admin, oidc_issuer, {"sub": on_b}, applications=[b["id"]])
    gone = bind(identity_admin, oidc_issuer, {"sub": deleted})
    callers = {
        "on_a": (token(on_a), 200),
        "revealing": (token(revealing), 200),
        "on_b": (token(on_b), 404),
        "unbound": (token(unique_name("u")), 403),
        "expired": (token(on_a, iat=int(time.time()) - 600, exp=int(time.time()) - 120), 401),
        "not_yet_valid": (token(on_a, nbf=int(time.time()) + 600), 401),
        "wrong_audience": (token(on_a, audience="someone-else"), 401),
        "deleted": (token(deleted), 403),
    }
    deleted_token = callers["deleted"][0]
    assert httpx.get(identity_server.url + paths[0], headers=deleted_token).status_code == 200
    identity_admin.delete(f"/api/v1/bindings/{gone}").raise_for_status()

    for path in paths:
        for name, (headers, status) in callers.items():
            assert _compare(identity_server, path, headers) == status, (name, path)
