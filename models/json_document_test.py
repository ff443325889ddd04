"""Storage rules for configuration documents, and telling documents apart."""

from __future__ import annotations

import pytest

from models.json_document import (
    MAX_REPORTED_PROBLEMS,
    DocumentProblem,
    canonical_value,
    escape_pointer_token,
    find_document_problems,
    same_document,
)

DEPTH = 4


def nested(levels: int, *, container: str = "object") -> object:
    """`levels` containers inside each other: 1 is {} (or []), 2 is {"a": {}}, and so on."""
    document: object = {} if container == "object" else []
    for _ in range(levels - 1):
        document = {"a": document} if container == "object" else [document]
    return document


def found(document: object, *, max_depth: int = DEPTH) -> list[tuple[str, str]]:
    return [
        (problem.pointer, problem.rule)
        for problem in find_document_problems(document, max_depth=max_depth)
    ]


@pytest.mark.parametrize(
    "document",
    [
        {},
        [],
        {"": ""},
        {"text": "héllo wörld 🚀 日本", "escaped": "tab\there\nnewline\u2028"},
        {"numbers": [0, -1, 10**30, 1.5, -2.5e-7, 1e300], "flags": [True, False, None]},
        {"a/b": {"c~d": ["x", {"": 1}, [2, 3]]}},
        {"a": {"b": {"c": 1}}},
        "just a string",
        12.5,
    ],
)
def test_clean_documents_have_no_problems(document: object) -> None:
    assert find_document_problems(document, max_depth=DEPTH) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"key": "a\x00b"}, [("/key", "text_nul")]),
        ({"k\x00ey": "value"}, [("/k\x00ey", "text_nul")]),
        ({"list": ["ok", "\x00"]}, [("/list/1", "text_nul")]),
        ({"key": "lone \ud800 surrogate"}, [("/key", "unicode_surrogate")]),
        ({"key": "\udfff"}, [("/key", "unicode_surrogate")]),
        ({"\udc80": 1}, [("/\udc80", "unicode_surrogate")]),
        ({"key": float("inf")}, [("/key", "number_out_of_range")]),
        ({"key": float("-inf")}, [("/key", "number_out_of_range")]),
        ({"key": [1.0, float("nan")]}, [("/key/1", "number_out_of_range")]),
        ("\x00", [("", "text_nul")]),
        (float("nan"), [("", "number_out_of_range")]),
        ({"both\x00": "\x00"}, [("/both\x00", "text_nul"), ("/both\x00", "text_nul")]),
    ],
)
def test_each_broken_rule_is_reported_at_its_place(
    document: object, expected: list[tuple[str, str]]
) -> None:
    assert found(document) == expected


def test_a_problem_carries_a_message_naming_the_rule() -> None:
    assert find_document_problems({"a": "\x00", "b": float("inf")}, max_depth=DEPTH) == [
        DocumentProblem("/a", "text_nul", "a string must not contain U+0000"),
        DocumentProblem("/b", "number_out_of_range", "a number must be finite (got one too large)"),
    ]


@pytest.mark.parametrize("container", ["object", "array"])
def test_nesting_exactly_at_the_limit_is_accepted(container: str) -> None:
    assert found(nested(DEPTH, container=container)) == []


@pytest.mark.parametrize(("container", "pointer"), [("object", "/a/a/a/a"), ("array", "/0/0/0/0")])
def test_nesting_one_past_the_limit_is_reported_at_the_deepest_container(
    container: str, pointer: str
) -> None:
    assert found(nested(DEPTH + 1, container=container)) == [(pointer, "nesting_too_deep")]
    assert find_document_problems(nested(DEPTH + 1), max_depth=DEPTH)[0].message == (
        f"objects and arrays may be nested at most {DEPTH} levels deep"
    )


def test_far_too_deep_nesting_is_reported_once() -> None:
    assert found(nested(DEPTH + 500)) == [("/a/a/a/a", "nesting_too_deep")]


def test_scalars_below_the_deepest_allowed_container_are_fine() -> None:
    assert found({"a": {"b": {"c": {"d": 1, "e": "text", "f": None}}}}) == []


def test_mixed_nesting_counts_objects_and_arrays_alike() -> None:
    assert found({"a": [{"b": [[]]}]}) == [("/a/0/b/0", "nesting_too_deep")]


