"""Event streams: every change, live, resumable from its change-log position, as Server-Sent
Events text.

A stream subscribes to the feed first, then replays the change log after the client's position
(`Last-Event-ID` or `?after=`), then sends live changes, skipping any at or below the last
position sent: so nothing is lost between replay and live, and nothing is sent twice. The route
(api/v1/events.py) wraps `open_stream` in its response and says how the key is checked again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from anyio import to_thread

from database.errors import DatabaseUnavailable
from delivery.change_feed import Subscription
from delivery.runtime import Delivery
from models.change import Change
from repositories.change_log_repository import CommittedBefore
from services.errors import ChangePositionExpired

logger = logging.getLogger(__name__)

REPLAY_BATCH = 1000
MAX_POSITION = 2**63 - 1


def event_text(change: Change, scope: frozenset[str] | None = None) -> str:
    """The event's text; empty (nothing is sent) for an application outside `scope`."""
    if scope is not None and change.application_id not in scope:
        return ""
    data = json.dumps(change.model_dump(mode="json"), separators=(",", ":"))
    return f"id: {change.position}\nevent: {change.kind.value}\ndata: {data}\n\n"


def reset_text(position: int, reason: str) -> str:
    data = json.dumps({"position": position, "detail": reason}, separators=(",", ":"))
    return f"id: {position}\nevent: reset\ndata: {data}\n\n"


@dataclass(frozen=True)
class Resume:
    """Where a stream starts: after `position` (replayed from the log), live only (None), or
    with a reset first when the client's Last-Event-ID is no position at all."""

    position: int | None
    invalid_last_event_id: str | None = None


def resume_position(after: int | None, last_event_id: str | None) -> Resume:
    if after is not None:
        return Resume(after)
    if last_event_id is None or not last_event_id.strip():
        return Resume(None)
    stripped = last_event_id.strip()
    # ASCII digits only: str.isdigit also accepts e.g. '\xb2' (a header decoded as Latin-1),
    # which int() refuses.
    if stripped.isascii() and stripped.isdigit():
        return Resume(min(int(stripped), MAX_POSITION))
    return Resume(None, invalid_last_event_id=last_event_id[:100])


@dataclass
class Replay:
    """The replay of a stream, read batch by batch; the first batch is read before the
    stream starts, so a database that is down fails the request, not the stream midway."""

    delivery: Delivery
    application_id: str | None
    last: int
    changes: list[Change]
    reset: str | None = None

    @classmethod
    async def start(cls, delivery: Delivery, application_id: str | None, after: int) -> Replay:
        replay = cls(delivery, application_id, after, [])
        await replay.read()
        return replay

    @property
    def more(self) -> bool:
        return self.reset is None and len(self.changes) == REPLAY_BATCH

    async def read(self) -> None:
        position = self.changes[-1].position if self.changes else self.last
        try:
            self.changes = await to_thread.run_sync(
                functools.partial(
                    self.delivery.service.changes_after,
                    position=position,
                    limit=REPLAY_BATCH,
                    application_id=self.application_id,
                )
            )
        except ChangePositionExpired as expired:
            self.changes, self.last, self.reset = [], expired.head, str(expired)


KeyCheck = Callable[[], Awaitable[bool]]


@dataclass
class Position:
    """The last position a stream sent (or skipped), shared by its replay and live parts;
    `key_refused`: the replay found the key no longer usable (the stream ends); `opened`: for
    a stream that starts live, what had committed when it opened (its changes are not sent,
    however late the feed publishes them)."""

    last: int
    key_refused: bool = False
    opened: CommittedBefore | None = None


async def _replayed(
    replay: Replay, position: Position, scope: frozenset[str] | None, key_usable: KeyCheck
) -> AsyncIterator[str]:
    """The replay's events, batch by batch; stops early when the key is no longer usable."""
    while True:
        if replay.reset is not None:
            position.last = replay.last
            yield reset_text(position.last, replay.reset)
        for replayed in replay.changes:
            if not await key_usable():
                position.key_refused = True
                return
            yield event_text(replayed, scope)
            position.last = replayed.position
        if not replay.more:
            return
        await replay.read()


