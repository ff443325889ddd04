"""Headers, OpenAPI entries and the response shape shared by the delivery read routes."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from api.problems.handlers import entity_tag
from delivery.runtime import Outcome

DOCUMENT_EXAMPLE = {"database": {"pool_size": 20}, "features": {"new_checkout": True}}

DELIVERY_HEADERS_DOC: dict[str, Any] = {
    "ETag": {
        "description": "The configuration's revision, quoted; send it in If-None-Match.",
        "schema": {"type": "string", "examples": ['"4"']},
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


def delivery_response(outcome: Outcome, body: bytes) -> Response:
    revision = outcome.entry.revision
    headers = {"ETag": entity_tag(revision), "Config-Revision": str(revision)}
    if outcome.waited is not None:
        headers["Preference-Applied"] = f"wait={outcome.waited:g}"
    if not outcome.modified:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


EVENT_STREAM = "text/event-stream"
STREAM_EXAMPLE = (
    ": stream open\n\n"
    "id: 42\nevent: updated\n"
    'data: {"position":42,"kind":"updated","application_id":"01JQ3V6KX8Q7M4Z2W9R5T1N0BC",'
    '"configuration_id":"01JQ3V7B2D4F6H8K0M2P4R6T8V","name":"production","revision":4}\n\n'
    ": keep-alive\n\n"
)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless `text/event-stream`: one event per change (`id:` its "
        "position, `event:` its kind, `data:` the change as JSON), `: keep-alive` comments "
        "every EVENTS_HEARTBEAT_SECONDS, and `event: reset` when the position asked for is no "
        "longer in the change log (read everything again; the stream continues after the "
        "reset's `id`). A Last-Event-ID that is not a position also gets a `reset` first.",
        "headers": {
            "Cache-Control": {
                "description": "`no-cache`: a stream is never stored.",
                "schema": {"type": "string", "examples": ["no-cache"]},
            },
            "X-Accel-Buffering": {
                "description": "`no`: tells nginx not to buffer the stream.",
                "schema": {"type": "string", "examples": ["no"]},
            },
        },
        "content": {EVENT_STREAM: {"schema": {"type": "string"}, "example": STREAM_EXAMPLE}},
    }
}
