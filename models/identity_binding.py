"""Identity bindings: which verified token identities get which role, on which applications.

A binding names a trusted issuer and claims a token must carry (`{"sub": "alice"}`,
`{"groups": ["ops", "sre"]}`, `{"/kubernetes.io/namespace": "billing"}`), and grants a role
as an API key does. A claim name that starts with `/` is a JSON Pointer (RFC 6901) into the
token's claims; any other name is a top-level claim. Values are strings, integers or booleans.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from models.api_key import MAX_SCOPED_APPLICATIONS, Role
from models.base import ApiModel, InputModel
from models.fields import EXAMPLE_APPLICATION_ID, ApplicationId, Name

EXAMPLE_BINDING_ID = "01JQ3VA1B3C5D7E9F1G3H5J7K9"
EXAMPLE_ISSUER = "https://token.actions.githubusercontent.com"
_EXAMPLE_TIME = "2026-11-23T09:30:00.123456Z"
_EXAMPLE_CLAIMS = {"repository": "acme/billing", "ref": ["refs/heads/main"]}
MAX_CLAIMS = 20
MAX_CLAIM_VALUES = 100
MAX_CLAIM_TEXT = 1024
# JSON numbers that every JSON parser reads exactly.
MAX_CLAIM_INTEGER = 2**53 - 1
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
# What PostgreSQL cannot store: pydantic refuses lone surrogates in str fields, but a claim
# value is read by a plain validator.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def parse_json_pointer(pointer: str) -> list[str] | None:
    """The reference tokens of `pointer` ("/a/b~1c" -> ["a", "b/c"]); None when it is no JSON
    Pointer (it must start with "/", and "~" must be followed by "0" or "1")."""
    if not pointer.startswith("/"):
        return None
    parts = pointer[1:].split("/")
    for part in parts:
        if part.count("~") != part.count("~0") + part.count("~1"):
            return None
    return [part.replace("~1", "/").replace("~0", "~") for part in parts]


def _check_claim_name(value: str) -> str:
    if _CONTROL_CHARACTER.search(value):
        raise PydanticCustomError("claim_name", "must not contain control characters")
    if value.startswith("/") and parse_json_pointer(value) is None:
        raise PydanticCustomError(
            "json_pointer",
            "a claim name starting with / is a JSON Pointer: '~' must be followed by 0 or 1 "
            "(got {value})",
            {"value": repr(value[:40])},
        )
    return value


def _check_claim_value(value: object) -> ClaimValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -MAX_CLAIM_INTEGER <= value <= MAX_CLAIM_INTEGER:
            raise PydanticCustomError(
                "claim_value", "an integer value must be within ±(2**53 - 1), as JSON keeps it"
            )
        return value
    if isinstance(value, str):
        if not 1 <= len(value) <= MAX_CLAIM_TEXT or _UNSTORABLE_CHARACTER.search(value):
            raise PydanticCustomError(
                "claim_value",
                "a string value must have 1 to {limit} characters, none of them NUL (U+0000) "
                "or a lone surrogate",
                {"limit": MAX_CLAIM_TEXT},
            )
        return value
    raise PydanticCustomError(
        "claim_value",
        "must be a string, an integer or a boolean, or a list of them (got {kind})",
        {"kind": type(value).__name__.replace("NoneType", "null").replace("dict", "object")},
    )


def _check_claim_values(value: object) -> ClaimValue | list[ClaimValue]:
    """One value or a non-empty list of them; one error naming the rule (a union of types
    would report every member's refusal instead)."""
    if not isinstance(value, list):
        return _check_claim_value(value)
    if not 1 <= len(value) <= MAX_CLAIM_VALUES:
        raise PydanticCustomError(
            "claim_values",
            "a list of values must hold 1 to {limit} of them (got {count}); an empty one would "
            "match nothing",
            {"limit": MAX_CLAIM_VALUES, "count": len(value)},
        )
    return [_check_claim_value(item) for item in value]


# Claims that verification already pins for every token of an issuer (`iss`, `aud`) or that
# say only when a token is valid: a binding on these alone would let in every account.
ISSUER_WIDE_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})


