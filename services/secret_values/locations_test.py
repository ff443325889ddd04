"""Secret locations: checking a written list, masking, filling placeholders, diff views."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from models.configuration import MAX_SECRET_LOCATIONS, PLACEHOLDER
from services.errors import FieldProblem
from services.json_diff import diff
from services.secret_values.locations import (
    MISSING,
    SecretLocations,
    check_locations,
    conceal,
    diff_views,
    fill_placeholders,
    mask,
    pointer_tokens,
    shown_locations,
    value_at,
)

CONFIG: dict[str, Any] = {
    "database": {"host": "db", "password": "hunter2", "pool_size": 20},
    "credentials": {"user": "app", "token": "t0ken"},
    "list": ["a", {"key": "k3y"}],
    "a/b": {"m~n": "escaped"},
    "": "empty key",
}


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", []),
        ("/", [""]),
        ("/a~1b/m~0n", ["a/b", "m~n"]),
        ("/~01", ["~1"]),
        ("/list/0", ["list", "0"]),
    ],
)
def test_pointer_tokens(pointer: str, tokens: list[str]) -> None:
    assert pointer_tokens(pointer) == tokens


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/database/password", "hunter2"),
        ("/a~1b/m~0n", "escaped"),
        ("/", "empty key"),
        ("/list/1/key", "k3y"),
        ("", CONFIG),
    ],
)
def test_value_at(pointer: str, value: object) -> None:
    assert value_at(CONFIG, pointer) == value


@pytest.mark.parametrize(
    "pointer",
    [
        "/nope",
        "/list/2",
        "/list/-",
        "/list/01",
        "/list/+1",
        "/list/x",
        "/database/host/x",
        "a",
        "/~2",
    ],
)
def test_value_at_of_what_is_not_there(pointer: str) -> None:
    assert value_at(CONFIG, pointer) is MISSING


def test_a_valid_list_has_no_problems() -> None:
    pointers = ["/database/password", "/credentials", "/list/1/key", "/a~1b/m~0n", "/"]

    assert check_locations(pointers, CONFIG) == []


@pytest.mark.parametrize(
    ("pointers", "problem"),
    [
        (
            ["/database/password", ""],
            FieldProblem(
                "secrets.1",
                "secret_location_root",
                "the whole config cannot be one secret: list the members that are secret",
                "/secrets/1",
            ),
        ),
        (
            ["database"],
            FieldProblem(
                "secrets.0",
                "json_pointer",
                "'database' is not a JSON Pointer: a JSON Pointer starts with '/' (or is empty)",
                "/secrets/0",
            ),
        ),
        (
            ["/a~2b"],
            FieldProblem(
                "secrets.0",
                "json_pointer",
                "'/a~2b' is not a JSON Pointer: '~' in a JSON Pointer must be followed by 0 or 1 "
                "(~0 is '~', ~1 is '/')",
                "/secrets/0",
            ),
        ),
        (
            ["/database/passwd"],
            FieldProblem(
                "secrets.0",
                "secret_location_exists",
                "'/database/passwd' names no value in config (a secret location must exist)",
                "/secrets/0",
            ),
        ),
        (
            ["/list/2"],
            FieldProblem(
                "secrets.0",
                "secret_location_exists",
                "'/list/2' names no value in config (a secret location must exist)",
                "/secrets/0",
            ),
        ),
        (
            ["/credentials", "/database/host", "/credentials"],
            FieldProblem(
                "secrets.2",
                "secret_location_unique",
                "'/credentials' is listed more than once",
                "/secrets/2",
            ),
        ),
        (
            ["/credentials", "/credentials/token"],
            FieldProblem(
                "secrets.1",
                "secret_location_overlap",
                "'/credentials/token' lies inside the secret location '/credentials': list only "
                "one of them",
                "/secrets/1",
            ),
        ),
        (
            ["/credentials/token", "/credentials"],
            FieldProblem(
                "secrets.1",
                "secret_location_overlap",
                "'/credentials' holds the secret location '/credentials/token': list only one "
                "of them",
                "/secrets/1",
            ),
        ),
    ],
)
def test_each_broken_rule_names_the_pointer(pointers: list[str], problem: FieldProblem) -> None:
    assert check_locations(pointers, CONFIG) == [problem]


def test_every_problem_is_reported() -> None:
    problems = check_locations(["nope", "/missing", "/database", "/database/host"], CONFIG)

    assert [(problem.field, problem.rule) for problem in problems] == [
        ("secrets.0", "json_pointer"),
        ("secrets.1", "secret_location_exists"),
        ("secrets.3", "secret_location_overlap"),
    ]


def test_at_most_256_locations() -> None:
    config = {f"k{index}": index for index in range(MAX_SECRET_LOCATIONS + 1)}
    pointers = [f"/k{index}" for index in range(MAX_SECRET_LOCATIONS + 1)]

    assert check_locations(pointers[:-1], config) == []
    assert check_locations(pointers, config) == [
        FieldProblem(
            "secrets",
            "secret_locations_too_many",
            "at most 256 secret locations (got 257)",
            "/secrets",
        )
    ]


def test_mask_replaces_each_whole_value_and_changes_nothing_else() -> None:
    original = copy.deepcopy(CONFIG)
    locations = SecretLocations.of(["/database/password", "/credentials", "/list/1/key", "/"])

    masked = mask(CONFIG, locations)

    assert masked == {
        "database": {"host": "db", "password": PLACEHOLDER, "pool_size": 20},
        "credentials": PLACEHOLDER,
        "list": ["a", {"key": PLACEHOLDER}],
        "a/b": {"m~n": "escaped"},
        "": PLACEHOLDER,
    }
    assert original == CONFIG
    assert masked["a/b"] is CONFIG["a/b"]  # untouched members are shared, not copied


def test_mask_without_locations_is_the_document_itself() -> None:
    assert mask(CONFIG, SecretLocations()) is CONFIG


def test_mask_skips_a_location_the_document_lacks() -> None:
    assert mask({"a": 1}, SecretLocations.of(["/b", "/a/c"])) == {"a": 1}


def test_of_refuses_a_malformed_pointer() -> None:
    with pytest.raises(ValueError, match="starts with '/'"):
        SecretLocations.of(["database"])


def test_an_outer_location_wins_over_an_inner_one() -> None:
    locations = SecretLocations.of(["/credentials/token"]).union(
        SecretLocations.of(["/credentials"])
    )

    assert locations.pointers == ("/credentials/token", "/credentials")
    assert mask(CONFIG, locations)["credentials"] == PLACEHOLDER
    assert dict(locations.values(CONFIG)) == {"/credentials": CONFIG["credentials"]}


def test_values_lists_the_locations_that_exist() -> None:
    locations = SecretLocations.of(["/database/password", "/list/1/key", "/gone"])

    assert sorted(locations.values(CONFIG)) == [
        ("/database/password", "hunter2"),
        ("/list/1/key", "k3y"),
    ]


@pytest.mark.parametrize(
    ("pointer", "enclosing", "holds"),
    [
        ("/database/password", "/database/password", False),  # the secret
        ("/credentials/token", "/credentials", False),  # inside one
        ("/credentials", "/credentials", False),
        ("/database", None, True),  # holds one
        ("", None, True),  # the whole document holds them
        ("/database/host", None, False),
        ("/list/0", None, False),
        ("/features", None, False),
    ],
)
def test_enclosing_and_holds(pointer: str, enclosing: str | None, holds: bool) -> None:
    locations = SecretLocations.of(["/database/password", "/credentials"])

    assert locations.enclosing(pointer) == enclosing
    assert locations.holds(pointer) is holds


def test_no_locations_enclose_or_are_held() -> None:
    assert SecretLocations().enclosing("/a") is None
    assert SecretLocations().holds("") is False


def test_a_placeholder_keeps_the_stored_value() -> None:
    written = {"database": {"password": PLACEHOLDER, "host": "new"}, "credentials": {"user": "x"}}
    locations = SecretLocations.of(["/database/password", "/credentials"])

    filled, problems = fill_placeholders(written, locations, CONFIG)

    assert problems == []
    assert filled == {
        "database": {"password": "hunter2", "host": "new"},
        "credentials": {"user": "x"},
    }
    assert written["database"]["password"] == PLACEHOLDER  # not changed in place


def test_a_placeholder_keeps_a_whole_object() -> None:
    filled, problems = fill_placeholders(
        {"credentials": PLACEHOLDER}, SecretLocations.of(["/credentials"]), CONFIG
    )

    assert (filled, problems) == ({"credentials": CONFIG["credentials"]}, [])


def test_a_placeholder_outside_a_secret_location_is_a_value() -> None:
    written = {"database": {"password": PLACEHOLDER}}

    filled, problems = fill_placeholders(written, SecretLocations(), CONFIG)

    assert (filled, problems) == (written, [])


def test_a_placeholder_with_nothing_stored_is_a_problem() -> None:
    written = {"database": {"password": PLACEHOLDER}, "new": PLACEHOLDER}
    locations = SecretLocations.of(["/database/password", "/new"])

    stored_configs: list[dict[str, Any] | None] = [None, {"database": {}}]
    for stored in stored_configs:
        _, problems = fill_placeholders(written, locations, stored)

        assert [(problem.pointer, problem.rule) for problem in problems] == [
            ("/config/database/password", "secret_placeholder_without_value"),
            ("/config/new", "secret_placeholder_without_value"),
        ]
        assert problems[0].message == (
            "the placeholder '********' keeps a stored secret, but the stored config has no "
            "value here: send the value itself"
        )


STORED = ["/database/password", "/credentials", "/list/1"]


def concealed() -> Any:
    return conceal(CONFIG, SecretLocations.of(STORED))


def test_conceal_hides_every_part_of_each_secret_and_nothing_else() -> None:
    hidden = concealed()

    assert hidden["database"]["host"] == "db"
    assert hidden["list"][0] == "a"
    assert sorted(hidden["credentials"]) == ["token", "user"]  # keys stay, values go
    assert not isinstance(hidden["database"]["password"], str)
    assert shown_locations(hidden, SecretLocations.of(STORED)) == []
    assert CONFIG["credentials"] == {"user": "app", "token": "t0ken"}  # not changed in place


@pytest.mark.parametrize(
    ("change", "locations", "shown"),
    [
        # Unmarked while the value stays.
        (lambda hidden: hidden, ["/credentials", "/list/1"], ["/database/password"]),
        (lambda hidden: hidden, [], ["/credentials", "/database/password", "/list/1"]),
        # Narrowed to a part: the rest shows.
        (
            lambda hidden: hidden,
            ["/database/password", "/credentials/user", "/list/1"],
            ["/credentials"],
        ),
        # Widened: still secret.
        (lambda hidden: hidden, ["/database", "/credentials", "/list"], []),
        # A member left behind by a patch that names only another one.
        (
            lambda hidden: {**hidden, "credentials": {**hidden["credentials"], "user": "new"}},
            ["/database/password", "/list/1"],
            ["/credentials"],
        ),
        # Replaced whole, or removed: nothing of the stored value is left.
        (
            lambda hidden: {**hidden, "credentials": {"user": "new", "token": "new"}},
            ["/database/password", "/list/1"],
            [],
        ),
        (
            lambda hidden: {key: value for key, value in hidden.items() if key != "credentials"},
            ["/database/password", "/list/1"],
            [],
        ),
        # An array's items shifted: the secret item moves to where nothing is secret.
        (lambda hidden: {**hidden, "list": hidden["list"][1:]}, STORED, ["/list/1"]),
        # Moved under a secret location: still secret.
        (
            lambda hidden: {**hidden, "vault": {"copy": hidden["credentials"]}},
            [*STORED, "/vault"],
            [],
        ),
        (
            lambda hidden: {**hidden, "vault": {"copy": hidden["credentials"]}},
            STORED,
            ["/credentials"],
        ),
    ],
)
def test_shown_locations_are_the_secrets_a_change_leaves_in_view(
    change: Any, locations: list[str], shown: list[str]
) -> None:
    assert shown_locations(change(concealed()), SecretLocations.of(locations)) == shown


def test_an_empty_secret_object_is_a_part_too() -> None:
    hidden = conceal({"empty": {}, "items": []}, SecretLocations.of(["/empty", "/items"]))

    assert shown_locations(hidden, SecretLocations()) == ["/empty", "/items"]


def test_conceal_without_locations_is_the_document_itself() -> None:
    assert conceal(CONFIG, SecretLocations()) is CONFIG


def views(before: dict[str, Any], after: dict[str, Any], *locations: list[str]) -> list[Any]:
    before_locations = SecretLocations.of(locations[0])
    after_locations = SecretLocations.of(locations[1] if len(locations) > 1 else locations[0])
    return diff(*diff_views(before, before_locations, after, after_locations))


def test_a_diff_says_a_secret_changed_never_from_what_to_what() -> None:
    before = {"password": "old-canary", "host": "a"}
    after = {"password": "new-canary", "host": "b"}

    operations = views(before, after, ["/password"])

    assert sorted(operations, key=lambda operation: operation["path"]) == [
        {"op": "replace", "path": "/host", "value": "b"},
        {"op": "replace", "path": "/password", "value": PLACEHOLDER},
    ]


def test_an_unchanged_secret_is_no_operation() -> None:
    config = {"password": "same", "nested": {"a": [1, 2]}}

    assert views(config, copy.deepcopy(config), ["/password", "/nested"]) == []


def test_a_changed_secret_object_is_one_replace() -> None:
    before = {"credentials": {"user": "a", "password": "x"}}
    after = {"credentials": {"user": "a", "password": "y", "extra": 1}}

    assert views(before, after, ["/credentials"]) == [
        {"op": "replace", "path": "/credentials", "value": PLACEHOLDER}
    ]


def test_a_secret_added_or_removed() -> None:
    assert views({}, {"token": "canary"}, [], ["/token"]) == [
        {"op": "add", "path": "/token", "value": PLACEHOLDER}
    ]
    assert views({"token": "canary"}, {}, ["/token"], []) == [{"op": "remove", "path": "/token"}]


def test_a_value_made_secret_or_plain_is_masked_on_both_sides() -> None:
    assert views({"token": "plain"}, {"token": "canary"}, [], ["/token"]) == [
        {"op": "replace", "path": "/token", "value": PLACEHOLDER}
    ]
    assert views({"token": "canary"}, {"token": "plain"}, ["/token"], []) == [
        {"op": "replace", "path": "/token", "value": PLACEHOLDER}
    ]
    assert views({"token": "same"}, {"token": "same"}, ["/token"], []) == []


def test_no_locations_leaves_both_documents_alone() -> None:
    before, after = {"a": 1}, {"a": 2}

    assert diff_views(before, SecretLocations(), after, SecretLocations()) == (before, after)
