"""Claim matching: exact values, lists, JSON Pointers, and claims of the wrong type."""

from __future__ import annotations

from typing import Any

import pytest

from identity.claim_matching import ClaimRule
from models.identity_binding import parse_json_pointer

KUBERNETES_CLAIMS = {
    "iss": "https://kubernetes.default.svc",
    "sub": "system:serviceaccount:billing:deployer",
    "aud": ["config-service"],
    "kubernetes.io": {
        "namespace": "billing",
        "serviceaccount": {"name": "deployer", "uid": "4c1e"},
        "pod": {"name": "deployer-7d9"},
    },
}
KEYCLOAK_CLAIMS = {
    "sub": "f6a1",
    "groups": ["ops", "sre"],
    "realm_access": {"roles": ["admin", "user"]},
    "email_verified": True,
    "level": 3,
    "a/b": "slash",
    "m~n": "tilde",
}


@pytest.mark.parametrize(
    ("pointer", "parts"),
    [
        ("/a", ["a"]),
        ("/kubernetes.io/namespace", ["kubernetes.io", "namespace"]),
        ("/a~1b", ["a/b"]),
        ("/m~0n", ["m~n"]),
        ("/~01", ["~1"]),
        ("/", [""]),
        ("/a//b", ["a", "", "b"]),
    ],
)
def test_a_json_pointer_is_read_as_rfc_6901_says(pointer: str, parts: list[str]) -> None:
    assert parse_json_pointer(pointer) == parts


@pytest.mark.parametrize("pointer", ["a", "", "/a~", "/a~2", "/~~1"])
def test_what_is_no_json_pointer_is_none(pointer: str) -> None:
    assert parse_json_pointer(pointer) is None


@pytest.mark.parametrize(
    ("wanted", "claims"),
    [
        ({"sub": "f6a1"}, KEYCLOAK_CLAIMS),
        ({"sub": ["someone", "f6a1"]}, KEYCLOAK_CLAIMS),
        ({"groups": "sre"}, KEYCLOAK_CLAIMS),
        ({"groups": ["admins", "ops"]}, KEYCLOAK_CLAIMS),
        ({"/realm_access/roles": "admin"}, KEYCLOAK_CLAIMS),
        ({"/realm_access/roles/1": "user"}, KEYCLOAK_CLAIMS),
        ({"email_verified": True}, KEYCLOAK_CLAIMS),
        ({"level": [1, 2, 3]}, KEYCLOAK_CLAIMS),
        ({"a/b": "slash"}, KEYCLOAK_CLAIMS),
        ({"/a~1b": "slash"}, KEYCLOAK_CLAIMS),
        ({"/m~0n": "tilde"}, KEYCLOAK_CLAIMS),
        ({"sub": "f6a1", "groups": "ops", "email_verified": True}, KEYCLOAK_CLAIMS),
        ({"/kubernetes.io/namespace": "billing"}, KUBERNETES_CLAIMS),
        ({"/kubernetes.io/serviceaccount/name": ["deployer", "x"]}, KUBERNETES_CLAIMS),
        ({"aud": "config-service"}, KUBERNETES_CLAIMS),
    ],
)
def test_a_rule_matches_when_every_named_claim_holds(
    wanted: dict[str, Any], claims: dict[str, Any]
) -> None:
    assert ClaimRule.compile(wanted).matches(claims) is True


@pytest.mark.parametrize(
    "wanted",
    [
        {"sub": "F6A1"},  # exact: no case folding
        {"sub": "f6a1 "},
        {"sub": "f6a1", "groups": "devs"},  # every claim must hold
        {"groups": []},  # no accepted value: nothing matches
        {"missing": "x"},
        {"/missing/deeper": "x"},
        {"/realm_access/roles/2": "admin"},  # past the end of the list
        {"/realm_access/roles/01": "user"},  # a leading zero is no index
        {"/realm_access/roles/-": "user"},
        {"/realm_access/roles/¹": "user"},  # a Unicode digit is no index
        {"/realm_access/roles/99999999999999999999": "user"},
        {"/groups/name": "ops"},  # a list has no members
        {"/sub/0": "f"},  # a string has no items
        {"email_verified": 1},  # true is not 1
        {"email_verified": "true"},
        {"level": True},
        {"level": "3"},
        {"realm_access": "admin"},  # an object is no value
        {"/realm_access": ["admin"]},
        {"a": "slash"},  # a plain name is not split at "/"
    ],
)
def test_a_rule_does_not_match_otherwise(wanted: dict[str, Any]) -> None:
    assert ClaimRule.compile(wanted).matches(KEYCLOAK_CLAIMS) is False


@pytest.mark.parametrize(
    "value",
    [
        None,
        3.0,
        {"ops": True},
        [["ops"]],
        [{"name": "ops"}],
        [None, 1.5],
        "ops,sre",
        "",
    ],
)
def test_claims_of_the_wrong_type_never_match_and_never_raise(value: Any) -> None:
    rule = ClaimRule.compile({"groups": ["ops", "sre"], "/nested/groups": "ops"})

    assert rule.matches({"groups": value, "nested": {"groups": value}}) is False
    assert rule.matches({"groups": value, "nested": value}) is False


def test_a_string_where_a_list_was_expected_matches_only_as_a_whole() -> None:
    rule = ClaimRule.compile({"groups": "ops"})

    assert (rule.matches({"groups": "ops"}), rule.matches({"groups": "ops sre"})) == (True, False)


def test_a_rule_with_no_claims_matches_nothing() -> None:
    assert ClaimRule.compile({}).matches(KEYCLOAK_CLAIMS) is False


def test_a_long_list_in_a_token_is_read_once() -> None:
    rule = ClaimRule.compile({"groups": [f"team-{index}" for index in range(100)]})
    groups = [f"other-{index}" for index in range(100_000)] + ["team-99"]

    assert rule.matches({"groups": groups}) is True


def test_a_name_that_is_no_json_pointer_is_refused_when_compiled() -> None:
    with pytest.raises(ValueError, match=r"^claim '/a~b' is no JSON Pointer: '~' must be fol"):
        ClaimRule.compile({"/a~b": "x"})
