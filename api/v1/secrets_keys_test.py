"""Secrets and SECRETS_KEYS: without a key the service runs and refuses only to hold secrets;
with a key missing, the reads and writes that need it are a clear 503, never a 500, and
nothing is lost."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import LiveServer, LiveServerFactory, make_settings
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.secret_keys import NEW_ONLY_SECRETS_KEYS

PASSWORD = "hunter2-canary-keys"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}
WRONG_MATERIAL = "t1:" + base64.b64encode(bytes(32)).decode()


@pytest.fixture(scope="module")
def keyed(database_url: str, live_server_factory: LiveServerFactory) -> Iterator[LiveServer]:
    with live_server_factory(make_settings(database_url)) as server:
        yield server


def revealing_client(server: LiveServer, database_url: str) -> httpx.Client:
    key = create_api_key(
        make_settings(database_url), role=Role.ADMIN, name="revealer", reveal_secrets=True
    )
    return httpx.Client(base_url=server.url, headers=bearer(key.key), timeout=30)


def create_with_secret(server: LiveServer) -> dict[str, Any]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        application = http.post(
            "/api/v1/applications", json={"name": f"app-{uuid.uuid4().hex[:12]}"}
        ).json()
        response = http.post(
            "/api/v1/configurations",
            json={
                "application_id": application["id"],
                "name": "production",
                "config": {"password": PASSWORD, "port": 5432},
                "secrets": ["/password"],
            },
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_without_keys_the_service_serves_and_refuses_only_secrets(
    database_url: str, live_server_factory: LiveServerFactory
) -> None:
    with live_server_factory(make_settings(database_url, secrets_keys=None)) as server:
        http = httpx.Client(base_url=server.url, timeout=30)
        application = http.post(
            "/api/v1/applications", json={"name": f"app-{uuid.uuid4().hex[:12]}"}
        ).json()
        body = {"application_id": application["id"], "name": "p", "config": {"password": "x"}}
        refused = http.post("/api/v1/configurations", json={**body, "secrets": ["/password"]})
        plain = http.post("/api/v1/configurations", json=body)
        marked = http.patch(
            f"/api/v1/configurations/{plain.json()['id']}",
            content=json.dumps({"secrets": ["/password"]}),
            headers=MERGE_PATCH,
        )
        http.close()

    assert plain.status_code == 201
    for response in (refused, marked):
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "location": "body",
                "field": "secrets",
                "rule": "secrets_keys_not_set",
                "message": "this service has no encryption key for secrets: set SECRETS_KEYS "
                "(a keyring of <id>:<base64 of 32 random bytes>) to store secret values",
                "pointer": "/secrets",
            }
        ]


@pytest.mark.parametrize(
    ("secrets_keys", "detail"),
    [
        (None, "is encrypted under the key 't1', which SECRETS_KEYS does not list"),
        (
            NEW_ONLY_SECRETS_KEYS,
            "is encrypted under the key 't1', which SECRETS_KEYS does not list",
        ),
        (WRONG_MATERIAL, "does not decrypt with the key 't1' of SECRETS_KEYS"),
    ],
)
def test_a_missing_key_is_a_503_naming_it_and_nothing_is_lost(
    keyed: LiveServer,
    database_url: str,
    live_server_factory: LiveServerFactory,
    secrets_keys: str | None,
    detail: str,
) -> None:
    created = create_with_secret(keyed)
    url = f"/api/v1/configurations/{created['id']}"
    with httpx.Client(base_url=keyed.url, timeout=30) as admin:
        name = admin.get(f"/api/v1/applications/{created['application_id']}").json()["name"]
    by_name = f"/api/v1/values/{name}/production"
    settings = make_settings(database_url, secrets_keys=secrets_keys)
    with live_server_factory(settings) as server:
        masked_http = httpx.Client(base_url=server.url, timeout=30)
        masked = masked_http.get(url)
        revealing = revealing_client(server, database_url)
        answers = [
            revealing.get(url),
            revealing.get(f"{url}/revisions/1"),
            revealing.get(by_name),
            revealing.get(by_name, params={"revision": 1}),
            masked_http.get(f"{url}/diff", params={"from": 1, "to": 1}),
            masked_http.patch(url, content=json.dumps({"comments": "x"}), headers=MERGE_PATCH),
            masked_http.post(f"{url}/revisions/1/restore"),
        ]
        masked_http.close()
        revealing.close()

    assert (masked.status_code, masked.json()["config"]) == (
        200,
        {"password": "********", "port": 5432},
    )
    for answer in answers:
        assert answer.status_code == 503, answer.text
        problem = answer.json()
        assert problem["type"] == "urn:config-service:problem:secrets-key-unavailable"
        assert problem["key_id"] == "t1"
        assert detail in problem["detail"]
        assert "SECRETS_KEYS" in problem["detail"]
        assert answer.headers["retry-after"] == "30"
        assert "canary" not in answer.text
    with httpx.Client(base_url=keyed.url, timeout=30) as admin:
        # Nothing was shown, so no reveal was audited (nor remembered as done).
        assert reveals(admin, created["id"]) == []
        with revealing_client(keyed, database_url) as back:  # the key again: all is there
            again = back.get(url)
        assert [record["revision_after"] for record in reveals(admin, created["id"])] == [1]
    assert (again.json()["revision"], again.json()["config"]["password"]) == (1, PASSWORD)


def reveals(admin: httpx.Client, configuration_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = admin.get(
        "/api/v1/audit",
        params={"configuration_id": configuration_id, "action": "configuration.revealed"},
    ).json()
    return found
