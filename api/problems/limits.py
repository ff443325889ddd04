"""Caps on what one problem body holds, so that a request cannot make its own error huge.

Every error repeats its field and pointer, and a single 900 KB key above 50 broken rules would
otherwise be echoed 100 times (a 90 MB body). So `field`, `pointer` and `message` are
cut to MAX_PROBLEM_TEXT characters and `detail` to four times that (ending in "…"), and errors
stop being listed once they would take more than MAX_PROBLEM_ERRORS_SIZE characters;
`errors_omitted` then counts the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_PROBLEM_TEXT = 1024
MAX_PROBLEM_ERRORS_SIZE = 65_536


def shorten(text: str, limit: int = MAX_PROBLEM_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def capped_errors(
    errors: Iterable[dict[str, Any]], *, count: int
) -> tuple[list[dict[str, Any]], int]:
    """The `count` errors (JSON objects, made as they are needed), each shortened, as many as
    fit; and how many did not."""
    kept: list[dict[str, Any]] = []
    size = 0
    for item in errors:
        for name in ("field", "pointer", "message"):
            if name in item:
                item[name] = shorten(item[name])
        size += len(json.dumps(item, ensure_ascii=False)) + 2
        if size > MAX_PROBLEM_ERRORS_SIZE:
            break
        kept.append(item)
    return kept, count - len(kept)
