"""An RFC 6902 JSON Patch from one JSON document to another, in time and size linear in theirs.

Objects are compared member by member. Arrays lose their common first and last items; what is
left in the middle is compared item by item when it has the same length on both sides, is one
`add` or `remove` per item when items were only inserted or only deleted (at most
MAX_ITEM_OPERATIONS of them), and otherwise the whole array is replaced: a coarser patch, but
still a correct one, without the quadratic cost of aligning two sequences.

Each operation repeats its whole path, so a fine patch can be far larger than both documents (a
100,000-character key above 2,000 changed items is a 200 MB patch). The patch's size is counted
as it is built, and when it would pass max_patch_size (twice the two documents' JSON, plus
64 KiB) it is made coarser: one operation per changed top-level member, and if even that is too
large, one `replace` of the whole document (path ""). Paths are joined only for operations.

Values are compared as JSON: numbers by value (1 equals 1.0, as same_document has it), and
true is not 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from models.json_document import escape_pointer_token, same_document

MAX_ITEM_OPERATIONS = 16
SIZE_ALLOWANCE = 65_536

Operation = dict[str, Any]


def json_size(value: object) -> int:
    """Characters of `value` as compact JSON, as responses write it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def max_patch_size(before: object, after: object) -> int:
    """The most characters diff(before, after) may take as compact JSON."""
    return 2 * (json_size(before) + json_size(after)) + SIZE_ALLOWANCE


# An operation's characters besides its path and value, and the comma after it.
_REMOVE_FRAME = json_size({"op": "remove", "path": ""}) + 1
_VALUE_FRAME = json_size({"op": "replace", "path": "", "value": None}) - len("null") + 1


class _TooLarge(Exception):
    pass


class _Patch:
    """Operations, the path being visited (as escaped tokens), and the size spent so far."""

    def __init__(self, limit: int) -> None:
        self.operations: list[Operation] = []
        self.tokens: list[str] = []
        self.path_size = 0  # characters of the current path, JSON-escaped
        self.size = 2  # the brackets of the list
        self.limit = limit

    def enter(self, token: str) -> None:
        escaped = "/" + escape_pointer_token(token)
        self.tokens.append(escaped)
        self.path_size += json_size(escaped) - 2

    def leave(self) -> None:
        self.path_size -= json_size(self.tokens.pop()) - 2

    def add(self, op: str, token: str | None, *, value: object = None) -> None:
        """Record `op` at the current path (or at its child `token`)."""
        if token is not None:
            self.enter(token)
        try:
            self.size += self.path_size
            self.size += _REMOVE_FRAME if op == "remove" else _VALUE_FRAME
            if self.size <= self.limit and op != "remove":
                self.size += json_size(value)
            if self.size > self.limit:
                raise _TooLarge
            operation: Operation = {"op": op, "path": "".join(self.tokens)}
            if op != "remove":
                operation["value"] = value
            self.operations.append(operation)
        finally:
            if token is not None:
                self.leave()


def _diff_objects(before: dict[str, Any], after: dict[str, Any], patch: _Patch) -> None:
    for key in before:
        if key not in after:
            patch.add("remove", key)
    for key, value in after.items():
        if key not in before:
            patch.add("add", key, value=value)
        elif _both_containers(before[key], value):
            patch.enter(key)
            _diff(before[key], value, patch)
            patch.leave()
        elif not same_document(before[key], value):
            patch.add("replace", key, value=value)


def _diff_arrays(before: list[Any], after: list[Any], patch: _Patch) -> None:
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
            if _both_containers(old, new):
                patch.enter(str(index))
                _diff(old, new, patch)
                patch.leave()
            elif not same_document(old, new):
                patch.add("replace", str(index), value=new)
    elif not added and len(removed) <= MAX_ITEM_OPERATIONS:
        for _ in removed:
            patch.add("remove", str(prefix))
    elif not removed and len(added) <= MAX_ITEM_OPERATIONS:
        for index, value in enumerate(added, start=prefix):
            patch.add("add", str(index), value=value)
    else:
        patch.add("replace", None, value=after)


def _both_containers(before: object, after: object) -> bool:
    return (isinstance(before, dict) and isinstance(after, dict)) or (
        isinstance(before, list) and isinstance(after, list)
    )


def _diff(before: object, after: object, patch: _Patch) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        _diff_objects(before, after, patch)
    elif isinstance(before, list) and isinstance(after, list):
        _diff_arrays(before, after, patch)
    elif not same_document(before, after):
        patch.add("replace", None, value=after)


def _by_member(before: object, after: object, patch: _Patch) -> None:
    """One operation per top-level member that changed (objects only)."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        raise _TooLarge
    for key in before:
        if key not in after:
            patch.add("remove", key)
    for key, value in after.items():
        if key not in before:
            patch.add("add", key, value=value)
        elif not same_document(before[key], value):
            patch.add("replace", key, value=value)


def diff(before: object, after: object, *, max_size: int | None = None) -> list[Operation]:
    """Operations that turn `before` into `after`, at most `max_size` characters as compact
    JSON (max_patch_size by default; a whole-document replace may exceed a smaller one).
    Callers bound the depth of both."""
    if max_size is None:
        # Most patches are small: the documents are measured only when one is not.
        try:
            return _within(before, after, SIZE_ALLOWANCE, _diff)
        except _TooLarge:
            max_size = max_patch_size(before, after)
    for walk in (_diff, _by_member):
        try:
            return _within(before, after, max_size, walk)
        except _TooLarge:
            continue
    return [{"op": "replace", "path": "", "value": after}]


def _within(
    before: object, after: object, limit: int, walk: Callable[[object, object, _Patch], None]
) -> list[Operation]:
    patch = _Patch(limit)
    walk(before, after, patch)
    return patch.operations
