"""The replaced JSON Schema keywords: RE2 patterns, linear uniqueItems, exact multipleOf, the
work budget, and no escape to jsonschema's stock keywords through $schema."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.json_schema_rules import config_problems, schema_problems
from services.json_schema_work import TooExpensive, bounded_work, charge, pattern_problem
from testing.fuzz_settings import fuzz_examples, fuzz_settings

HOSTILE = "a" * 39 + "!"
BACKTRACKING = "^(a+)+$"


def rules(problems: list[Any]) -> list[tuple[str, str]]:
    return [(problem.rule, problem.pointer) for problem in problems]


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"x": {"pattern": BACKTRACKING}}},
        {"patternProperties": {BACKTRACKING: {"type": "integer"}}},
        {"patternProperties": {BACKTRACKING: {}}, "additionalProperties": False},
        {"patternProperties": {BACKTRACKING: {}}, "unevaluatedProperties": False},
        # A subschema naming another dialect must not bring back the stock `re` keywords.
        {
            "properties": {
                "x": {"$schema": "http://json-schema.org/draft-07/schema#", "pattern": BACKTRACKING}
            }
        },
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {"y": {"$ref": "#"}, "x": {"pattern": BACKTRACKING}},
        },
    ],
)
def test_backtracking_patterns_run_in_linear_time(schema: dict[str, Any]) -> None:
    assert schema_problems(schema) == []
    config = {"x": HOSTILE, HOSTILE: HOSTILE, "y": {"x": HOSTILE}}
    assert all(problem.rule == "json_schema" for problem in config_problems(config, schema))


def test_a_pattern_match_and_mismatch_are_reported_as_before() -> None:
    schema = {"properties": {"x": {"pattern": "^[a-z]+$"}}}
    assert config_problems({"x": "abc"}, schema) == []
    assert rules(config_problems({"x": "ab1"}, schema)) == [("json_schema", "/config/x")]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("a(?=b)", "invalid perl operator: (?="),
        ("(?<!a)b", "invalid perl operator: (?<!"),
        ("(", "missing ): ("),
        ("(.{1000}){1000}", "invalid repetition size: {1000}"),
        ("\\pL{1000}", "pattern too large - compile failed"),
    ],
)
def test_patterns_re2_cannot_run_say_why(pattern: str, reason: str) -> None:
    assert pattern_problem(pattern) == (
        f"RE2 cannot run this pattern ({reason}); patterns use RE2 syntax, "
        "and backreferences and lookaround are not supported"
    )


def test_the_regex_format_uses_re2() -> None:
    schema = {"additionalProperties": {"format": "regex"}}
    assert config_problems({"a": "^(a+)+$", "b": "\\p{L}"}, schema) == []
    assert [problem.message for problem in config_problems({"a": "(a)\\1"}, schema)] == [
        "'(a)\\\\1' is not a 'regex' (schema rule /additionalProperties/format)"
    ]


def test_a_stored_schema_with_an_unusable_pattern_is_a_422_not_a_500() -> None:
    problems = config_problems({"x": "a"}, {"properties": {"x": {"pattern": "(a)\\1"}}})
    assert rules(problems) == [("json_schema_pattern_unsupported", "/schema")]


@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([1, 1.0], False),
        ([1, True], True),
        ([0, False, None, "", [], {}], True),
        ([{"a": 1, "b": [2]}, {"b": [2.0], "a": 1}], False),
        ([{"a": 1}, {"a": True}], True),
        ([[1, 2], [2, 1]], True),
        ([10**400, 10**400], False),
        ([0.1, 0.1000000000000001], True),
    ],
)
def test_unique_items_follows_json_equality(items: list[Any], unique: bool) -> None:
    problems = config_problems({"a": items}, {"properties": {"a": {"uniqueItems": True}}})
    assert rules(problems) == ([] if unique else [("json_schema", "/config/a")])


@pytest.mark.parametrize(
    ("number", "divisor", "multiple"),
    [
        (10**400, 0.5, True),
        (10**400 + 1, 2, False),
        (10**400 * 3, 0.3, True),
        (10**400 + 1, 0.3, False),
        (0.3, 0.1, True),
        (1e308, 1e-308, True),
        (7, 2.5, False),
        (5e-324, 5e-324, True),
    ],
)
def test_multiple_of_is_exact(number: int | float, divisor: int | float, multiple: bool) -> None:
    problems = config_problems({"n": number}, {"properties": {"n": {"multipleOf": divisor}}})
    assert rules(problems) == ([] if multiple else [("json_schema", "/config/n")])


NUMERIC_KEYWORDS = ["multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
extreme_numbers = (
    st.integers(min_value=-(10**1000), max_value=10**1000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([5e-324, -5e-324, 1.7976931348623157e308, 10**400, -(10**400), 0, -0.0])
)


@given(
    number=extreme_numbers,
    limit=extreme_numbers,
    keyword=st.sampled_from(NUMERIC_KEYWORDS),
    format_name=st.sampled_from(["regex", "ipv4", "date", "json-pointer", "uuid", "email"]),
)
@fuzz_settings(examples=fuzz_examples() * 3)
def test_numeric_keywords_never_raise(
    number: int | float, limit: int | float, keyword: str, format_name: str
) -> None:
    if keyword == "multipleOf" and limit <= 0:
        limit = abs(limit) or 1
    schema = {"properties": {"n": {keyword: limit, "format": format_name, "type": "number"}}}
    assert schema_problems(schema) == []
    assert {problem.rule for problem in config_problems({"n": number}, schema)} <= {"json_schema"}


def test_a_check_that_multiplies_schema_by_document_stops_with_a_422() -> None:
    schema = {"allOf": [{"properties": {"a": {"items": {"type": "integer"}}}}] * 100}
    problems = config_problems({"a": list(range(10_000))}, schema)
    assert rules(problems) == [("json_schema_too_expensive", "/config")]
    assert problems[0].message == (
        "checking the configuration against this schema would take too long; "
        "use fewer or smaller subschemas, enums and patterns"
    )


def test_an_enum_is_charged_by_its_length() -> None:
    schema = {"properties": {"a": {"items": {"enum": list(range(20_000))}}}}
    problems = config_problems({"a": list(range(1_000))}, schema)
    assert rules(problems) == [("json_schema_too_expensive", "/config")]


def test_work_outside_a_budget_is_not_charged() -> None:
    charge(10**12)  # no budget in force: nothing to overspend
    with bounded_work(5):
        charge(5)
        with pytest.raises(TooExpensive):
            charge(1)


@pytest.mark.parametrize(
    ("config", "unexpected"),
    [({"a": 1, "b": 2}, ["/config"]), ({"a": 1, "x1": 2}, []), ({"a": 1}, [])],
)
def test_unevaluated_properties_sees_properties_patterns_and_applicators(
    config: dict[str, Any], unexpected: list[str]
) -> None:
    schema = {
        "properties": {"a": {}},
        "allOf": [{"patternProperties": {"^x[0-9]$": {}}}],
        "unevaluatedProperties": False,
    }
    assert [problem.pointer for problem in config_problems(config, schema)] == unexpected
