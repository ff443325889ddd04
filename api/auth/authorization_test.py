"""may_reveal: the one decision of who sees secret values in plain text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.auth.authorization import may_reveal
from api.auth.caller import Caller
from models.api_key import ApiKey, Role

APPLICATION_A = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
APPLICATION_B = "01JQ3V6KX8Q7M4Z2W9R5T1N0BD"


def key(role: Role, *, reveal: bool, applications: list[str] | None = None) -> ApiKey:
    return ApiKey(
        id="01JQ3V8C5E7G9J1M3P5S7V9X1Z",
        name="k",
        prefix="abcdefgh",
        role=role,
        applications=applications,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        expires_at=None,
        revoked_at=None,
        created_by=None,
        reveal_secrets=reveal,
    )


@pytest.mark.parametrize(
    ("caller", "application", "allowed"),
    [
        (key(Role.ADMIN, reveal=False), APPLICATION_A, False),  # admins too, only if given it
        (key(Role.ADMIN, reveal=True), APPLICATION_A, True),
        (key(Role.READ, reveal=True), APPLICATION_B, True),
        (key(Role.READ, reveal=False), APPLICATION_A, False),
        (key(Role.READ, reveal=True, applications=[APPLICATION_A]), APPLICATION_A, True),
        (key(Role.WRITE, reveal=True, applications=[APPLICATION_A]), APPLICATION_B, False),
    ],
)
def test_may_reveal(caller: ApiKey, application: str, allowed: bool) -> None:
    assert may_reveal(Caller.for_key(caller), application) is allowed