@pytest.mark.parametrize(
    ("key", "pointer"),
    [
        ("a/b\x00", "/a~1b\x00"),
        ("m~n\x00", "/m~0n\x00"),
        ("~1\x00", "/~01\x00"),
        ("/~\x00", "/~1~0\x00"),
        ("\x00", "/\x00"),
    ],
)
def test_pointers_escape_slash_and_tilde(key: str, pointer: str) -> None:
    assert found({key: 1}) == [(pointer, "text_nul")]


@pytest.mark.parametrize(
    ("token", "escaped"),
    [("plain", "plain"), ("a/b", "a~1b"), ("a~b", "a~0b"), ("~1", "~01"), ("", ""), ("//", "~1~1")],
)
def test_escape_pointer_token(token: str, escaped: str) -> None:
    assert escape_pointer_token(token) == escaped


def test_escaped_pointer_inside_a_nested_path() -> None:
    assert found({"a/b": {"c~d": ["ok", "\x00"]}}) == [("/a~1b/c~0d/1", "text_nul")]


def test_at_most_the_limit_is_reported_sorted_by_pointer() -> None:
    document = {f"k{index:02}": "\x00" for index in range(MAX_REPORTED_PROBLEMS + 15)}
    every_problem = {(f"/k{index:02}", "text_nul") for index in range(MAX_REPORTED_PROBLEMS + 15)}

    reported = found(document)

    assert len(reported) == MAX_REPORTED_PROBLEMS
    assert reported == sorted(reported)
    assert set(reported) <= every_problem


def test_problems_of_several_kinds_come_sorted_by_pointer() -> None:
    document = {"z": float("inf"), "a": ["\x00", {"m": "\ud800"}], "b": nested(DEPTH)}
    assert found(document) == [
        ("/a/0", "text_nul"),
        ("/a/1/m", "unicode_surrogate"),
        ("/b/a/a/a", "nesting_too_deep"),
        ("/z", "number_out_of_range"),
    ]


SAME_DOCUMENT_CASES = pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ({"flag": 1}, {"flag": 1}, True),
        # Numbers compare by value, as jsonb stores them: 1e20 comes back as an integer.
        ({"flag": 1}, {"flag": 1.0}, True),
        ({"big": 1e20}, {"big": 10**20}, True),
        ({"small": 0.1}, {"small": 0.1000000000000001}, False),
        ({"flag": 1}, {"flag": True}, False),
        ({"flag": 1.0}, {"flag": True}, False),
        ({"flag": 0}, {"flag": False}, False),
        ({"flag": None}, {}, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        (
            {"x": {"a": [1, {"c": 3, "d": 4}], "b": 2}},
            {"x": {"b": 2, "a": [1, {"d": 4, "c": 3}]}},
            True,
        ),
        ({"list": [1, 2]}, {"list": [2, 1]}, False),
        ({"text": "é"}, {"text": "e\u0301"}, False),
        ({"big": 10**30}, {"big": 10**30}, True),
        ({"big": 10**30}, {"big": 10**30 + 1}, False),
        # 1e23 is spelled, and kept by jsonb, as 10**23, though the double is not exactly that.
        ({"big": 1e23}, {"big": 10**23}, True),
        ({"x": [True]}, {"x": [1]}, False),
        ({"x": True}, {"x": ["bool", 1]}, False),
        ({"x": [1, 2]}, {"x": {"1": 2}}, False),
        ({"x": None}, {"x": "None"}, False),
        ({"x": "1"}, {"x": 1}, False),
        ({"x": 1.5}, {"x": 1.5}, True),
    ],
)


@SAME_DOCUMENT_CASES
def test_same_document(left: object, right: object, same: bool) -> None:
    assert same_document(left, right) is same
    assert same_document(right, left) is same


@SAME_DOCUMENT_CASES
def test_canonical_values_are_equal_and_hash_alike_exactly_for_the_same_document(
    left: object, right: object, same: bool
) -> None:
    assert (canonical_value(left) == canonical_value(right)) is same
    if same:
        assert hash(canonical_value(left)) == hash(canonical_value(right))
    assert len({canonical_value(left), canonical_value(right)}) == (1 if same else 2)
