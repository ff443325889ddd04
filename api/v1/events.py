"""Server-Sent Events: every change, live, resumable from its change-log position.

A stream subscribes to the feed first, then replays the change log after the client's position
(`Last-Event-ID` or `?after=`), then sends live changes, skipping any at or below the last
position sent: so nothing is lost between replay and live, and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.authorization import (
    ApplicationFrom,
    AuthenticatedKey,
    Permission,
    requires,
    scope_of,
)
from api.delivery import Delivery, get_delivery
from api.problems import problem_responses
from models.change import Change
from models.fields import ApplicationId
from services.errors import ChangePositionExpired

router = APIRouter(tags=["delivery"])

EVENT_STREAM = "text/event-stream"
REPLAY_BATCH = 1000
MAX_POSITION = 2**63 - 1

STREAM_EXAMPLE = (
    ": stream open\n\n"
    "id: 42\nevent: updated\n"
    'data: {"position":42,"kind":"updated","application_id":"01JQ3V6KX8Q7M4Z2W9R5T1N0BC",'
    '"configuration_id":"01JQ3V7B2D4F6H8K0M2P4R6T8V","name":"production","revision":4}\n\n'
    ": keep-alive\n\n"
)
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless `text/event-stream`: one event per change (`id:` its "
        "position, `event:` its kind, `data:` the change as JSON), `: keep-alive` comments "
        "every EVENTS_HEARTBEAT_SECONDS, and `event: reset` when the position asked for is no "
        "longer in the change log (read everything again; the stream continues after the "
        "reset's `id`).",
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


def _event(change: Change, scope: frozenset[str] | None = None) -> str:
    """The event's text; empty (nothing is sent) for an application outside `scope`."""
    if scope is not None and change.application_id not in scope:
        return ""
    data = json.dumps(change.model_dump(mode="json"), separators=(",", ":"))
    return f"id: {change.position}\nevent: {change.kind.value}\ndata: {data}\n\n"


def _reset(position: int, reason: str) -> str:
    data = json.dumps({"position": position, "detail": reason}, separators=(",", ":"))
    return f"id: {position}\nevent: reset\ndata: {data}\n\n"


def resume_position(after: int | None, last_event_id: str | None) -> int | None:
    if after is not None:
        return after
    if last_event_id is not None and last_event_id.strip().isdigit():
        return min(int(last_event_id.strip()), MAX_POSITION)
    return None


async def _stream(
    delivery: Delivery,
    application_id: str | None,
    after: int | None,
    scope: frozenset[str] | None = None,
) -> AsyncIterator[str]:
    """`scope`: only changes of these applications (what the key may read); None: all."""
    feed = delivery.feed
    subscription = feed.subscribe(application_id)
    heartbeat = delivery.settings.events_heartbeat_seconds
    try:
        yield ": stream open\n\n"
        last = feed.position if after is None else after
        if after is not None:
            while True:
                try:
                    changes = await run_in_threadpool(
                        delivery.service.changes_after,
                        position=last,
                        limit=REPLAY_BATCH,
                        application_id=application_id,
                    )
                except ChangePositionExpired as expired:
                    last = expired.head
                    yield _reset(last, str(expired))
                    break
                for replayed in changes:
                    yield _event(replayed, scope)
                    last = replayed.position
                if len(changes) < REPLAY_BATCH:
                    break
        while True:
            try:
                change: Change | None = await asyncio.wait_for(subscription.queue.get(), heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if change is None:
                if subscription.reset_position is None:
                    return  # shutdown, or this client fell too far behind: it reconnects
                last, subscription.reset_position = subscription.reset_position, None
                yield _reset(last, "changes were lost while this instance was disconnected")
                continue
            if change.position > last:
                yield _event(change, scope)
                last = change.position
    finally:
        feed.unsubscribe(subscription)


def _streaming(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


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
    delivery = get_delivery(request)
    await run_in_threadpool(delivery.service.check_application, application_id=application_id)
    return _streaming(_stream(delivery, application_id, resume_position(after, last_event_id)))


@router.get(
    "/events",
    summary="Stream every change of every application the key may read (SSE)",
    dependencies=[requires(Permission.READ)],
    response_class=StreamingResponse,
    responses={**STREAM_DOC, **problem_responses(422, 503)},
)
async def all_events(
    request: Request,
    key: AuthenticatedKey,
    after: AfterQuery = None,
    last_event_id: LastEventIdHeader = None,
) -> StreamingResponse:
    delivery = get_delivery(request)
    position = resume_position(after, last_event_id)
    return _streaming(_stream(delivery, None, position, scope_of(key)))
