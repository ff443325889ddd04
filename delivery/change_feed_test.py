"""The in-process feed: waiters wake on their configuration's change, streams get their
application's changes once, resets and shutdown reach everyone."""

from __future__ import annotations

import asyncio

from delivery.change_feed import SUBSCRIPTION_BUFFER, ChangeFeed
from models.change import Change, ChangeKind


def change(position: int, configuration_id: str = "c1", application_id: str = "a1") -> Change:
    return Change(
        position=position,
        kind=ChangeKind.UPDATED,
        application_id=application_id,
        configuration_id=configuration_id,
        name="n",
        revision=position,
    )


def test_a_waiter_wakes_only_for_its_configuration_and_each_change_is_published_once() -> None:
    async def scenario() -> None:
        feed = ChangeFeed()
        mine, other = feed.watch("c1"), feed.watch("c2")
        seen: list[int] = []
        feed.observe(lambda published: seen.append(published.position), lambda: None)
        feed.publish([change(1), change(2), change(1)])
        assert mine.done()
        assert mine.result() == change(1)
        assert not other.done()
        assert seen == [1, 2]
        assert feed.position == 2
        feed.unwatch("c2", other)
        assert feed.waiting == 0

    asyncio.run(scenario())


def test_streams_get_their_applications_changes_and_end_on_reset_or_close() -> None:
    async def scenario() -> None:
        feed = ChangeFeed()
        one, everything = feed.subscribe("a1"), feed.subscribe(None)
        feed.publish([change(1, application_id="a1"), change(2, application_id="a2")])
        assert [one.queue.get_nowait()] == [change(1, application_id="a1")]
        assert one.queue.empty()
        assert everything.queue.qsize() == 2
        waiter = feed.watch("c9")
        feed.reset(head=10)
        assert (waiter.result(), feed.position, one.reset_position) == (None, 10, 10)
        assert one.queue.get_nowait() is None
        feed.close()
        assert one.queue.get_nowait() is None
        assert feed.subscribe("a1").queue.get_nowait() is None  # closed: ends at once

    asyncio.run(scenario())


def test_a_stream_that_falls_too_far_behind_is_ended() -> None:
    async def scenario() -> None:
        feed = ChangeFeed()
        slow = feed.subscribe(None)
        feed.publish([change(position) for position in range(1, SUBSCRIPTION_BUFFER + 2)])
        items = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert items[-1] is None
        assert len(items) == SUBSCRIPTION_BUFFER + 1

    asyncio.run(scenario())


def test_starting_at_the_head_forgets_what_was_cached_before() -> None:
    async def scenario() -> None:
        feed = ChangeFeed()
        resets: list[str] = []
        feed.observe(lambda _: None, lambda: resets.append("cleared"))
        waiter = feed.watch("c1")
        feed.start_at(7)
        assert (feed.position, resets, waiter.done()) == (7, ["cleared"], False)

    asyncio.run(scenario())
