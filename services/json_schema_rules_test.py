"""JSON Schema rules for configurations: the schema itself, its references, and configs."""

from __future__ import annotations

from typing import Any

import pytest

from services.errors import FieldProblem
from services.json_schema_rules import MAX_REPORTED_ERRORS, config_problems, schema_problems
from services.secret_values.locations import SecretLocations


@pytest.mark.parametrize(
    ("schema", "pointer", "message"),
    [
        (
            {"type": 5},
            "/schema/type",
            "not a valid JSON Schema (2020-12): 5 is not valid under any of the given schemas",
        ),
        (
            {"properties": {"port": {"minimum": "ten"}}},
            "/schema/properties/port/minimum",
            "not a valid JSON Schema (2020-12): 'ten' is not of type 'number'",
        ),
        (
            {"required": "name"},
            "/schema/required",
            "not a valid JSON Schema (2020-12): 'name' is not of type 'array'",
        ),
    ],
)
def test_an_invalid_schema_is_named_with_its_pointer(
    schema: dict[str, Any], pointer: str, message: str
) -> None:
    assert schema_problems(schema) == [
        FieldProblem(
            field=pointer.lstrip("/").replace("/", "."),
            rule="json_schema_invalid",
            message=message,
            pointer=pointer,
        )
    ]


def test_remote_references_are_refused_each_with_its_pointer() -> None:
    schema = {
        "properties": {"a": {"$ref": "https://example.com/a.json"}},
        "$defs": {
            "meta": {"$dynamicRef": "other.json#meta"},
            "relative": {"prefixItems": [{"$ref": "b.json"}]},
        },
    }

    assert schema_problems(schema) == [
        FieldProblem(
            field="schema.$defs.meta.$dynamicRef",
            rule="json_schema_remote_ref",
            message="only local references (starting with #) are allowed; got 'other.json#meta'",
            pointer="/schema/$defs/meta/$dynamicRef",
        ),
        FieldProblem(
            field="schema.$defs.relative.prefixItems.0.$ref",
            rule="json_schema_remote_ref",
            message="only local references (starting with #) are allowed; got 'b.json'",
            pointer="/schema/$defs/relative/prefixItems/0/$ref",
        ),
        FieldProblem(
            field="schema.properties.a.$ref",
            rule="json_schema_remote_ref",
            message="only local references (starting with #) are allowed; "
            "got 'https://example.com/a.json'",
            pointer="/schema/properties/a/$ref",
        ),
    ]


def test_a_pointer_escapes_slash_and_tilde_in_keys() -> None:
    problems = schema_problems({"properties": {"a/b~c": {"$ref": "x.json"}}})
    assert [problem.pointer for problem in problems] == ["/schema/properties/a~1b~0c/$ref"]


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/port", "$defs": {"port": {"type": "integer"}}},
        {"$defs": {"node": {"$anchor": "node", "type": "object"}}, "$ref": "#node"},
        {"$dynamicAnchor": "meta", "properties": {"child": {"$dynamicRef": "#meta"}}},
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {},
    ],
)
def test_valid_schemas_with_local_references_have_no_problems(schema: dict[str, Any]) -> None:
    assert schema_problems(schema) == []


def test_a_local_reference_is_followed_when_validating() -> None:
    schema = {
        "properties": {"port": {"$ref": "#/$defs/port"}},
        "$defs": {"port": {"type": "integer"}},
    }
    assert config_problems({"port": 8080}, schema) == []
    assert config_problems({"port": "8080"}, schema) == [
        FieldProblem(
            field="config.port",
            rule="json_schema",
            message="'8080' is not of type 'integer' (schema rule /properties/port/type)",
            pointer="/config/port",
        )
    ]


def test_every_violation_is_listed_sorted_by_pointer() -> None:
    schema = {
        "type": "object",
        "required": ["z"],
        "properties": {
            "b": {"type": "string"},
            "a": {"type": "integer", "minimum": 10},
            "c": {"properties": {"d": {"enum": ["x", "y"]}}},
        },
    }
    config = {"b": 2, "a": 1.5, "c": {"d": "q"}}

    assert config_problems(config, schema) == [
        FieldProblem(
            field="config",
            rule="json_schema",
            message="'z' is a required property (schema rule /required)",
            pointer="/config",
        ),
        FieldProblem(
            field="config.a",
            rule="json_schema",
            message="1.5 is less than the minimum of 10 (schema rule /properties/a/minimum)",
            pointer="/config/a",
        ),
        FieldProblem(
            field="config.a",
            rule="json_schema",
            message="1.5 is not of type 'integer' (schema rule /properties/a/type)",
            pointer="/config/a",
        ),
        FieldProblem(
            field="config.b",
            rule="json_schema",
            message="2 is not of type 'string' (schema rule /properties/b/type)",
            pointer="/config/b",
        ),
        FieldProblem(
            field="config.c.d",
            rule="json_schema",
            message="'q' is not one of ['x', 'y'] (schema rule /properties/c/properties/d/enum)",
            pointer="/config/c/d",
        ),
    ]


