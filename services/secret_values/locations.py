"""Secret locations: the JSON Pointers (RFC 6901) into a configuration's `config` whose values
are secret, and what is done at them: a written list checked, values masked, placeholders filled
back in, and two revisions made ready for a diff (sealing.py encrypts them).

Every operation walks a trie of the locations' tokens together with the document, copying only
the containers on the way to a location (each once), so its cost is linear in the pointers and
the values it touches, never quadratic in the number of locations. When locations overlap (only
when two lists are united, e.g. two revisions' for a diff: a written list may not overlap), the
outer one wins: its whole value is the secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.configuration import MAX_SECRET_LOCATIONS, PLACEHOLDER
from models.json_document import same_document
from services.errors import FieldProblem

_INDEX = re.compile(r"0|[1-9][0-9]{0,17}")
_BAD_ESCAPE = re.compile(r"~(?![01])")
# A stand-in for a changed secret's old value in a diff: never equal to the placeholder, and
# never in a diff's output (an RFC 6902 patch carries new values only).
_CHANGED = "\x00changed secret"

Replace = Callable[[str, Any], Any]


def pointer_tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of `pointer`; ValueError when it is no JSON Pointer."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError("a JSON Pointer starts with '/' (or is empty)")
    if _BAD_ESCAPE.search(pointer):
        raise ValueError("'~' in a JSON Pointer must be followed by 0 or 1 (~0 is '~', ~1 is '/')")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


MISSING = object()


def _child(container: object, token: str) -> object:
    """The member or item `token` names in `container`, or MISSING."""
    if isinstance(container, dict):
        return container.get(token, MISSING)
    if isinstance(container, list) and _INDEX.fullmatch(token) and int(token) < len(container):
        return container[int(token)]
    return MISSING


def value_at(document: object, pointer: str) -> object:
    """The value `pointer` names in `document`, or MISSING (also for a malformed pointer)."""
    try:
        tokens = pointer_tokens(pointer)
    except ValueError:
        return MISSING
    value = document
    for token in tokens:
        value = _child(value, token)
        if value is MISSING:
            break
    return value


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    pointer: str | None = None  # set where a location ends


@dataclass(frozen=True)
class SecretLocations:
    """A list of secret locations, as stored (so its pointers are well formed)."""

    pointers: tuple[str, ...] = ()
    _root: _Node = field(default_factory=_Node, repr=False, compare=False)

    @classmethod
    def of(cls, pointers: Iterable[str]) -> SecretLocations:
        """ValueError when a pointer is malformed (check_locations says which, for clients)."""
        listed = tuple(pointers)
        root = _Node()
        for pointer in listed:
            node = root
            for token in pointer_tokens(pointer):
                node = node.children.setdefault(token, _Node())
            node.pointer = pointer
        return cls(listed, root)

    def __bool__(self) -> bool:
        return bool(self.pointers)

    def __len__(self) -> int:
        return len(self.pointers)

    def replaced(self, document: Any, replace: Replace) -> Any:
        """A copy of `document` with the value at each (existing) location `v` replaced by
        `replace(pointer, v)`; the rest is shared with `document`, never changed."""
        return _replaced(document, self._root, replace)

    def values(self, document: object) -> Iterator[tuple[str, Any]]:
        """(pointer, value) for each location that exists in `document`."""
        pending: list[tuple[object, _Node]] = [(document, self._root)]
        while pending:
            value, node = pending.pop()
            if node.pointer is not None:
                yield node.pointer, value
                continue
            for token, child in node.children.items():
                found = _child(value, token)
                if found is not MISSING:
                    pending.append((found, child))

    def enclosing(self, pointer: str) -> str | None:
        """The secret location at `pointer` or above it, if any: the value there is, or is
        part of, a secret."""
        node = self._root
        for token in pointer_tokens(pointer):
            if node.pointer is not None:
                return node.pointer
            child = node.children.get(token)
            if child is None:
                return None
            node = child
        return node.pointer

    def holds(self, pointer: str) -> bool:
        """Whether a secret location lies below `pointer` (so the value there holds one)."""
        node: _Node | None = self._root
        for token in pointer_tokens(pointer):
            node = None if node is None or node.pointer is not None else node.children.get(token)
        return node is not None and node.pointer is None and bool(node.children)

    def union(self, other: SecretLocations) -> SecretLocations:
        seen = set(self.pointers)
        return SecretLocations.of(
            self.pointers + tuple(pointer for pointer in other.pointers if pointer not in seen)
        )


def _replaced(value: Any, node: _Node, replace: Replace) -> Any:
    if node.pointer is not None:
        return replace(node.pointer, value)
    if isinstance(value, dict):
        copy: Any = dict(value)
    elif isinstance(value, list):
        copy = list(value)
    else:
        return value
    for token, child in node.children.items():
        found = _child(value, token)
        if found is not MISSING:
            copy[int(token) if isinstance(copy, list) else token] = _replaced(found, child, replace)
    return copy


def mask(document: Any, locations: SecretLocations) -> Any:
    """`document` as a caller who may not reveal secrets sees it."""
    if not locations:
        return document
    return locations.replaced(document, lambda _pointer, _value: PLACEHOLDER)


# Writes by callers that may not reveal: what a change leaves in view


@dataclass(frozen=True, eq=False)
class _Hidden:
    """A part of a stored secret (a scalar, or an empty object or array, inside the value at
    `location`) as `conceal` leaves it: no JSON value, so a change can keep or drop it, never
    make one."""

    location: str


def _hidden_parts(value: Any, hidden: _Hidden) -> Any:
    if isinstance(value, dict) and value:
        return {key: _hidden_parts(item, hidden) for key, item in value.items()}
    if isinstance(value, list) and value:
        return [_hidden_parts(item, hidden) for item in value]
    return hidden


def conceal(document: Any, locations: SecretLocations) -> Any:
    """`document` with every part of each secret value (its scalars and empty containers: the
    keys of its objects and the length of its arrays stay) replaced by a stand-in that names
    the location. A change applied to it keeps a stand-in exactly where, applied to the plain
    document, it keeps that part of the stored secret (see `shown_locations`)."""
    if not locations:
        return document
    return locations.replaced(
        document, lambda pointer, value: _hidden_parts(value, _Hidden(pointer))
    )


def shown_locations(document: Any, locations: SecretLocations) -> list[str]:
    """The secret locations whose stand-ins (see `conceal`) `document` holds outside every one
    of `locations`: where it would show a part of a stored secret to everyone. Decided by
    where each part came from, never by comparing values (a comparison would tell a caller
    whether it guessed a secret)."""
    shown: set[str] = set()
    pending: list[tuple[object, _Node | None]] = [(document, locations._root)]
    while pending:
        value, node = pending.pop()
        if node is not None and node.pointer is not None:
            continue  # at a secret location: the value stays secret
        if isinstance(value, _Hidden):
            shown.add(value.location)
            continue
        items: Iterable[tuple[str, object]]
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = ((str(index), item) for index, item in enumerate(value))
        else:
            continue
        for token, item in items:
            pending.append((item, None if node is None else node.children.get(token)))
    return sorted(shown)


# Checking a written list


def _problem(index: int, rule: str, message: str) -> FieldProblem:
    return FieldProblem(f"secrets.{index}", rule, message, f"/secrets/{index}")


def _syntax_problem(index: int, pointer: str) -> FieldProblem | None:
    if pointer == "":
        return _problem(
            index,
            "secret_location_root",
            "the whole config cannot be one secret: list the members that are secret",
        )
    try:
        pointer_tokens(pointer)
    except ValueError as error:
        return _problem(index, "json_pointer", f"{pointer!r} is not a JSON Pointer: {error}")
    return None


def check_locations(pointers: Sequence[str], config: object) -> list[FieldProblem]:
    """Every reason `pointers` is not a valid list of secret locations in `config`: too many,
    a malformed pointer, one that names nothing in `config`, one listed twice, or one inside
    another (say which one is secret: the outer value, or only a part of it)."""
    if len(pointers) > MAX_SECRET_LOCATIONS:
        return [
            FieldProblem(
                "secrets",
                "secret_locations_too_many",
                f"at most {MAX_SECRET_LOCATIONS} secret locations (got {len(pointers)})",
                "/secrets",
            )
        ]
    problems: list[FieldProblem] = []
    root = _Node()
    for index, pointer in enumerate(pointers):
        syntax = _syntax_problem(index, pointer)
        if syntax is not None:
            problems.append(syntax)
            continue
        if value_at(config, pointer) is MISSING:
            problems.append(
                _problem(
                    index,
                    "secret_location_exists",
                    f"{pointer!r} names no value in config (a secret location must exist)",
                )
            )
            continue
        overlap = _insert(root, pointer)
        if overlap is not None:
            problems.append(overlap(index))
    return problems


def _insert(root: _Node, pointer: str) -> Callable[[int], FieldProblem] | None:
    """Add `pointer` to the trie; how to report it when it repeats or overlaps one in it."""
    node = root
    for token in pointer_tokens(pointer):
        if node.pointer is not None:
            outer = node.pointer
            return lambda index: _problem(
                index,
                "secret_location_overlap",
                f"{pointer!r} lies inside the secret location {outer!r}: list only one of them",
            )
        node = node.children.setdefault(token, _Node())
    if node.pointer is not None:
        return lambda index: _problem(
            index, "secret_location_unique", f"{pointer!r} is listed more than once"
        )
    if node.children:
        inner = _first_location(node)
        return lambda index: _problem(
            index,
            "secret_location_overlap",
            f"{pointer!r} holds the secret location {inner!r}: list only one of them",
        )
    node.pointer = pointer
    return None


def _first_location(node: _Node) -> str:
    while node.pointer is None:
        node = next(iter(node.children.values()))
    return node.pointer


# Writing: placeholders


def fill_placeholders(
    written: Any, locations: SecretLocations, stored: object | None
) -> tuple[Any, list[FieldProblem]]:
    """`written` with the placeholder at each secret location replaced by the value `stored`
    (the current plain config, None on create) has there, so that a masked document written
    back keeps its secrets. A placeholder with no stored value to keep is a problem: storing
    the placeholder itself as the secret would hide the mistake."""
    missing: list[str] = []

    def keep(pointer: str, value: Any) -> Any:
        if not (isinstance(value, str) and value == PLACEHOLDER):
            return value
        kept = MISSING if stored is None else value_at(stored, pointer)
        if kept is MISSING:
            missing.append(pointer)
            return value
        return kept

    filled = locations.replaced(written, keep) if locations else written
    problems = [
        FieldProblem.at(
            "/config" + pointer,
            rule="secret_placeholder_without_value",
            message=f"the placeholder {PLACEHOLDER!r} keeps a stored secret, but the stored "
            "config has no value here: send the value itself",
        )
        for pointer in missing
    ]
    return filled, problems


def placeholders_unmarked(
    written: Any, locations: SecretLocations, stored_locations: SecretLocations
) -> list[FieldProblem]:
    """A placeholder at a location that was secret and no longer is (nor lies inside one): it
    would be stored as the plain text "********" and the secret lost without a word. Only
    the value itself can unmark a secret."""
    return [
        FieldProblem.at(
            "/config" + pointer,
            rule="secret_placeholder_unmarked",
            message=f"the placeholder {PLACEHOLDER!r} keeps a stored secret only at a secret "
            "location, and this one is no longer listed in secrets: send the value itself "
            "(or keep the location in secrets)",
        )
        for pointer, value in stored_locations.values(written)
        if isinstance(value, str) and value == PLACEHOLDER and locations.enclosing(pointer) is None
    ]


# Diffs


def diff_views(
    before: Any,
    before_locations: SecretLocations,
    after: Any,
    after_locations: SecretLocations,
) -> tuple[Any, Any]:
    """Two plain configs masked for a diff: at every location secret in either, an unchanged
    value becomes the placeholder on both sides (no operation), a changed one the placeholder
    in `after` only (one `replace` whose value is the placeholder), and one on one side only
    the placeholder there (an `add` of the placeholder, or a `remove`). So a diff says that a
    secret location changed, never from what to what."""
    locations = before_locations.union(after_locations)
    if not locations:
        return before, after
    after_values = dict(locations.values(after))

    def before_view(pointer: str, value: Any) -> Any:
        other = after_values.get(pointer, MISSING)
        if other is MISSING or same_document(value, other):
            return PLACEHOLDER
        return _CHANGED

    return (
        locations.replaced(before, before_view),
        locations.replaced(after, lambda _pointer, _value: PLACEHOLDER),
    )
