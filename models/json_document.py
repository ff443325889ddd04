"""Rules for the JSON documents a configuration holds, beyond "it parsed".

PostgreSQL's jsonb cannot store U+0000 or lone surrogates, and JSON cannot carry Infinity or NaN;
very deep nesting is refused so that no later step (serialising, diffing) can blow the stack.
Each problem names its place with an RFC 6901 JSON Pointer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MAX_REPORTED_PROBLEMS = 20
# U+0000 or a lone surrogate: a character class runs in linear time, in C.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# Python spells a float without an exponent from 1e-4 up to 1e16, as PostgreSQL does.
_PLAIN, _LARGE = 1e-4, 1e16


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
    if _UNSTORABLE_CHARACTER.search(text) is None:
        return None
    if "\x00" in text:
        return DocumentProblem(pointer, "text_nul", f"{what} must not contain U+0000")
    if any("\ud800" <= character <= "\udfff" for character in text):
        return DocumentProblem(
            pointer, "unicode_surrogate", f"{what} must be valid Unicode (lone surrogate)"
        )
    return None


def _unstorable_keys(container: dict[object, object]) -> bool:
    try:
        keys = "".join(container)  # type: ignore[arg-type]
    except TypeError:  # a key that is not a string
        return True
    return _UNSTORABLE_CHARACTER.search(keys) is not None


def _breaks_rules(document: object, max_depth: int) -> tuple[bool, int]:
    """Whether `document` breaks any storage rule, and how many characters its numbers gain
    when PostgreSQL writes them out in full: one walk that builds no pointers, since nearly
    every document passes (find_document_problems then says where)."""
    if not isinstance(document, dict | list):
        return _breaks_rules([document], max_depth + 1)
    unstorable = _UNSTORABLE_CHARACTER.search
    pending: list[tuple[dict[object, object] | list[object], int]] = [(document, 1)]
    growth = 0
    while pending:
        container, depth = pending.pop()
        items: Iterable[object] = container
        if isinstance(container, dict):
            if _unstorable_keys(container):
                return True, growth
            items = container.values()
        broken = depth > max_depth
        for item in items:
            if isinstance(item, str):
                broken = broken or unstorable(item) is not None
            elif isinstance(item, dict | list):
                pending.append((item, depth + 1))
            elif isinstance(item, float) and not _PLAIN <= abs(item) < _LARGE and item != 0:
                # Only floats Python spells with an exponent (1e+308, 1e-05) can grow.
                if math.isfinite(item):
                    growth += stored_number_growth(item)
                else:
                    broken = True
        if broken:
            return True, growth
    return False, growth


def stored_number_growth(number: float) -> int:
    """How many more characters `number` takes as PostgreSQL's numeric output (never an
    exponent: 1e308 is 1 and 308 zeros, 1e-300 is "0." and 299 zeros and 1) than as JSON."""
    spelling = repr(number)
    _, digits, exponent = Decimal(spelling).as_tuple()
    if not isinstance(exponent, int):  # not finite: refused by another rule
        return 0
    if exponent >= 0:
        written = len(digits) + exponent
    else:
        written = max(1, len(digits) + exponent) + 1 - exponent
    return written + (number < 0) - len(spelling)


def _stored_size_problem(document: object, growth: int, max_bytes: int) -> DocumentProblem | None:
    if growth == 0:
        return None
    size = len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()) + growth
    if size <= max_bytes:
        return None
    return DocumentProblem(
        "",
        "document_too_large_when_stored",
        f"this document takes {size} bytes as stored and read back, more than MAX_BODY_BYTES "
        f"({max_bytes}): PostgreSQL writes numbers out in full (1e308 as 309 digits), so send "
        "such numbers as strings",
    )


def find_document_problems(
    document: object, *, max_depth: int, max_stored_bytes: int | None = None
) -> list[DocumentProblem]:
    """Every place where `document` breaks a storage rule (at most MAX_REPORTED_PROBLEMS);
    with `max_stored_bytes`, also a document whose numbers grow past it once stored."""
    broken, growth = _breaks_rules(document, max_depth)
    if not broken:
        if max_stored_bytes is None:
            return []
        problem = _stored_size_problem(document, growth, max_stored_bytes)
        return [] if problem is None else [problem]
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


class _Boolean:
    """A JSON boolean's canonical form: Python's True equals 1, a JSON true does not."""

    __slots__ = ()


_TRUE, _FALSE = _Boolean(), _Boolean()


def canonical_value(document: object) -> object:
    """A hashable value that is equal for equal JSON documents and differs for different ones.

    Python's == is not enough: it treats 1 and true as the same. Numbers compare by their exact
    decimal value, as PostgreSQL's jsonb stores them (it keeps 1e20 as 100000000000000000000).
    Strings, numbers and null stand for themselves, arrays become tuples and objects frozensets
    of (key, value) pairs: no two kinds of JSON value can be equal in Python. Callers bound the
    depth first.
    """
    if isinstance(document, dict):
        return frozenset([(key, canonical_value(value)) for key, value in document.items()])
    if isinstance(document, list):
        return tuple([canonical_value(item) for item in document])
    if isinstance(document, bool):
        return _TRUE if document else _FALSE
    if isinstance(document, float):
        return _exact_number(document)
    if isinstance(document, str | int) or document is None:
        return document
    raise TypeError(f"not a JSON value: {type(document).__name__}")


def _exact_number(number: float) -> int | float:
    """A float as jsonb keeps it: an integral one is the integer its shortest spelling names
    (1e23 is 10**23, not the double nearest to it), so it equals that int and hashes alike.
    Two other floats are equal exactly when their spellings are, and never equal an int."""
    return int(Decimal(repr(number))) if number.is_integer() else number


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
