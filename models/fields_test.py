"""The shared field types: what each accepts, what it refuses, and that the schema says the same."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from models.fields import NAME_PATTERN, ULID_PATTERN, ApplicationId, Comments, Name

application_ids = TypeAdapter(ApplicationId)
names = TypeAdapter(Name)
comments = TypeAdapter(Comments)

VALID_ID = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"


def error_types(adapter: TypeAdapter[str], value: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    return [error["type"] for error in caught.value.errors()]


def name_is_valid(value: str) -> bool:
    try:
        names.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (VALID_ID, VALID_ID),
        (VALID_ID.lower(), VALID_ID),
        ("01jq3V6kx8Q7m4Z2w9R5t1N0bc", VALID_ID),
        ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("00000000000000000000000000", "00000000000000000000000000"),
    ],
)
def test_application_id_accepts_either_case_and_returns_uppercase(
    given: str, expected: str
) -> None:
    assert application_ids.validate_python(given) == expected


@pytest.mark.parametrize(
    "value",
    [
        VALID_ID[:25],
        VALID_ID + "0",
        "",
        "U" + VALID_ID[1:],
        VALID_ID[:10] + "U" + VALID_ID[11:],
        VALID_ID[:10] + "I" + VALID_ID[11:],
        VALID_ID[:10] + "L" + VALID_ID[11:],
        VALID_ID[:10] + "O" + VALID_ID[11:],
        VALID_ID[:10] + "u" + VALID_ID[11:],
        "8" + VALID_ID[1:],
        "Z" + VALID_ID[1:],
        VALID_ID + "\n",
        " " + VALID_ID[1:],
        VALID_ID[:10] + "-" + VALID_ID[11:],
    ],
)
def test_application_id_rejects_anything_but_a_ulid(value: str) -> None:
    assert error_types(application_ids, value) == ["ulid_format"]


@pytest.mark.parametrize(
    ("adapter", "value", "message"),
    [
        (
            application_ids,
            "not-a-ulid",
            "must be a ULID: 26 Crockford base32 characters, the first 0-7 (got 'not-a-ulid')",
        ),
        (
            names,
            " padded",
            "must not start or end with white space nor contain control characters (got ' padded')",
        ),
        (
            names,
            "x" * 50 + "\n",
            "must not start or end with white space nor contain control characters"
            f" (got '{'x' * 40}…')",
        ),
    ],
)
def test_errors_name_the_value(adapter: TypeAdapter[str], value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    assert [error["msg"] for error in caught.value.errors()] == [message]


@pytest.mark.parametrize(
    "value",
    [
        "a",
        "billing service",
        "billing\u00a0service",
        "a b  c",
        "config 🚀 prod",
        "🚀",
        "日本語の名前",
        "x" * 256,
        "🚀" * 256,
    ],
)
def test_name_accepts(value: str) -> None:
    assert names.validate_python(value) == value


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\ufeff"])
@pytest.mark.parametrize("template", ["_name", "name_", "_", "_name_", "__name"])
def test_name_rejects_leading_or_trailing_white_space(space: str, template: str) -> None:
    assert error_types(names, template.replace("_", space)) == ["name_format"]


@pytest.mark.parametrize("control", ["\x00", "\x07", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_name_rejects_control_characters_inside(control: str) -> None:
    assert error_types(names, f"bad{control}name") == ["name_format"]


@pytest.mark.parametrize(
    ("value", "expected"), [("", "string_too_short"), ("x" * 257, "string_too_long")]
)
def test_name_length_limits(value: str, expected: str) -> None:
    assert error_types(names, value) == [expected]


@pytest.mark.parametrize("value", ["", "line one\nline two\r\n", "tab\there", "c" * 1024])
def test_comments_accept(value: str) -> None:
    assert comments.validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [("with\x00nul", "text_nul"), ("\x00", "text_nul"), ("c" * 1025, "string_too_long")],
)
def test_comments_reject(value: str, expected: str) -> None:
    assert error_types(comments, value) == [expected]


# JSON Schema uses ECMA-262 regular expressions, where `$` matches only at the very end (Python's
# also matches before a final newline). For a pattern anchored with ^...$ that is exactly what
# Python's fullmatch does, so the comparison below is the one a JSON Schema validator makes.
TRICKY_NAMES = [
    "a",
    "ab",
    "a b",
    " a",
    "a ",
    "\ta",
    "a\n",
    "a\r\n",
    "\na",
    "a\nb",
    "a\tb",
    "a\u00a0b",
    "\u00a0",
    "a\u0085",
    "a\u0085b",
    "a\u2028",
    "a\u2028b",
    "a\u200b",
    "\u200b",
    "a\u3000",
    "\ufeffa",
    "a\ufeffb",
    "a\x00",
    "a\x7fb",
    "\x9f",
    "🚀",
    "a🚀b",
    "x" * 256,
]


@pytest.mark.parametrize("value", TRICKY_NAMES)
def test_name_pattern_states_the_same_rule_as_the_validator(value: str) -> None:
    assert (re.compile(NAME_PATTERN).fullmatch(value) is not None) == name_is_valid(value)


@pytest.mark.parametrize("value", [VALID_ID, VALID_ID.lower(), VALID_ID + "\n", "8" + VALID_ID[1:]])
def test_ulid_pattern_states_the_same_rule_as_the_validator(value: str) -> None:
    try:
        application_ids.validate_python(value)
    except ValidationError:
        valid = False
    else:
        valid = True
    assert (re.compile(ULID_PATTERN).fullmatch(value) is not None) == valid
