"""Verified identity tokens are kept by their hash for API_KEY_CACHE_SECONDS (only verified
ones), and a kept token is still refused once it expires."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from api.auth.identity_tokens_test import as_token, bind
from api.auth.token_cache import MAX_CACHED_TOKENS, VerifiedTokens, token_digest
from conftest import LiveServer, admin_client, make_settings
from identity.token_verifier import VerifiedToken
from testing.live_server import run_live_server
from testing.oidc_issuer import OidcIssuer, run_oidc_issuer, trusting


def verified(subject: str) -> VerifiedToken:
    return VerifiedToken(
        issuer="https://issuer.example",
        subject=subject,
        claims={"sub": subject},
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_a_kept_token_is_found_by_its_hash_only() -> None:
    tokens = VerifiedTokens(seconds=60)
    tokens.put(token_digest("a.b.c"), verified("alice"))

    assert tokens.get(token_digest("a.b.c")) == verified("alice")
    assert tokens.get(token_digest("a.b.d")) is None
    assert all(len(digest) == 32 for digest in tokens._tokens)


def test_zero_seconds_keeps_nothing() -> None:
    tokens = VerifiedTokens(seconds=0)
    tokens.put(token_digest("a.b.c"), verified("alice"))

    assert tokens.get(token_digest("a.b.c")) is None


def test_the_oldest_token_goes_first_past_the_bound() -> None:
    tokens = VerifiedTokens(seconds=60)
    for number in range(MAX_CACHED_TOKENS + 1):
        tokens.put(token_digest(f"t.{number}.x"), verified(str(number)))

    assert tokens.get(token_digest("t.0.x")) is None
    assert tokens.get(token_digest("t.1.x")) == verified("1")


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with run_oidc_issuer(families=("RSA",)) as running:
        yield running


@pytest.fixture(scope="module")
def server(database_url: str, issuer: OidcIssuer) -> Iterator[LiveServer]:
    settings = make_settings(
        database_url,
        oidc_issuers=trusting(issuer),
        oidc_leeway_seconds=0,
        api_key_cache_seconds=600,
    )
    with run_live_server(settings, default_key=False) as live:
        with admin_client(live) as admin:
            bind(admin, issuer, {"sub": "cached"})
        yield live


def test_a_verified_token_is_kept_and_refused_once_expired(
    server: LiveServer, issuer: OidcIssuer
) -> None:
    expires = int(time.time()) + 2
    token = issuer.token(issuer.claims(subject="cached", exp=expires))
    kept = server.app.state.identities.verified

    with httpx.Client(base_url=server.url, headers=as_token(token), timeout=30) as client:
        assert client.get("/api/v1/applications").status_code == 200
        assert kept.get(token_digest(token)) is not None
        while time.time() <= expires:
            time.sleep(0.2)
        refused = client.get("/api/v1/applications")

    assert refused.status_code == 401
    assert refused.json()["reason"] == "expired"


def test_a_refused_token_is_not_kept(server: LiveServer, issuer: OidcIssuer) -> None:
    token = issuer.token(issuer.claims(subject="cached", audience="someone-else"))

    with httpx.Client(base_url=server.url, headers=as_token(token), timeout=30) as client:
        assert client.get("/api/v1/applications").status_code == 401

    assert server.app.state.identities.verified.get(token_digest(token)) is None
