"""Entity tags and the If-Match / If-None-Match headers, parsed without a server."""

from __future__ import annotations

import pytest

from api.v1.conditional import entity_tags, none_match, parse_if_match
from models.versioned import Precondition


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"1"', [(False, "1")]),
        ('W/"1"', [(True, "1")]),
        ('  "1"  ', [(False, "1")]),
        ('"1", W/"2" ,"xyz"', [(False, "1"), (True, "2"), (False, "xyz")]),
        ('""', [(False, "")]),
        ('"a!#~"', [(False, "a!#~")]),
        ("", []),
    ],
)
def test_entity_tags_parses_lists(header: str, tags: list[tuple[bool, str]]) -> None:
    assert entity_tags(header) == tags


@pytest.mark.parametrize(
    "header",
    ["1", '"1', '1"', '"1" "2"', '"a b"', 'w/"1"', 'W/ "1"', "*", '"1", *', '"é"', '"1";"2"'],
)
def test_entity_tags_refuses_malformed_lists(header: str) -> None:
    assert entity_tags(header) is None


@pytest.mark.parametrize("header", ["*", " * ", "*\t"])
def test_if_match_star_allows_any_version(header: str) -> None:
    precondition = parse_if_match(header)
    assert precondition == Precondition(any_version=True)
    assert precondition.allows(1) is True
    assert precondition.allows(2**40) is True


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        ('"3"', {3}),
        ('"3", "5"', {3, 5}),
        ('"3", W/"5", "x"', {3}),
        ('"9223372036854775807"', {2**63 - 1}),
    ],
)
def test_if_match_names_the_versions_of_strong_numeric_tags(
    header: str, versions: set[int]
) -> None:
    precondition = parse_if_match(header)
    assert precondition == Precondition(versions=frozenset(versions))
    for version in versions:
        assert precondition.allows(version) is True
    assert precondition.allows(4) is False


@pytest.mark.parametrize(
    "header",
    [
        'W/"3"',
        '"abc"',
        '"-3"',
        '"+3"',
        '"3.0"',
        '"03"',
        '"9223372036854775808"',
        '"0"',
        "3",
        "garbage",
        '"3" "4"',
        "",
        "**",
    ],
)
def test_weak_malformed_or_non_numeric_if_match_allows_nothing(header: str) -> None:
    precondition = parse_if_match(header)
    assert precondition == Precondition()
    assert [precondition.allows(version) for version in (0, 1, 3, 4)] == [False] * 4


@pytest.mark.parametrize(
    ("header", "etag", "matches"),
    [
        (None, '"3"', False),
        ("*", '"3"', True),
        (" * ", '"3"', True),
        ('"3"', '"3"', True),
        ('W/"3"', '"3"', True),
        ('"4", "3"', '"3"', True),
        ('"4"', '"3"', False),
        ('"03"', '"3"', False),
        ('"3" garbage', '"3"', False),
        ("3", '"3"', False),
        ("", '"3"', False),
    ],
)
def test_none_match_uses_weak_comparison(header: str | None, etag: str, matches: bool) -> None:
    assert none_match(header, etag) is matches
