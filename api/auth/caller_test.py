"""Callers as authorization sees them: one grant for a key, the union of bindings for an
identity, and who may see secret values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.auth.authorization import may_reveal
from api.auth.caller import Caller, Grant
from identity.token_verifier import VerifiedToken
from models.api_key import ApiKey, Role
from models.identity_binding import Binding

A, B, C = "01JQ3V6KX8Q7M4Z2W9R5T1N0BA", "01JQ3V6KX8Q7M4Z2W9R5T1N0BB", "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
IDENTITY = VerifiedToken(
    issuer="https://id.example", subject="alice", claims={"sub": "alice"}, expires_at=NOW
)


def key(role: Role, applications: list[str] | None = None) -> ApiKey:
    return ApiKey(
        id="01JQ3V8C5E7G9J1M3P5S7V9X1Z",
        name="k",
        prefix="k7d2m4qx",
        role=role,
        applications=applications,
        created_at=NOW,
        expires_at=None,
        revoked_at=None,
        created_by=None,
        reveal_secrets=False,
    )


def binding(
    binding_id: str, role: Role, applications: list[str] | None = None, **fields: Any
) -> Binding:
    return Binding(
        id=binding_id,
        name="b",
        issuer=IDENTITY.issuer,
        claims={"sub": "alice"},
        role=role,
        applications=applications,
        reveal_secrets=fields.get("reveal_secrets", False),
        created_at=NOW,
    )


def identity(*bindings: Binding) -> Caller:
    return Caller.for_identity(IDENTITY, bindings)


def test_a_key_is_one_grant() -> None:
    caller = Caller.for_key(key(Role.WRITE, [A]))

    assert caller.grants == (Grant(Role.WRITE, frozenset({A}), False),)
    assert (caller.role_on(A), caller.role_on(B), caller.highest_role) == (
        Role.WRITE,
        None,
        Role.WRITE,
    )
    assert (caller.scope(), caller.scope(Role.WRITE), caller.scope(Role.ADMIN)) == (
        frozenset({A}),
        frozenset({A}),
        frozenset(),
    )
    assert caller.describe() == "the API key k7d2m4qx"
    assert caller.log_fields() == {"key_id": "01JQ3V8C5E7G9J1M3P5S7V9X1Z"}


def test_an_unscoped_key_has_the_same_role_everywhere() -> None:
    caller = Caller.for_key(key(Role.READ))

    assert (caller.same_role_everywhere, caller.role_on(C), caller.scope()) == (
        True,
        Role.READ,
        None,
    )
    assert caller.is_admin is False


def test_an_identity_gets_the_highest_role_its_bindings_give_on_each_application() -> None:
    caller = identity(
        binding("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.READ),
        binding("01JQ3VA1B3C5D7E9F1G3H5J7K2", Role.WRITE, [A]),
    )

    assert (caller.role_on(A), caller.role_on(B)) == (Role.WRITE, Role.READ)
    assert (caller.highest_role, caller.role_everywhere) == (Role.WRITE, Role.READ)
    assert caller.same_role_everywhere is False
    assert (caller.scope(), caller.scope(Role.WRITE)) == (None, frozenset({A}))
    assert caller.binding_ids == ("01JQ3VA1B3C5D7E9F1G3H5J7K1", "01JQ3VA1B3C5D7E9F1G3H5J7K2")
    assert caller.describe() == "the identity 'alice' of https://id.example"
    assert caller.log_fields() == {
        "issuer": "https://id.example",
        "subject": "alice",
        "binding_ids": ["01JQ3VA1B3C5D7E9F1G3H5J7K1", "01JQ3VA1B3C5D7E9F1G3H5J7K2"],
    }


def test_scoped_bindings_add_up() -> None:
    caller = identity(
        binding("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.READ, [A]),
        binding("01JQ3VA1B3C5D7E9F1G3H5J7K2", Role.READ, [B]),
    )

    assert (caller.reaches(A), caller.reaches(B), caller.reaches(C)) == (True, True, False)
    assert caller.scope() == frozenset({A, B})
    assert caller.role_everywhere is None


def test_an_admin_binding_makes_an_admin() -> None:
    caller = identity(binding("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.ADMIN))

    assert (caller.is_admin, caller.same_role_everywhere, caller.role_on(C)) == (
        True,
        True,
        Role.ADMIN,
    )


@pytest.mark.parametrize(
    ("bindings", "revealed"),
    [
        ((), {A: False, B: False}),
        ((("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.ADMIN, None, False),), {A: False, B: False}),
        ((("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.READ, [A], True),), {A: True, B: False}),
        (
            (
                ("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.READ, [A], True),
                ("01JQ3VA1B3C5D7E9F1G3H5J7K2", Role.WRITE, None, False),
            ),
            {A: True, B: False},
        ),
        ((("01JQ3VA1B3C5D7E9F1G3H5J7K1", Role.READ, None, True),), {A: True, B: True}),
    ],
)
def test_an_identity_may_reveal_only_through_a_binding_that_says_so_and_reaches(
    bindings: tuple[tuple[str, Role, list[str] | None, bool], ...], revealed: dict[str, bool]
) -> None:
    caller = identity(
        *(
            binding(binding_id, role, applications, reveal_secrets=reveal)
            for binding_id, role, applications, reveal in bindings
        )
    )

    assert {application: may_reveal(caller, application) for application in revealed} == revealed


def test_a_key_reveals_nothing_until_keys_carry_reveal_secrets() -> None:
    assert Caller.for_key(key(Role.ADMIN)).may_reveal(A) is False
