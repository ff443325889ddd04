"""Fetching keys from a real issuer over HTTP: discovery, jwks_uri, files, and every bound."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from identity.key_fetcher import KeyFetcher, KeyFetchFailed, discovery_url
from identity.key_set import KeySet
from identity.trusted_issuers import TrustedIssuer
from testing.oidc_issuer import (
    DISCOVERY_PATH,
    JWKS_PATH,
    CannedResponse,
    OidcIssuer,
    run_oidc_issuer,
)


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with run_oidc_issuer(families=("RSA", "P-256")) as running:
        yield running


def trusted(issuer: OidcIssuer, **members: Any) -> TrustedIssuer:
    return TrustedIssuer(issuer=issuer.url, audiences=["config-service"], **members)


def fetch(entry: TrustedIssuer, **options: Any) -> KeySet:
    async def scenario() -> KeySet:
        fetcher = KeyFetcher(**options)
        try:
            return await fetcher.fetch(entry)
        finally:
            await fetcher.aclose()

    return asyncio.run(scenario())


def failure(entry: TrustedIssuer, **options: Any) -> str:
    with pytest.raises(KeyFetchFailed) as raised:
        fetch(entry, **options)
    return str(raised.value)


def published_kids(issuer: OidcIssuer) -> list[str]:
    return [key["kid"] for key in issuer.jwks()["keys"]]


def test_discovery_finds_the_jwks(issuer: OidcIssuer) -> None:
    key_set = fetch(trusted(issuer))

    assert key_set.key_ids == published_kids(issuer)
    assert dict(issuer.requests) == {DISCOVERY_PATH: 1, JWKS_PATH: 1}


def test_an_explicit_jwks_uri_needs_no_discovery(issuer: OidcIssuer) -> None:
    key_set = fetch(trusted(issuer, jwks_uri=issuer.url + JWKS_PATH))

    assert key_set.key_ids == published_kids(issuer)
    assert dict(issuer.requests) == {JWKS_PATH: 1}


def test_a_jwks_file_is_read_again_at_every_fetch(tmp_path: Path) -> None:
    first, second = OidcIssuer(families=("P-256",)), OidcIssuer(families=("Ed25519",))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(first.jwks()), encoding="utf-8")
    entry = TrustedIssuer(issuer="https://k8s.example", audiences=["a"], jwks_file=path)

    assert fetch(entry).key_ids == [first.key("ES256").kid]
    path.write_text(json.dumps(second.jwks()), encoding="utf-8")
    assert fetch(entry).key_ids == [second.key("EdDSA").kid]
    path.write_text("{", encoding="utf-8")
    assert failure(entry) == (
        f"jwks_file '{path}' is not JSON (a JWKS is a JSON object with a `keys` list)"
    )


def test_the_discovery_url_is_the_issuer_with_the_well_known_path() -> None:
    assert (discovery_url("https://a.example/realms/x"), discovery_url("https://a.example/")) == (
        "https://a.example/realms/x/.well-known/openid-configuration",
        "https://a.example/.well-known/openid-configuration",
    )


def discovery(issuer: OidcIssuer, **document: Any) -> CannedResponse:
    return CannedResponse(200, json.dumps(document).encode())


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            {"issuer": "https://elsewhere.example", "jwks_uri": "https://x/jwks"},
            "names another issuer: it must be exactly '{url}'",
        ),
        ({"issuer": "{url}"}, "has no jwks_uri"),
        (
            {"issuer": "{url}", "jwks_uri": "http://keys.example.com/jwks"},
            ": jwks_uri must be an https:// URL (http:// only for localhost or 127.0.0.1)",
        ),
        (["{url}"], "is not a JSON object"),
    ],
)
def test_a_discovery_document_that_cannot_be_trusted_fails(
    issuer: OidcIssuer, document: Any, problem: str
) -> None:
    text = json.dumps(document).replace("{url}", issuer.url)
    issuer.answer(DISCOVERY_PATH, CannedResponse(200, text.encode()))

    message = failure(trusted(issuer))

    assert message == (
        f"the discovery document at {issuer.url}{DISCOVERY_PATH} "
        + problem.replace("{url}", issuer.url)
    ).replace(" :", ":")
    assert issuer.requests[JWKS_PATH] == 0


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (CannedResponse(503, b"{}"), "answered 503"),
        (CannedResponse(404, b"{}"), "answered 404"),
        (
            CannedResponse(302, b"", (("Location", "https://evil.example/jwks"),)),
            "answered 302 (redirects are not followed)",
        ),
        (CannedResponse(200, b"<html>"), "did not answer JSON"),
        (CannedResponse(200, b"[" * 1020), "did not answer JSON"),
        (CannedResponse(200, b" " * 2048), "sent more than 1024 bytes"),
        (CannedResponse(200, b" " * 2048, send_length=False), "sent more than 1024 bytes"),
    ],
)
def test_a_jwks_answer_that_is_no_jwks_fails(
    issuer: OidcIssuer, response: CannedResponse, problem: str
) -> None:
    issuer.answer(JWKS_PATH, response)

    message = failure(trusted(issuer, jwks_uri=issuer.url + JWKS_PATH), max_bytes=1024)

    assert message == f"{issuer.url}{JWKS_PATH} {problem}"


def test_a_jwks_without_usable_keys_fails(issuer: OidcIssuer) -> None:
    issuer.answer(JWKS_PATH, CannedResponse(200, b'{"keys": []}'))

    message = failure(trusted(issuer))

    assert message == (
        f"the JWKS at {issuer.url}{JWKS_PATH} holds no usable signing key (the list is empty)"
    )


def test_a_provider_that_is_down_fails(issuer: OidcIssuer) -> None:
    issuer.go_down()

    assert failure(trusted(issuer)) == f"{issuer.url}{DISCOVERY_PATH} answered 503"


def test_a_provider_nobody_listens_for_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    entry = TrustedIssuer(issuer=f"http://127.0.0.1:{port}", audiences=["a"])

    message = failure(entry)

    assert message.startswith(f"http://127.0.0.1:{port}{DISCOVERY_PATH} could not be fetched: ")


def test_a_provider_that_does_not_answer_in_time_fails(issuer: OidcIssuer) -> None:
    issuer.answer(JWKS_PATH, CannedResponse(200, b"{}", delay_seconds=1.0))

    message = failure(trusted(issuer, jwks_uri=issuer.url + JWKS_PATH), timeout_seconds=0.2)

    assert message.startswith(f"{issuer.url}{JWKS_PATH} could not be fetched: ")


def test_a_provider_that_drips_its_answer_is_cut_off_as_a_whole(issuer: OidcIssuer) -> None:
    body = json.dumps(issuer.jwks()).encode()
    issuer.answer(JWKS_PATH, CannedResponse(200, body, pieces=6, piece_delay_seconds=0.1))

    message = failure(trusted(issuer, jwks_uri=issuer.url + JWKS_PATH), timeout_seconds=0.15)

    assert message == f"fetching the keys of {issuer.url} took longer than 0.3 s"