def test_array_items_are_named_by_index() -> None:
    problems = config_problems(
        {"hosts": ["a", 1, "b", 2]}, {"properties": {"hosts": {"items": {"type": "string"}}}}
    )
    assert [problem.pointer for problem in problems] == ["/config/hosts/1", "/config/hosts/3"]


def test_at_most_max_reported_errors_are_listed() -> None:
    config = {f"key{index:03}": index for index in range(MAX_REPORTED_ERRORS + 10)}
    problems = config_problems(config, {"additionalProperties": {"type": "string"}})
    assert len(problems) == MAX_REPORTED_ERRORS
    assert problems[0].pointer == "/config/key000"
    assert problems[-1].pointer == f"/config/key{MAX_REPORTED_ERRORS - 1:03}"


def test_a_config_that_satisfies_the_schema_has_no_problems() -> None:
    assert config_problems({"a": 1}, {"properties": {"a": {"type": "integer"}}}) == []


def test_an_unresolvable_local_reference_is_a_schema_problem() -> None:
    assert config_problems({"a": 1}, {"$ref": "#/$defs/missing"}) == [
        FieldProblem(
            field="schema",
            rule="json_schema_unresolvable_ref",
            message="a $ref of the schema cannot be resolved: PointerToNowhere: "
            "'/$defs/missing' does not exist within {'$ref': '#/$defs/missing'}",
            pointer="/schema",
        )
    ]


@pytest.mark.parametrize("schema", [{"$ref": "#"}, {"allOf": [{"$ref": "#"}]}])
def test_a_reference_cycle_that_consumes_nothing_is_a_schema_problem(
    schema: dict[str, Any],
) -> None:
    problems = config_problems({"a": 1}, schema)
    assert [(problem.rule, problem.pointer) for problem in problems] == [
        ("json_schema_recursive_ref", "/schema")
    ]


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ("192.168.0.1", []),
        ("1.2.3", ["'1.2.3' is not a 'ipv4' (schema rule /properties/address/format)"]),
        ("::1", ["'::1' is not a 'ipv4' (schema rule /properties/address/format)"]),
    ],
)
def test_formats_are_checked(value: str, problems: list[str]) -> None:
    schema = {"properties": {"address": {"type": "string", "format": "ipv4"}}}
    found = config_problems({"address": value}, schema)
    assert [problem.message for problem in found] == problems
    assert [problem.pointer for problem in found] == ["/config/address"] * len(problems)


def test_a_long_message_is_shortened() -> None:
    value = "x" * 500
    [problem] = config_problems({"a": value}, {"properties": {"a": {"maxLength": 1}}})
    assert len(problem.message) == 300
    assert problem.message.endswith("…")
    assert problem.message.startswith(f"'{value[:50]}")


SECRET_CONFIG: dict[str, Any] = {
    "database": {"host": "db", "password": "canary-pw"},
    "credentials": {"user": "canary-user", "token": "canary-token"},
}


def secret_problems(schema: dict[str, Any]) -> list[FieldProblem]:
    locations = SecretLocations.of(["/database/password", "/credentials"])
    return config_problems(SECRET_CONFIG, schema, secrets=locations)


def test_a_broken_rule_at_a_secret_is_told_at_it_without_the_value() -> None:
    schema = {"properties": {"database": {"properties": {"password": {"minLength": 40}}}}}

    assert secret_problems(schema) == [
        FieldProblem(
            field="config.database.password",
            rule="json_schema",
            message="the secret value breaks the schema rule "
            "/properties/database/properties/password/minLength (it is not shown)",
            pointer="/config/database/password",
        )
    ]


def test_broken_rules_inside_a_secret_are_told_once_at_the_secret() -> None:
    schema = {
        "properties": {
            "credentials": {
                "properties": {"user": {"pattern": "^x"}, "token": {"maxLength": 2}},
            }
        }
    }

    problems = secret_problems(schema)

    assert [problem.pointer for problem in problems] == ["/config/credentials"] * 2
    assert all("canary" not in problem.message for problem in problems)


def test_a_value_that_holds_a_secret_shows_only_the_rule() -> None:
    schema = {"properties": {"database": {"not": {"type": "object"}}}}

    assert secret_problems(schema) == [
        FieldProblem(
            field="config.database",
            rule="json_schema",
            message="the value breaks the schema rule /properties/database/not (not shown: it "
            "holds a secret)",
            pointer="/config/database",
        )
    ]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"required": ["port"]}, "'port' is a required property (schema rule /required)"),
        (
            {
                "properties": {
                    "database": {"additionalProperties": False, "properties": {"host": {}}}
                }
            },
            "Additional properties are not allowed ('password' was unexpected) "
            "(schema rule /properties/database/additionalProperties)",
        ),
    ],
)
def test_a_rule_about_keys_alone_keeps_its_message(schema: dict[str, Any], message: str) -> None:
    assert [problem.message for problem in secret_problems(schema)] == [message]


def test_a_value_beside_the_secrets_keeps_its_message() -> None:
    schema = {"properties": {"database": {"properties": {"host": {"minLength": 5}}}}}

    assert [problem.message for problem in secret_problems(schema)] == [
        "'db' is too short (schema rule /properties/database/properties/host/minLength)"
    ]
