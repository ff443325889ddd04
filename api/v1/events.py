"""Server-Sent Events routes: every change, live, resumable from its change-log position.

The stream itself (subscribe, replay, live, heartbeats) is delivery/streams.py; here are the
routes, what they read from the request, and how a stream's key is checked again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.app_state import get_delivery
from api.auth.authorization import (
    ApplicationFrom,
    AuthenticatedCaller,
    Permission,
    reauthenticate,
    requires,
    scope_of,
)
from api.auth.caller import Caller
from api.problems.examples import problem_responses
from delivery.streams import MAX_POSITION, Resume, open_stream, resume_position
from identity.rejections import TokenRejected
from models.fields import ApplicationId

router = APIRouter(tags=["delivery"])

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

AfterQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="Replay the changes after this position first (as Last-Event-ID does).",
    ),
]
LastEventIdHeader = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        description="Sent by EventSource on reconnect: replay what was missed after it.",
    ),
]


async def key_still_usable(request: Request) -> bool:
    """The stream's caller checked again, as every request's is (through the same caches: a
    key's revocation or a binding's change on this instance counts at once, on another within
    API_KEY_CACHE_SECONDS); an identity token that expired, or whose bindings now grant something
    else, ends the stream too (the client reconnects, and gets what it may have now)."""
    before: Caller = request.state.caller
    try:
        after = await reauthenticate(request)
    except (HTTPException, TokenRejected):
        return False
    return after.grants == before.grants


async def _stream_response(
    request: Request,
    application_id: str | None,
    resume: Resume,
    scope: frozenset[str] | None = None,
) -> StreamingResponse:
    """The first replay batch is read before the response starts, so a database failure is a
    problem response; the stream ends once the key is no longer usable."""
    events = await open_stream(
        get_delivery(request),
        application_id,
        resume,
        scope,
        key_usable=lambda: key_still_usable(request),
    )
    return StreamingResponse(events, media_type=EVENT_STREAM, headers=STREAM_HEADERS)


@router.get(
    "/applications/{application_id}/events",
    summary="Stream changes to an application's configurations (SSE)",
    dependencies=[requires(Permission.READ, ApplicationFrom.PATH)],
    response_class=StreamingResponse,
    responses={**STREAM_DOC, **problem_responses(404, 422, 503)},
)
async def application_events(
    request: Request,
    application_id: Annotated[ApplicationId, Path(description="The application's id.")],
    after: AfterQuery = None,
    last_event_id: LastEventIdHeader = None,
) -> StreamingResponse:
    service = get_delivery(request).service
    await run_in_threadpool(service.check_application, application_id=application_id)
    return await _stream_response(request, application_id, resume_position(after, last_event_id))


@router.get(
    "/events",
    summary="Stream every change of every application the key may read (SSE)",
    dependencies=[requires(Permission.READ)],
    response_class=StreamingResponse,
    responses={**STREAM_DOC, **problem_responses(422, 503)},
)
async def all_events(
    request: Request,
    caller: AuthenticatedCaller,
    after: AfterQuery = None,
    last_event_id: LastEventIdHeader = None,
) -> StreamingResponse:
    return await _stream_response(
        request, None, resume_position(after, last_event_id), scope_of(caller)
    )
