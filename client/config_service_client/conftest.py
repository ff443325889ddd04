"""Fixtures of the client's tests: the real service (the project's live server on the test
database) and helpers that set up what a test reads."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.v1.values_test import create_application, create_configuration, put_config
from conftest import LiveServer


@dataclass(frozen=True)
class Seeded:
    """An application with one configuration, made through the API as an admin."""

    application: str
    application_id: str
    name: str
    configuration_id: str


def seed(admin: httpx.Client, value: dict[str, Any], name: str = "production") -> Seeded:
    application = create_application(admin, f"app-{secrets.token_hex(6)}")
    configuration = create_configuration(admin, application["id"], name, value)
    return Seeded(application["name"], application["id"], name, configuration["id"])


def put(admin: httpx.Client, seeded: Seeded, value: dict[str, Any]) -> None:
    put_config(admin, seeded.configuration_id, value)


@pytest.fixture
def admin(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The service's HTTP API as an admin, for setting up (not the client under test)."""
    assert live_server.admin_key is not None
    with httpx.Client(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {live_server.admin_key}"},
        timeout=30,
    ) as http:
        yield http


@pytest.fixture
def admin_key(live_server: LiveServer) -> str:
    assert live_server.admin_key is not None
    return live_server.admin_key