def _check_claims_name_an_account(value: dict[str, Any]) -> dict[str, Any]:
    def top_level(name: str) -> str:
        pointer = parse_json_pointer(name)
        return pointer[0] if pointer is not None and len(pointer) == 1 else name

    if value and all(top_level(name) in ISSUER_WIDE_CLAIMS for name in value):
        raise PydanticCustomError(
            "claims_name_no_account",
            "must name at least one claim besides {pinned}: those hold for every token of the "
            "issuer, so a binding on them alone would let in every account",
            {"pinned": ", ".join(sorted(ISSUER_WIDE_CLAIMS))},
        )
    return value


ClaimValue = bool | int | str
_VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[^\\u0000]*$"},
        {"type": "integer", "minimum": -MAX_CLAIM_INTEGER, "maximum": MAX_CLAIM_INTEGER},
        {"type": "boolean"},
    ]
}
ClaimName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description="A top-level claim, or a JSON Pointer into the claims when it starts with /.",
    ),
    AfterValidator(_check_claim_name),
]
ClaimValues = Annotated[
    ClaimValue | list[ClaimValue],
    PlainValidator(_check_claim_values),
    WithJsonSchema(
        {
            "anyOf": [
                _VALUE_SCHEMA,
                {"type": "array", "items": _VALUE_SCHEMA, "minItems": 1, "maxItems": 100},
            ]
        }
    ),
]
Claims = Annotated[
    dict[ClaimName, ClaimValues],
    Field(
        min_length=1,
        max_length=MAX_CLAIMS,
        description="Claims a token must carry, each with the value (or any of the values) it "
        "must have; where the token's claim is a list, it must hold one of them. Every claim "
        "named must match. At least one: a binding on the issuer alone would let in every "
        "account of a shared provider; and at least one besides iss, aud, exp, nbf, iat and "
        "jti, which hold for every token of the issuer.",
        examples=[_EXAMPLE_CLAIMS],
    ),
    AfterValidator(_check_claims_name_an_account),
]


class BindingCreate(InputModel):
    name: Name = Field(description="For people: who or what it lets in.", examples=["billing CI"])
    issuer: str = Field(
        min_length=1,
        max_length=2048,
        description="One of the issuers in OIDC_ISSUERS, exactly as written there.",
        examples=[EXAMPLE_ISSUER],
    )
    claims: Claims
    # Not strict: JSON has no enums, only their strings.
    role: Role = Field(strict=False, examples=["read"])
    applications: (
        Annotated[list[ApplicationId], Field(max_length=MAX_SCOPED_APPLICATIONS)] | None
    ) = Field(
        default=None,
        description="Application ids the binding reaches; null or left out: every application. "
        "Must be null for admin.",
        examples=[[EXAMPLE_APPLICATION_ID]],
    )
    reveal_secrets: bool = Field(
        default=False,
        description="Whether identities let in by this binding see secret values in plain "
        "text on the applications it reaches (as for API keys).",
    )

    @model_validator(mode="after")
    def _admin_reaches_everything(self) -> BindingCreate:
        if self.role is Role.ADMIN and self.applications is not None:
            raise ValueError("applications must be null for an admin binding (admin reaches all)")
        return self


class Binding(ApiModel):
    id: str = Field(examples=[EXAMPLE_BINDING_ID])
    name: str = Field(examples=["billing CI"])
    issuer: str = Field(examples=[EXAMPLE_ISSUER])
    claims: dict[str, ClaimValue | list[ClaimValue]] = Field(examples=[_EXAMPLE_CLAIMS])
    role: Role
    applications: list[str] | None = Field(
        description="The application ids this binding reaches; null: every application.",
        examples=[[EXAMPLE_APPLICATION_ID]],
    )
    reveal_secrets: bool = Field(examples=[False])
    created_at: datetime = Field(examples=[_EXAMPLE_TIME])
