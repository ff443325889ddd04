"""The problems of secret values, from the one handler table: a 422 naming SECRETS_KEYS when
there is no key to seal with, a 503 naming the key id when a stored value does not open."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from api.problems.handlers import install_problem_handlers
from services.secret_values.errors import (
    SecretKeyUnavailable,
    SecretsKeysNotSet,
    SecretUndecryptable,
    SecretValueError,
)

CONFIGURATION = "01JQ3V7B2D4F6H8K0M2P4R6T8V"


def answer_to(error: SecretValueError) -> httpx.Response:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.get("/fails")

    return asyncio.run(call())


def test_no_key_to_seal_with_is_a_422_naming_the_setting() -> None:
    response = answer_to(SecretsKeysNotSet())

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["rule"], error["pointer"]) == (
        "secrets",
        "secrets_keys_not_set",
        "/secrets",
    )
    assert "set SECRETS_KEYS" in error["message"]


@pytest.mark.parametrize(
    ("error", "key_id", "detail"),
    [
        (
            SecretKeyUnavailable(key_id="k0", configuration_id=CONFIGURATION),
            "k0",
            "is encrypted under the key 'k0', which SECRETS_KEYS does not list",
        ),
        (
            SecretUndecryptable(key_id=None, configuration_id=CONFIGURATION, location="/a"),
            None,
            "the secret at /a of configuration 01JQ3V7B2D4F6H8K0M2P4R6T8V does not decrypt with "
            "an unreadable key id of SECRETS_KEYS",
        ),
    ],
)
def test_a_value_that_does_not_open_is_a_503_naming_the_key(
    error: SecretValueError, key_id: str | None, detail: str
) -> None:
    response = answer_to(error)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    problem = response.json()
    assert problem["type"] == "urn:config-service:problem:secrets-key-unavailable"
    assert problem["title"] == "Secret values cannot be decrypted"
    assert problem["key_id"] == key_id
    assert detail in problem["detail"]
