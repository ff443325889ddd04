"""Conditional requests (RFC 9110 §13): ETag, If-None-Match on reads, If-Match and
If-None-Match on writes.

A resource's ETag is its version number in quotes: a configuration's revision, an
application's version (which also changes when its list of configurations does). A
configuration that holds secrets has a second representation, with the values revealed, whose
ETag carries a suffix (`"4-revealed"`): the two never validate each other on reads, and a
write's If-Match accepts either as naming the revision. Writes pass
the versions the headers name down to the service as a Precondition (the versions it expects
and those it must not find), which it checks in the transaction that writes, against the
version its compare-and-set writes on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Header, Response
from starlette.exceptions import HTTPException

from api.app_state import SettingsDep
from models.versioned import Precondition, Versioned

# An entity-tag: optional W/ and an opaque quoted string (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*(?:,|$)')
_ISSUED_TAG = re.compile(r"([1-9][0-9]{0,18})(?:-revealed)?")
_MAX_VERSION = 2**63 - 1  # versions are bigint
REVEALED_SUFFIX = "-revealed"


def entity_tag(version: int, *, revealed: bool = False) -> str:
    """The strong ETag of a resource at `version` (of its revealed representation, when
    `revealed`)."""
    return f'"{version}{REVEALED_SUFFIX}"' if revealed else f'"{version}"'


ETAG_HEADER_DOC: dict[str, Any] = {
    "ETag": {
        "description": "Strong validator of this representation; send it back in If-Match "
        "to update safely, or in If-None-Match to revalidate.",
        "schema": {"type": "string", "examples": ['"3"']},
    }
}


def entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """(weak, opaque) pairs of a comma-separated list; None when the list is malformed."""
    tags: list[tuple[bool, str]] = []
    position = 0
    text = header.strip()
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def parse_if_match(header: str) -> Precondition:
    """`*`, or the versions named by strong ETags. A malformed or weak tag matches nothing,
    so the write fails safe with 412 instead of silently overwriting."""
    if header.strip() == "*":
        return Precondition(any_version=True)
    versions = {
        version
        for weak, opaque in entity_tags(header) or []
        if not weak and (version := _issued(opaque)) is not None
    }
    return Precondition(versions=frozenset(versions))


def _issued(opaque: str) -> int | None:
    """The version `opaque` names, if it is spelled as this service spells ETags (strong
    comparison is character by character, so "03" is not "3"); either representation's tag
    names it."""
    match = _ISSUED_TAG.fullmatch(opaque)
    if match is None or int(match.group(1)) > _MAX_VERSION:
        return None
    return int(match.group(1))


def parse_if_none_match(header: str, expected: Precondition) -> Precondition:
    """`expected`, and also: not at any version the header names (weak comparison), or, for
    `*`, not at all. A malformed header names nothing, as it does on reads."""
    if header.strip() == "*":
        return replace(expected, must_not_exist=True)
    versions = {version for _, opaque in entity_tags(header) or [] if (version := _issued(opaque))}
    return replace(expected, unwanted_versions=frozenset(versions))


def none_match(header: str | None, etag: str) -> bool:
    """True when If-None-Match names `etag` (weak comparison) or is `*`: answer 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(f'"{opaque}"' == etag for _, opaque in entity_tags(header) or [])


async def get_precondition(  # async: no thread pool hop (it never waits)
    settings: SettingsDep,
    if_match: Annotated[
        str | None,
        Header(
            description="Only write if the resource still has this ETag (or `*`: if it "
            "exists). A mismatch is a 412 that names the current revision.",
        ),
    ] = None,
    if_none_match: Annotated[
        str | None,
        Header(
            description="Only write if the resource's ETag is none of these (`*`: only if "
            "it does not exist, so any existing one is a 412). Nothing is written on a 412.",
        ),
    ] = None,
) -> Precondition | None:
    if if_match is None and settings.require_if_match:
        raise HTTPException(
            428,
            detail="this server requires If-Match on writes: GET the resource and send "
            "its ETag in If-Match (or If-Match: * to overwrite whatever is there)",
        )
    if if_match is None and if_none_match is None:
        return None
    expected = Precondition(any_version=True) if if_match is None else parse_if_match(if_match)
    if if_none_match is None:
        return expected
    return parse_if_none_match(if_none_match, expected)


PreconditionDep = Annotated[Precondition | None, Depends(get_precondition)]

# OpenAPI entries: a 200 with its ETag; a 304 for a read whose If-None-Match names it.
TAGGED: dict[int | str, dict[str, Any]] = {200: {"headers": ETAG_HEADER_DOC}}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Not modified: If-None-Match named the current ETag.",
        "headers": ETAG_HEADER_DOC,
    }
}

IfNoneMatch = Annotated[
    str | None,
    Header(description="Answer 304 without a body if the ETag is still one of these."),
]


def tagged(response: Response, resource: Versioned[Any], if_none_match: str | None = None) -> Any:
    """The resource's value, with its ETag set on the response; a bare 304 instead when the
    read's If-None-Match names that ETag."""
    etag = entity_tag(resource.version)
    if none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return resource.value
