"""The JSON Patch diff: correct for any pair of documents, and coarse only where it says so."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.json_document import same_document
from services.json_diff import MAX_ITEM_OPERATIONS, diff, json_size, max_patch_size
from testing.fuzz_settings import fuzz_examples, fuzz_settings

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, 1.0, True, False, 0.0])
    | st.text(max_size=4)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "~", "/", ""]), inner, max_size=4)
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(["a", "b", "c", "d/e", "f~g"]), values, max_size=5)


def apply(operations: list[dict[str, Any]], document: Any) -> Any:
    return jsonpatch.apply_patch(document, operations)


@given(before=documents, after=documents)
@fuzz_settings(examples=fuzz_examples() * 5)
def test_a_diff_applied_to_the_first_document_gives_the_second(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert same_document(apply(diff(before, after), before), after)
    assert same_document(apply(diff(after, before), after), before)


@given(before=documents, after=documents, max_size=st.integers(2, 400))
@fuzz_settings(examples=fuzz_examples() * 5)
def test_a_diff_is_correct_and_within_its_size_at_every_coarseness(
    before: dict[str, Any], after: dict[str, Any], max_size: int
) -> None:
    operations = diff(before, after, max_size=max_size)
    assert same_document(apply(operations, before), after)
    whole = [{"op": "replace", "path": "", "value": after}]
    assert json_size(operations) <= max_size or operations == whole
    assert json_size(diff(before, after)) <= max_patch_size(before, after)


@given(items=st.lists(scalars, max_size=40), data=st.data())
@fuzz_settings(examples=fuzz_examples() * 5)
def test_a_diff_of_edited_arrays_is_correct(items: list[Any], data: Any) -> None:
    edited = list(items)
    for _ in range(data.draw(st.integers(0, 3))):
        position = data.draw(st.integers(0, len(edited)))
        if edited and data.draw(st.booleans()):
            del edited[min(position, len(edited) - 1)]
        else:
            edited.insert(position, data.draw(scalars))
    assert same_document(apply(diff({"x": items}, {"x": edited}), {"x": items}), {"x": edited})


def test_equal_documents_have_an_empty_diff() -> None:
    assert diff({"a": [1, {"b": 2.0}], "c": True}, {"c": True, "a": [1.0, {"b": 2}]}) == []


def test_true_is_not_1() -> None:
    assert diff({"a": 1, "b": [0]}, {"a": True, "b": [False]}) == [
        {"op": "replace", "path": "/a", "value": True},
        {"op": "replace", "path": "/b/0", "value": False},
    ]


def test_members_and_items_are_named_by_escaped_pointers() -> None:
    assert diff({"a/b": {"x": 1}, "gone": 1}, {"a/b": {"x": 2}, "c~d": [1]}) == [
        {"op": "remove", "path": "/gone"},
        {"op": "replace", "path": "/a~1b/x", "value": 2},
        {"op": "add", "path": "/c~0d", "value": [1]},
    ]


def test_one_item_inserted_or_removed_in_a_long_array_is_one_operation() -> None:
    long = list(range(10_000))
    assert diff({"x": long}, {"x": [*long[:500], "new", *long[500:]]}) == [
        {"op": "add", "path": "/x/500", "value": "new"}
    ]
    assert diff({"x": long}, {"x": long[:500] + long[501:]}) == [{"op": "remove", "path": "/x/500"}]


def test_a_changed_item_of_an_array_is_diffed_inside_it() -> None:
    before = {"x": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]}
    after = {"x": [{"name": "a", "port": 1}, {"name": "b", "port": 3}]}
    assert diff(before, after) == [{"op": "replace", "path": "/x/1/port", "value": 3}]


@pytest.mark.parametrize(
    "after",
    [
        list(range(0, 20_000, 2)),  # every other item removed
        [*range(MAX_ITEM_OPERATIONS + 1), *range(100, 20_000)],  # many removed in the middle
        [-1, *range(1, 10_000), -2, 10_000],  # changed at two places and one inserted
    ],
)
def test_other_array_edits_replace_the_whole_array(after: list[int]) -> None:
    before = {"x": list(range(20_000)) if len(after) != 10_001 else list(range(10_001))}
    operations = diff(before, {"x": after})
    assert operations == [{"op": "replace", "path": "/x", "value": after}]


LONG_KEY = "k" * 100_000


def test_a_long_path_above_many_changes_gives_a_coarser_diff_not_a_huge_one() -> None:
    before = {LONG_KEY: {"a": list(range(2000))}, "small": 1}
    after = {LONG_KEY: {"a": list(range(1, 2001))}, "small": 2}
    operations = diff(before, after)
    # The fine diff would be 2,000 operations of 100,000 characters each (200 MB).
    assert operations == [
        {"op": "replace", "path": "/" + LONG_KEY, "value": after[LONG_KEY]},
        {"op": "replace", "path": "/small", "value": 2},
    ]
    assert json_size(operations) <= max_patch_size(before, after)
    assert json_size(operations) < 2 * json_size(after)


def test_a_diff_too_large_even_by_member_replaces_the_whole_document() -> None:
    before = {"a~/" * 50: 1, "b": [1, 2, 3, 4]}
    after = {"a~/" * 50: 2, "b": [9, 8, 7, 6]}
    long_path = "/" + "a~0~1" * 50
    fine = diff(before, after)
    by_member = [
        {"op": "replace", "path": long_path, "value": 2},
        {"op": "replace", "path": "/b", "value": [9, 8, 7, 6]},
    ]
    assert fine == [
        {"op": "replace", "path": long_path, "value": 2},
        *({"op": "replace", "path": f"/b/{index}", "value": 9 - index} for index in range(4)),
    ]
    assert json_size(by_member) < json_size(fine)
    assert diff(before, after, max_size=json_size(fine) - 1) == by_member
    assert diff(before, after, max_size=json_size(by_member) - 1) == [
        {"op": "replace", "path": "", "value": after}
    ]


def test_many_equal_members_under_a_long_key_cost_no_path_each() -> None:
    members = {f"m{index}": index for index in range(50_000)}
    before = {LONG_KEY: {**members, "x": 1}}
    after = {LONG_KEY: {**members, "x": 2}}
    assert diff(before, after) == [{"op": "replace", "path": f"/{LONG_KEY}/x", "value": 2}]
