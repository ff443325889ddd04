"""Reads authorized by an identity token: a binding that lets the benchmark's identity read
every application, and waiting until the service has its issuer's keys."""

from __future__ import annotations

import time

from benchmarks.server import Server
from testing.oidc_issuer import OidcIssuer

IDENTITY_SUBJECT = "benchmark-reader"
KEYS_WITHIN_SECONDS = 30


def wait_for_token(server: Server, path: str, token: str) -> None:
    """The service fetches the issuer's keys in the background: until then tokens get 401."""
    deadline = time.monotonic() + KEYS_WITHIN_SECONDS
    with server.client() as client:
        while True:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 200:  # noqa: PLR2004
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"a read with the identity token answered {response.text}")
            time.sleep(0.1)


def bind_token(server: Server, issuer: OidcIssuer) -> None:
    """A binding that lets the benchmark's identity read every application."""
    with server.client() as client:
        response = client.post(
            "/api/v1/bindings",
            json={
                "name": "benchmark reader",
                "issuer": issuer.url,
                "claims": {"sub": IDENTITY_SUBJECT},
                "role": "read",
                "applications": None,
            },
        )
    if response.status_code != 201:  # noqa: PLR2004
        raise RuntimeError(f"creating the binding answered {response.status_code}: {response.text}")
