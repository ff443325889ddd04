"""A bound on the work one JSON Schema check may do, and the RE2 patterns it runs.

JSON Schema validation costs about (schema size) x (document size): an `allOf` of thousands of
subschemas over a 1 MiB document, or an `enum` of 100,000 values under `items`, multiply. So
every keyword application, every pattern compiled and every string searched is charged to a
budget, and a check that overspends stops with TooExpensive (the write is refused) instead of
holding a worker.
One unit is a few microseconds of work on a 2-core machine.

Patterns run on RE2, whose time is linear in the text (Python's `re` backtracks, and
`^(a+)+$` on 40 characters takes minutes while holding the GIL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import re2

# About a third of a second of jsonschema keyword applications on a 2-core machine, so that
# even a refused check stays well under a second.
WORK_BUDGET = 50_000
# Checking a schema against the 2020-12 meta-schema costs about 100 units per subschema.
SCHEMA_WORK_BUDGET = 125_000
_PATTERN_MEMORY_BYTES = 1 << 20  # RE2's max_mem: a larger program fails to compile, quickly
_FAILED_COMPILE_COST = 20_000  # giving up on a too-large program costs about this much


class TooExpensive(Exception):
    """The check would take longer than any request may."""


class UnusablePattern(Exception):
    """A stored schema's pattern that RE2 cannot run (new schemas with one are refused)."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(pattern, reason)
        self.pattern = pattern
        self.reason = reason


@dataclass
class _Work:
    remaining: int
    patterns: dict[str, re2._Regexp | str] = field(default_factory=dict)


_work: ContextVar[_Work | None] = ContextVar("json_schema_work", default=None)


@contextmanager
def bounded_work(budget: int | None = None) -> Iterator[None]:
    """Charge the work done inside to a budget of `budget` units (WORK_BUDGET by default)."""
    token = _work.set(_Work(remaining=WORK_BUDGET if budget is None else budget))
    try:
        yield
    finally:
        _work.reset(token)


def charge(units: int) -> None:
    work = _work.get()
    if work is None:
        return
    work.remaining -= units
    if work.remaining < 0:
        raise TooExpensive


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _PATTERN_MEMORY_BYTES
    options.log_errors = False
    return options


_OPTIONS = _options()


def _compile(pattern: str) -> re2._Regexp | str:
    charge(1 + len(pattern))
    try:
        regexp = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        charge(_FAILED_COMPILE_COST)
        reason = error.args[0] if error.args else "cannot be compiled"
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    charge(regexp.programsize)
    return regexp


def compiled(pattern: str) -> re2._Regexp | str:
    """The RE2 program for `pattern`, or why RE2 cannot run it; cached for one bounded check."""
    work = _work.get()
    if work is None:
        return _compile(pattern)
    if pattern not in work.patterns:
        work.patterns[pattern] = _compile(pattern)
    return work.patterns[pattern]


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used, or None."""
    regexp = compiled(pattern)
    if isinstance(regexp, str):
        return (
            f"RE2 cannot run this pattern ({regexp}); patterns use RE2 syntax, "
            "and backreferences and lookaround are not supported"
        )
    return None


def search(regexp: re2._Regexp, text: str) -> bool:
    # RE2 falls back to a simulation that costs (text length) x (program size) at worst.
    charge(1 + len(text) * regexp.programsize // 65_536)
    return regexp.search(text) is not None
