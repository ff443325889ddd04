"""Setting up what a test reads, through the service's HTTP API (applications, configurations,
new revisions), for the service's tests and the client's alike."""

from __future__ import annotations

import secrets
from typing import Any

import httpx


def _created(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise AssertionError(f"{response.request.method} {response.url.path}: {response.text}")
    created: dict[str, Any] = response.json()
    return created


def create_application(client: httpx.Client, name: str | None = None) -> dict[str, Any]:
    response = client.post(
        "/api/v1/applications", json={"name": name or f"app-{secrets.token_hex(6)}"}
    )
    return _created(response, 201)


def create_configuration(
    client: httpx.Client, application_id: str, name: str, config: dict[str, Any]
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/configurations",
        json={"application_id": application_id, "name": name, "config": config},
    )
    return _created(response, 201)


def put_config(client: httpx.Client, configuration_id: str, config: dict[str, Any]) -> None:
    response = client.put(f"/api/v1/configurations/{configuration_id}", json={"config": config})
    _created(response, 200)