def _live(
    change: Change | None,
    subscription: Subscription,
    position: Position,
    scope: frozenset[str] | None,
) -> str | None:
    """What a live change sends ("" for one already sent or out of scope); None: the end."""
    reset_position = subscription.reset_position
    if change is None:
        if reset_position is None:
            return None  # shutdown, or this client fell too far behind: it reconnects
        position.last, subscription.reset_position = reset_position, None
        return reset_text(position.last, "changes were lost while this instance was disconnected")
    if change.position <= position.last:
        return ""
    position.last = change.position
    if position.opened is not None and position.opened.holds(change.position):
        return ""
    return event_text(change, scope)


async def stream(
    delivery: Delivery,
    subscription: Subscription,
    resume: Resume,
    replay: Replay | None,
    scope: frozenset[str] | None = None,
    *,
    key_usable: KeyCheck,
    opened: CommittedBefore | None = None,
    subscribed_at: int | None = None,
) -> AsyncIterator[str]:
    """`scope`: only changes of these applications (what the key may read); None: all. Ends,
    without a word, as soon as its key is revoked or expires (checked before each event and
    each heartbeat): the client's reconnect is then refused. `subscribed_at`: the feed's
    position when `subscription` was made (a stream that starts live sends what the feed
    published after it, even before this generator first runs); None: the feed's position
    now."""
    feed = delivery.feed
    heartbeat = delivery.settings.events_heartbeat_seconds
    try:
        yield ": stream open\n\n"
        live_from = feed.position if subscribed_at is None else subscribed_at
        position = Position(live_from if replay is None else replay.last, opened=opened)
        if resume.invalid_last_event_id is not None:
            yield reset_text(
                position.last,
                f"Last-Event-ID {resume.invalid_last_event_id!r} is not a change-log position",
            )
        if replay is not None:
            async for replayed in _replayed(replay, position, scope, key_usable):
                yield replayed
            if position.key_refused:
                return
        while True:
            try:
                change = await asyncio.wait_for(subscription.queue.get(), heartbeat)
                text: str | None = _live(change, subscription, position, scope)
            except TimeoutError:
                text = ": keep-alive\n\n"
            if text is None or not await key_usable():
                return
            yield text
    except DatabaseUnavailable as error:
        # The client reconnects with Last-Event-ID and is replayed what it missed.
        logger.warning("event stream ended, the change log cannot be read: %s", error.reason)
    finally:
        feed.unsubscribe(subscription)


async def open_stream(
    delivery: Delivery,
    application_id: str | None,
    resume: Resume,
    scope: frozenset[str] | None = None,
    *,
    key_usable: KeyCheck,
) -> AsyncIterator[str]:
    """Subscribe first (so nothing is missed), then read the first replay batch before the
    stream starts (so a database failure is raised here, before any response). A stream that
    starts live notes what has committed by now instead (when the database answers)."""
    subscription = delivery.feed.subscribe(application_id)
    # Everything the feed publishes from now on is in the subscription's queue: a stream that
    # starts live starts here, not where the feed is once the response first reads the stream
    # (what it publishes meanwhile, e.g. while the snapshot below is read, would be skipped).
    subscribed_at = delivery.feed.position
    opened: CommittedBefore | None = None
    try:
        if resume.position is None:
            opened = await _committed_now(delivery)
            replay = None
        else:
            replay = await Replay.start(delivery, application_id, resume.position)
    except BaseException:
        delivery.feed.unsubscribe(subscription)
        raise
    return stream(
        delivery,
        subscription,
        resume,
        replay,
        scope,
        key_usable=key_usable,
        opened=opened,
        subscribed_at=subscribed_at,
    )


async def _committed_now(delivery: Delivery) -> CommittedBefore | None:
    """None when the database does not answer: the stream then starts at the feed's position,
    and may carry a change that committed just before it opened."""
    try:
        return await to_thread.run_sync(delivery.service.committed_now)
    except DatabaseUnavailable as error:
        logger.info("event stream starts live without a snapshot: %s", error.reason)
        return None
