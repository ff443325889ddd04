"""Fixtures of the client's tests: the real service (the project's live server on the test
database) and helpers that set up what a test reads."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from config_service_client.client import Client
from config_service_client.document import Document
from conftest import LiveServer, LiveServerFactory, make_settings
from testing.seeding import create_application, create_configuration, put_config


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


@dataclass(frozen=True)
class StoppedService:
    """A service that answered once (its document cached in `cache`) and is gone now."""

    url: str
    key: str
    application: str
    fresh: Document
    cache: Path


@pytest.fixture
def stopped_service(
    database_url: str, live_server_factory: LiveServerFactory, tmp_path: Path
) -> StoppedService:
    cache = tmp_path / "cache"
    with live_server_factory(make_settings(database_url)) as server:
        assert server.admin_key is not None
        with httpx.Client(base_url=server.url, timeout=30) as admin:
            seeded = seed(admin, {"feature": "on"})
        with Client(server.url, token=server.admin_key, cache_dir=cache) as client:
            fresh = client.get(seeded.application, "production")
    return StoppedService(server.url, server.admin_key, seeded.application, fresh, cache)
