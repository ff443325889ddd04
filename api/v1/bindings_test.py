"""Identity bindings over HTTP: create, list, get, delete, what a binding must say, and the
audit records they leave."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, unique_name
from database.pool import Database
from testing.oidc_issuer import OidcIssuer

MISSING_ID = "01JQ3V8C5E7G9J1M3P5S7V9X1Z"


def binding_body(oidc: OidcIssuer, **fields: Any) -> dict[str, Any]:
    return {
        "name": unique_name("binding"),
        "issuer": oidc.url,
        "claims": {"sub": unique_name("subject")},
        "role": "read",
        **fields,
    }


def stored_row(database: Database, binding_id: str) -> tuple[Any, ...] | None:
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, issuer, claims, role, applications, reveal_secrets "
            "FROM identity_bindings WHERE id = %(id)s",
            {"id": binding_id},
        )
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def audit_of(admin: httpx.Client, binding_id: str) -> list[tuple[str, str, str | None]]:
    records = admin.get("/api/v1/audit", params={"limit": 1000}).json()
    return [
        (record["action"], record["target_type"], record["key_name"])
        for record in records
        if record["target_id"] == binding_id
    ]


def test_a_binding_is_created_read_listed_and_deleted(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer, database: Database
) -> None:
    application = identity_admin.post("/api/v1/applications", json={"name": unique_name()}).json()
    body = binding_body(
        oidc_issuer,
        claims={"/kubernetes.io/namespace": "billing", "groups": ["ops", "sre"], "level": 3},
        role="write",
        applications=[application["id"].lower()],
        reveal_secrets=True,
    )

    created = identity_admin.post("/api/v1/bindings", json=body)

    assert created.status_code == 201, created.text
    binding = created.json()
    assert created.headers["location"] == f"/api/v1/bindings/{binding['id']}"
    assert {name: binding[name] for name in body} == {
        **body,
        "applications": [application["id"]],
    }
    assert set(binding) == {*body, "id", "created_at"}
    assert stored_row(database, binding["id"]) == (
        body["name"],
        oidc_issuer.url,
        body["claims"],
        "write",
        [application["id"]],
        True,
    )
    assert identity_admin.get(f"/api/v1/bindings/{binding['id']}").json() == binding
    listed = identity_admin.get("/api/v1/bindings", params={"limit": 1000}).json()
    assert binding in listed

    deleted = identity_admin.delete(f"/api/v1/bindings/{binding['id']}")

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert stored_row(database, binding["id"]) is None
    assert_problem(identity_admin.get(f"/api/v1/bindings/{binding['id']}"), 404)
    again = assert_problem(identity_admin.delete(f"/api/v1/bindings/{binding['id']}"), 404)
    assert again["detail"] == f"binding {binding['id']} does not exist"
    assert audit_of(identity_admin, binding["id"]) == [
        ("binding.deleted", "binding", "live server"),
        ("binding.created", "binding", "live server"),
    ]


def test_reveal_secrets_is_false_unless_given(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer
) -> None:
    created = identity_admin.post("/api/v1/bindings", json=binding_body(oidc_issuer)).json()

    assert (created["reveal_secrets"], created["applications"]) == (False, None)


def test_the_binding_list_is_paged_with_a_link(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer
) -> None:
    for _ in range(2):
        identity_admin.post("/api/v1/bindings", json=binding_body(oidc_issuer)).raise_for_status()

    first = identity_admin.get("/api/v1/bindings", params={"limit": 1})
    after = first.json()[0]["id"]
    second = identity_admin.get("/api/v1/bindings", params={"limit": 1, "after": after})

    assert len(first.json()) == 1
    assert 'rel="next"' in first.headers["link"]
    assert second.json()[0]["id"] > after


def test_an_issuer_that_is_not_trusted_is_named(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer
) -> None:
    body = binding_body(oidc_issuer, issuer=oidc_issuer.url + "/")

    problem = assert_problem(identity_admin.post("/api/v1/bindings", json=body), 422)

    assert problem["errors"] == [
        {
            "location": "body",
            "field": "issuer",
            "rule": "trusted_issuer",
            "message": f"issuer '{oidc_issuer.url}/' is not one of OIDC_ISSUERS (trusted: "
            f"'{oidc_issuer.url}'); a binding for it could never match",
        }
    ]


def test_an_application_that_does_not_exist_is_named(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer, database: Database
) -> None:
    body = binding_body(oidc_issuer, applications=[MISSING_ID])

    problem = assert_problem(
        identity_admin.post("/api/v1/bindings", json=body), 422, "application_exists"
    )

    assert problem["errors"][0]["message"] == f"application {MISSING_ID} does not exist"
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM identity_bindings WHERE name = %(name)s", {"name": body["name"]}
        )
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"claims": {}}, "claims", "too_short"),
        ({"claims": {"sub": []}}, "claims.sub", "claim_values"),
        ({"claims": {"sub": None}}, "claims.sub", "claim_value"),
        ({"claims": {"sub": 1.5}}, "claims.sub", "claim_value"),
        ({"claims": {"sub": {"a": 1}}}, "claims.sub", "claim_value"),
        ({"claims": {"sub": ["a", [1]]}}, "claims.sub", "claim_value"),
        ({"claims": {"sub": ""}}, "claims.sub", "claim_value"),
        ({"claims": {"sub": "a\u0000b"}}, "claims.sub", "claim_value"),
        ({"claims": {"sub": 2**60}}, "claims.sub", "claim_value"),
        ({"claims": {"/a~2": "x"}}, "claims./a~2.[key]", "json_pointer"),
        ({"claims": {"a\nb": "x"}}, "claims.a\nb.[key]", "claim_name"),
        ({"claims": {f"c{i}": "x" for i in range(21)}}, "claims", "too_long"),
        ({"claims": {"groups": [str(i) for i in range(101)]}}, "claims.groups", "claim_values"),
        ({"claims": {"aud": "config-service"}}, "claims", "claims_name_no_account"),
        (
            {"claims": {"iss": "x", "/aud": ["a", "b"], "exp": 1}},
            "claims",
            "claims_name_no_account",
        ),
        ({"role": "owner"}, "role", "enum"),
        ({"role": "admin", "applications": [MISSING_ID]}, "", "value_error"),
        ({"reveal_secrets": "yes"}, "reveal_secrets", "bool_type"),
        ({"issuer": ""}, "issuer", "string_too_short"),
        ({"name": " padded"}, "name", "name_format"),
        ({"subject": "alice"}, "subject", "extra_forbidden"),
    ],
)
def test_a_binding_that_breaks_a_rule_is_refused_naming_it(
    identity_admin: httpx.Client,
    oidc_issuer: OidcIssuer,
    fields: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    response = identity_admin.post("/api/v1/bindings", json=binding_body(oidc_issuer, **fields))

    problem = assert_problem(response, 422)
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (field, rule)


def test_a_claim_beside_the_issuer_wide_ones_is_enough(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer
) -> None:
    claims = {"aud": "config-service", "/sub": "alice"}
    response = identity_admin.post(
        "/api/v1/bindings", json=binding_body(oidc_issuer, claims=claims)
    )

    assert response.status_code == 201, response.text
    assert response.json()["claims"] == claims


@pytest.mark.parametrize("claims", [{"sub": "a\ud800"}, {"groups": ["ops", "\udfff"]}])
def test_a_claim_value_with_a_lone_surrogate_is_refused_naming_it(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer, claims: dict[str, Any]
) -> None:
    # Sent as JSON escapes: a lone surrogate cannot be encoded as UTF-8.
    body = json.dumps(binding_body(oidc_issuer, claims=claims))

    response = identity_admin.post(
        "/api/v1/bindings", content=body, headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422)
    [name] = claims
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (
        f"claims.{name}",
        "claim_value",
    )


def test_claim_values_keep_their_json_types(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer
) -> None:
    claims = {"email_verified": True, "level": 3, "sub": "3", "groups": [True, 1, "1"]}

    created = identity_admin.post("/api/v1/bindings", json=binding_body(oidc_issuer, claims=claims))

    assert created.status_code == 201, created.text
    assert created.json()["claims"] == claims
    assert [type(value) for value in created.json()["claims"]["groups"]] == [bool, int, str]


@pytest.mark.parametrize("binding_id", ["nope", "01JQ3V8C5E7G9J1M3P5S7V9X1Z0"])
def test_a_binding_id_must_be_a_ulid(identity_admin: httpx.Client, binding_id: str) -> None:
    assert_problem(identity_admin.get(f"/api/v1/bindings/{binding_id}"), 422)
    assert_problem(identity_admin.delete(f"/api/v1/bindings/{binding_id}"), 422)
