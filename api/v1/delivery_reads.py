"""The HTTP side of the delivery reads (a configuration by id, a document by name): their
headers, OpenAPI entries and response.

`read_until_changed` reads what the request asks for: If-None-Match (304 while it is current),
`Prefer: wait=N` (RFC 7240: a long poll, the wait applied said in `Preference-Applied`) and
`Cache-Control: no-cache` (PostgreSQL rather than this instance's memory); delivery/reads.py
does the reading and the waiting.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request, Response

from api.app_state import get_delivery, get_secret_cipher
from api.auth.authorization import may_reveal, reauthenticate
from api.v1.conditional import entity_tag, none_match
from api.v1.representations import REVEALED_HEADER_DOC, REVEALED_HEADERS, caller_of, record_reveal
from api.v1.value_names import names_from_raw_path
from delivery.reads import Outcome, Source, by_id, by_names, read_current, wait_for_change
from delivery.response_cache import CachedConfiguration
from models.fields import parse_resource_id
from services.errors import ApplicationNameNotFound, ConfigurationNotFound

_WAIT_VALUE = re.compile(r'"?([0-9]{1,9})"?')

DOCUMENT_EXAMPLE = {"database": {"pool_size": 20}, "features": {"new_checkout": True}}

DELIVERY_HEADERS_DOC: dict[str, Any] = {
    "ETag": {
        "description": "The configuration's revision, quoted (with `-revealed` when the body "
        "shows secret values); send it in If-None-Match.",
        "schema": {"type": "string", "examples": ['"4"', '"4-revealed"']},
    },
    "Config-Revision": {
        "description": "The revision number of the document.",
        "schema": {"type": "integer", "examples": [4]},
    },
    "Preference-Applied": {
        "description": "`wait=N` when the request's `Prefer: wait` was honoured (capped at "
        "LONG_POLL_MAX_SECONDS).",
        "schema": {"type": "string", "examples": ["wait=30"]},
    },
    **REVEALED_HEADER_DOC,
}

NOT_MODIFIED_WAIT_DOC: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "If-None-Match names the current ETag (with `Prefer: wait`: nothing "
        "changed during the wait). No body.",
        "headers": DELIVERY_HEADERS_DOC,
    }
}


def _header(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


# The fast read routes read these headers from the request themselves (declaring them as
# parameters costs a validation each per request), so they are documented here.
READ_HEADERS_DOC: dict[str, Any] = {
    "parameters": [
        _header(
            "If-None-Match", "Answer 304 without a body if the ETag is still one of these.", '"3"'
        ),
        _header(
            "Prefer",
            "`wait=<seconds>` (RFC 7240) with If-None-Match: hold the request until the "
            "configuration changes (200), is deleted (404) or the wait ends (304). At most "
            "LONG_POLL_MAX_SECONDS (default 60).",
            "wait=30",
        ),
        _header(
            "Cache-Control",
            "`no-cache` reads PostgreSQL instead of this instance's memory.",
            "no-cache",
        ),
    ]
}


def shows_secrets(request: Request, entry: CachedConfiguration) -> bool:
    """Whether this request gets `entry`'s revealed representation (O(1): the masked one is
    ready, the decision needs no database)."""
    return entry.has_secrets and may_reveal(caller_of(request), entry.application_id)


def representation_tag(request: Request, entry: CachedConfiguration) -> str:
    return entity_tag(entry.revision, revealed=shows_secrets(request, entry))


async def delivery_response(request: Request, outcome: Outcome, *, document: bool) -> Response:
    """The answer to a delivery read: the whole configuration, or its bare `document`, as the
    caller sees it (a reveal audited first)."""
    entry = outcome.entry
    revealing = shows_secrets(request, entry)
    headers = {
        "ETag": entity_tag(entry.revision, revealed=revealing),
        "Config-Revision": str(entry.revision),
        **(REVEALED_HEADERS if revealing else {}),
    }
    if outcome.waited is not None:
        headers["Preference-Applied"] = f"wait={outcome.waited:g}"
    if not outcome.modified:
        return Response(status_code=304, headers=headers)
    if revealing:
        resource, bare = entry.revealed(get_secret_cipher(request))  # before the audit: a
        await record_reveal(  # value that does not open (503) is no reveal
            request,
            configuration_id=entry.configuration_id,
            application_id=entry.application_id,
            revision=entry.revision,
        )
    else:
        resource, bare = entry.resource_body, entry.document_body
    return Response(bare if document else resource, media_type="application/json", headers=headers)


def wants_fresh(request: Request) -> bool:
    return "no-cache" in request.headers.get("cache-control", "").lower()


def preferences(header: str) -> list[tuple[str, str]]:
    """RFC 7240: (name, value) of each preference, in order. Preferences are separated by
    commas (outside quoted strings); what follows a `;` are that preference's parameters."""
    found: list[tuple[str, str]] = []
    start, quoted = 0, False
    for index, character in enumerate(header + ","):
        if character == '"':
            quoted = not quoted
        elif character == "," and not quoted:
            token = header[start:index].split(";", 1)[0]
            name, _, value = token.partition("=")
            if name.strip():
                found.append((name.strip().lower(), value.strip()))
            start = index + 1
    return found


