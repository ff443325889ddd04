"""Rules for the JSON documents a configuration holds, beyond "it parsed".

PostgreSQL's jsonb cannot store U+0000 or lone surrogates, and JSON cannot carry Infinity or NaN;
very deep nesting is refused so that no later step (serialising, diffing) can blow the stack.
Each problem names its place with an RFC 6901 JSON Pointer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True)
class DocumentProblem:
    pointer: str
    rule: str
    message: str


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def json_pointer(tokens: Iterable[object]) -> str:
    """The RFC 6901 JSON Pointer made of `tokens` (keys or array indexes), each escaped."""
    return "".join("/" + escape_pointer_token(str(token)) for token in tokens)


def _text_problem(text: str, pointer: str, what: str) -> DocumentProblem | None:
    if "\x00" in text:
        return DocumentProblem(pointer, "text_nul", f"{what} must not contain U+0000")
    if any("\ud800" <= character <= "\udfff" for character in text):
        return DocumentProblem(
            pointer, "unicode_surrogate", f"{what} must be valid Unicode (lone surrogate)"
        )
    return None


def find_document_problems(document: object, *, max_depth: int) -> list[DocumentProblem]:
    """Every place where `document` breaks a storage rule (at most MAX_REPORTED_PROBLEMS)."""
    problems: list[DocumentProblem] = []
    pending: list[tuple[object, str, int]] = [(document, "", 1)]
    while pending:
        value, pointer, depth = pending.pop()
        if isinstance(value, dict | list) and depth > max_depth:
            problems.append(
                DocumentProblem(
                    pointer,
                    "nesting_too_deep",
                    f"objects and arrays may be nested at most {max_depth} levels deep",
                )
            )
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{pointer}/{escape_pointer_token(str(key))}"
                if problem := _text_problem(str(key), child, "a key"):
                    problems.append(problem)
                pending.append((item, child, depth + 1))
        elif isinstance(value, list):
            pending.extend(
                (item, f"{pointer}/{index}", depth + 1) for index, item in enumerate(value)
            )
        elif isinstance(value, str):
            if problem := _text_problem(value, pointer, "a string"):
                problems.append(problem)
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(
                DocumentProblem(
                    pointer, "number_out_of_range", "a number must be finite (got one too large)"
                )
            )
    return sorted(problems, key=lambda problem: problem.pointer)[:MAX_REPORTED_PROBLEMS]


def canonical_value(document: object) -> object:
    """A value that is equal for equal JSON documents and differs for different ones.

    Python's == is not enough: it treats 1 and true as the same. Numbers compare by their exact
    decimal value, as PostgreSQL's jsonb stores them (it keeps 1e20 as 100000000000000000000).
    Callers bound the depth first.
    """
    if isinstance(document, bool) or document is None or isinstance(document, str):
        return (type(document).__name__, document)
    if isinstance(document, int | float):
        return ("number", Decimal(repr(document) if isinstance(document, float) else document))
    if isinstance(document, dict):
        return (
            "object",
            frozenset((key, canonical_value(value)) for key, value in document.items()),
        )
    if isinstance(document, list):
        return ("array", tuple(canonical_value(item) for item in document))
    raise TypeError(f"not a JSON value: {type(document).__name__}")


def _same_number(left: int | float, right: int | float) -> bool:
    if type(left) is type(right):
        return left == right  # the same double has the same shortest spelling
    number, integer = (left, right) if isinstance(left, float) else (right, left)
    return Decimal(repr(number)) == integer


def same_document(left: object, right: object) -> bool:
    """Equal as canonical_value has it, without building it: one walk, no allocation.
    Callers bound the depth first."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return _same_number(left, right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            same_document(value, right[key]) for key, value in left.items()
        )
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_document, left, right))
    return type(left) is type(right) and left == right
