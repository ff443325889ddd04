"""The JSON Patch diff: correct for any pair of documents, and coarse only where it says so."""

from __future__ import annotations

from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.json_document import same_document
from services.json_diff import MAX_ITEM_OPERATIONS, diff
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
