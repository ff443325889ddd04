"""Rules for the JSON documents a configuration holds, beyond "it parsed".

PostgreSQL's jsonb cannot store U+0000 or lone surrogates, and JSON cannot carry Infinity or NaN;
very deep nesting is refused so that no later step (serialising, diffing) can blow the stack.
Each problem names its place with an RFC 6901 JSON Pointer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True)
class DocumentProblem:
    pointer: str
    rule: str
    message: str


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


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
    while pending and len(problems) < MAX_REPORTED_PROBLEMS:
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
    return sorted(problems[:MAX_REPORTED_PROBLEMS], key=lambda problem: problem.pointer)


def canonical_json(document: object) -> str:
    """A JSON text that is equal for equal documents and differs for different ones.

    Python's == is not enough: it treats 1, 1.0 and true as the same value.
    """
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_document(left: object, right: object) -> bool:
    return canonical_json(left) == canonical_json(right)
