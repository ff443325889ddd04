"""Shared fixtures: a real PostgreSQL for every test that needs one.

With DATABASE_URL unset the tests start their own embedded server (in .postgres/test, apart
from the development server's data); with it set they use that server. Either way every test
session works in databases it creates and drops, never in the development database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from config.settings import PROJECT_ROOT, Settings
from database.embedded import start_embedded_postgres
from database.migration_runner import MigrationRunner
from database.pool import Database
from testing.api_keys import bearer
from testing.databases import temporary_database
from testing.live_server import LiveServer, run_live_server
from testing.oidc_issuer import OidcIssuer, run_oidc_issuer, trusting
from testing.secret_keys import TEST_SECRETS_KEYS

TEST_SERVER_DIRECTORY = PROJECT_ROOT / ".postgres" / "test"

# Tests import these from here (LiveServer is re-exported for them).
__all__ = ["LiveServer", "LiveServerFactory", "make_settings"]


LiveServerFactory = Callable[[Settings], AbstractContextManager[LiveServer]]


@pytest.fixture(scope="session")
def live_server_factory() -> LiveServerFactory:
    """Start another live server with settings of the test's own (a tiny pool, say)."""
    return run_live_server


@pytest.fixture(scope="session")
def server_url() -> str:
    """A PostgreSQL server the tests may create databases on."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured
    return start_embedded_postgres(Path(TEST_SERVER_DIRECTORY))


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A new, empty database for one test (migration tests start from nothing)."""
    with temporary_database(server_url) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A database with every migration applied, shared by the session's service tests."""
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        yield url


# Tests make many requests quickly from one address: no rate limits unless a test sets them.
NO_RATE_LIMITS: dict[str, object] = {
    "rate_limit_per_second": 0,
    "rate_limit_address_per_second": 0,
    "rate_limit_auth_failures_per_minute": 0,
}


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test app: only what the test says, nothing from the environment, no
    rate limits unless the test sets them, and a test keyring for secrets (`secrets_keys=None`
    for none)."""
    values: dict[str, object] = {
        "database_url": database_url,
        "database_pool_min_size": 1,
        "secrets_keys": TEST_SECRETS_KEYS,
        **NO_RATE_LIMITS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    """A pool on the session's database, for repository and service tests."""
    pool = Database.from_settings(make_settings(database_url), database_url)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The real service over real HTTP on a free local port."""
    with run_live_server(make_settings(database_url)) as server:
        yield server


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def checked_server(database_url: str) -> Iterator[LiveServer]:
    """The real service, sending no key of its own: each request must bring one (the tests of
    keys and what they reach)."""
    with run_live_server(make_settings(database_url), default_key=False) as server:
        yield server


def admin_client(server: LiveServer) -> httpx.Client:
    """A client of `server` that sends its admin key."""
    assert server.admin_key is not None
    return httpx.Client(base_url=server.url, headers=bearer(server.admin_key), timeout=30)


@pytest.fixture
def admin(checked_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of `checked_server` that sends its admin key."""
    with admin_client(checked_server) as http:
        yield http


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[OidcIssuer]:
    """A real OpenID issuer on a free local port, shared by the session: tests that rotate its
    keys or take it down start one of their own."""
    with run_oidc_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def identity_server(database_url: str, oidc_issuer: OidcIssuer) -> Iterator[LiveServer]:
    """The real service trusting `oidc_issuer`'s tokens (audience `config-service`), sending no
    key of its own; headers up to 64 KiB, so that oversized tokens reach authentication."""
    settings = make_settings(
        database_url, oidc_issuers=trusting(oidc_issuer), max_header_bytes=65_536
    )
    with run_live_server(settings, default_key=False) as server:
        yield server


@pytest.fixture
def identity_admin(identity_server: LiveServer) -> Iterator[httpx.Client]:
    """A client of `identity_server` that sends its admin key."""
    with admin_client(identity_server) as http:
        yield http
