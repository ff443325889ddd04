"""Whether a verified token's claims match what a binding asks for.

A binding names claims and the values it accepts: `{"sub": "alice"}`, `{"groups": ["ops",
"sre"]}`, `{"/kubernetes.io/namespace": "billing"}`. A name that starts with `/` is a JSON
Pointer (RFC 6901) into the claims; any other name is a top-level claim. A claim matches when
the token's value is one of the accepted values, or is a list holding one of them. Values
compare by JSON type and value: `true` is not `1`, `"1"` is not `1`. Whatever the token holds
(an object, null, a string where a list was expected, a claim that is missing), the answer is a
plain yes or no; nothing here raises for a token's claims. The cost is linear in the claims
looked at: accepted values are kept in a set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.identity_binding import parse_json_pointer

ClaimValue = str | int | bool
_MISSING = object()
_MAX_INDEX_DIGITS = 9


def _step(value: Any, part: str) -> Any:
    if isinstance(value, dict):
        return value.get(part, _MISSING)
    if isinstance(value, list) and _is_index(part):
        index = int(part)
        return value[index] if index < len(value) else _MISSING
    return _MISSING


def _is_index(part: str) -> bool:
    """An array index as RFC 6901 writes it: ASCII digits, no leading zero."""
    return (
        0 < len(part) <= _MAX_INDEX_DIGITS
        and part.isascii()
        and part.isdigit()
        and (part == "0" or not part.startswith("0"))
    )


def _typed(value: Any) -> tuple[type, ClaimValue] | None:
    """A value with its JSON type, so that True and 1 stay apart; None for what no binding
    can name (null, numbers with a fraction, objects, lists)."""
    if isinstance(value, bool | int | str):
        return type(value), value
    return None


@dataclass(frozen=True)
class ClaimCondition:
    """One named claim and the values it accepts, compiled once."""

    path: tuple[str, ...]
    accepted: frozenset[tuple[type, ClaimValue]]

    def holds(self, claims: Mapping[str, Any]) -> bool:
        value: Any = claims
        for part in self.path:
            value = _step(value, part)
            if value is _MISSING:
                return False
        items = value if isinstance(value, list) else [value]
        return any((typed := _typed(item)) is not None and typed in self.accepted for item in items)


@dataclass(frozen=True)
class ClaimRule:
    """Every claim a binding names: it matches when each of them holds."""

    conditions: tuple[ClaimCondition, ...]

    @classmethod
    def compile(cls, claims: Mapping[str, ClaimValue | Sequence[ClaimValue]]) -> ClaimRule:
        """ValueError for a name that starts with "/" but is no JSON Pointer."""
        conditions = []
        for name, wanted in claims.items():
            path = parse_json_pointer(name) if name.startswith("/") else [name]
            if path is None:
                raise ValueError(
                    f"claim {name!r} is no JSON Pointer: '~' must be followed by 0 or 1"
                )
            values = [wanted] if isinstance(wanted, ClaimValue) else list(wanted)
            accepted = frozenset(typed for value in values if (typed := _typed(value)) is not None)
            conditions.append(ClaimCondition(path=tuple(path), accepted=accepted))
        return cls(conditions=tuple(conditions))

    def matches(self, claims: Mapping[str, Any]) -> bool:
        return bool(self.conditions) and all(
            condition.holds(claims) for condition in self.conditions
        )
