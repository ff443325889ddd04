"""An RFC 6902 JSON Patch from one JSON document to another, in time linear in their size.

Objects are compared member by member. Arrays lose their common first and last items; what is
left in the middle is compared item by item when it has the same length on both sides, is one
`add` or `remove` per item when items were only inserted or only deleted (at most
MAX_ITEM_OPERATIONS of them), and otherwise the whole array is replaced: a coarser patch, but
still a correct one, without the quadratic cost of aligning two sequences.

Values are compared as JSON: numbers by value (1 equals 1.0, as same_document has it), and
true is not 1.
"""

from __future__ import annotations

from typing import Any

from models.json_document import escape_pointer_token, same_document

MAX_ITEM_OPERATIONS = 16

Operation = dict[str, Any]


def _diff_objects(
    before: dict[str, Any], after: dict[str, Any], path: str, operations: list[Operation]
) -> None:
    for key in before:
        if key not in after:
            operations.append({"op": "remove", "path": f"{path}/{escape_pointer_token(key)}"})
    for key, value in after.items():
        child = f"{path}/{escape_pointer_token(key)}"
        if key in before:
            _diff(before[key], value, child, operations)
        else:
            operations.append({"op": "add", "path": child, "value": value})


def _diff_arrays(
    before: list[Any], after: list[Any], path: str, operations: list[Operation]
) -> None:
    shortest = min(len(before), len(after))
    prefix = 0
    while prefix < shortest and same_document(before[prefix], after[prefix]):
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and same_document(before[-1 - suffix], after[-1 - suffix]):
        suffix += 1
    removed = before[prefix : len(before) - suffix]
    added = after[prefix : len(after) - suffix]
    if len(removed) == len(added):
        for index, (old, new) in enumerate(zip(removed, added, strict=True), start=prefix):
            _diff(old, new, f"{path}/{index}", operations)
    elif not added and len(removed) <= MAX_ITEM_OPERATIONS:
        operations.extend({"op": "remove", "path": f"{path}/{prefix}"} for _ in removed)
    elif not removed and len(added) <= MAX_ITEM_OPERATIONS:
        operations.extend(
            {"op": "add", "path": f"{path}/{index}", "value": value}
            for index, value in enumerate(added, start=prefix)
        )
    else:
        operations.append({"op": "replace", "path": path, "value": after})


def _diff(before: object, after: object, path: str, operations: list[Operation]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        _diff_objects(before, after, path, operations)
    elif isinstance(before, list) and isinstance(after, list):
        _diff_arrays(before, after, path, operations)
    elif not same_document(before, after):
        operations.append({"op": "replace", "path": path, "value": after})


def diff(before: object, after: object) -> list[Operation]:
    """Operations that turn `before` into `after` (callers bound the depth of both)."""
    operations: list[Operation] = []
    _diff(before, after, "", operations)
    return operations