def preferred_wait(request: Request, limit: float) -> float | None:
    """The `wait` preference of the Prefer header(s), capped at `limit`; None when absent or
    not a whole number of seconds. The first `wait` counts (RFC 7240, section 2)."""
    header = ",".join(request.headers.getlist("prefer"))
    for name, value in preferences(header):
        if name == "wait":
            match = _WAIT_VALUE.fullmatch(value)
            return None if match is None else min(float(match.group(1)), limit)
    return None


def still_current(request: Request, if_none_match: str | None, entry: CachedConfiguration) -> bool:
    tag = representation_tag(request, entry)
    return if_none_match == tag or none_match(if_none_match, tag)  # the common case first


async def read_until_changed(request: Request, source: Source) -> Outcome:
    """The current entry; with If-None-Match and `Prefer: wait`, held until it changes
    (modified), is deleted (NotFound raised by the re-read) or the wait ends (not modified).
    After each wait the request's caller is checked again: a key revoked meanwhile gets its 401."""
    delivery = get_delivery(request)
    if_none_match = request.headers.get("if-none-match")
    fresh = wants_fresh(request)
    entry = await read_current(delivery, source, fresh=fresh)
    if not still_current(request, if_none_match, entry):
        return Outcome(entry, modified=True, waited=None)
    wait = preferred_wait(request, delivery.settings.long_poll_max_seconds)
    if not wait:
        return Outcome(entry, modified=False, waited=None)
    # An answer after waiting says so, even a problem (a 404 when it was deleted meanwhile).
    request.state.preference_applied = f"wait={wait:g}"
    return await wait_for_change(
        delivery,
        source,
        entry,
        unchanged=lambda current: still_current(request, if_none_match, current),
        seconds=wait,
        fresh=fresh,
        # The key may have been revoked or expired while it waited, or the identity token may
        # have expired or lost its binding: 401 (or 403) then, as for a new request.
        after_waiting=lambda: reauthenticate(request),
    )


# The raw handlers the edge answers the two reads with (api/edge/hot_routes.py); the routes'
# endpoints call them too, so both ways give the same answer.


def has_configuration_id(request: Request) -> bool:
    """Whether the path's id is well-formed (otherwise the framework answers its 422)."""
    try:
        parse_resource_id(request.path_params["configuration_id"])
    except ValueError:
        return False
    return True


async def read_configuration(request: Request) -> Response:
    """GET /api/v1/configurations/{configuration_id}, authorized."""
    configuration_id = parse_resource_id(request.path_params["configuration_id"])
    outcome = await read_until_changed(request, by_id(configuration_id))
    # A long poll's caller is checked again after it waited, and may reach less by then (a
    # binding deleted while others remain).
    if not caller_of(request).reaches(outcome.entry.application_id):
        raise ConfigurationNotFound(configuration_id)
    return await delivery_response(request, outcome, document=False)


def without_query(request: Request) -> bool:
    """A values read without `?revision=` (or anything else the framework validates)."""
    return not request.scope["query_string"]


async def read_document(request: Request) -> Response:
    """GET /api/v1/values/{application_name}/{configuration_name} (the current revision),
    authorized."""
    application_name, name = names_from_raw_path(request)
    outcome = await read_until_changed(request, by_names(application_name, name))
    reached(request, outcome.entry.application_id, application_name)
    return await delivery_response(request, outcome, document=True)


def reached(request: Request, application_id: str, application_name: str) -> None:
    """The names were checked before the read, which finds them again: if they came to name
    another application's configuration in between (a rename; a long poll's re-read after it
    woke), that one is out of reach unless the caller reaches it too (the same 404 as for an
    application it does not reach). A long poll's caller, checked again after it waited, may
    also reach less by then (a binding deleted while others remain)."""
    if not caller_of(request).reaches(application_id):
        raise ApplicationNameNotFound(application_name)
