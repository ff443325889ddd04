"""The in-process side of delivery: who waits for which configuration, and who streams.

Everything here runs on the event loop and touches no database: the listener
(delivery/change_listener.py) reads the change log and calls `publish`; long polls `watch` one
configuration and streams `subscribe` to an application (or to all). A waiter costs one
asyncio future, never a thread or a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from models.change import Change

# A stream that falls this far behind is ended; its client reconnects naming the last change it
# saw and replays from the change log, so a slow reader never makes the process hold unbounded
# memory.
SUBSCRIPTION_BUFFER = 10_000


@dataclass(eq=False)  # compared and hashed by identity, as set members
class Subscription:
    """A stream's queue of live changes. `None` in the queue means: the stream must end."""

    application_id: str | None
    queue: asyncio.Queue[Change | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIPTION_BUFFER + 1)
    )
    reset_position: int | None = None

    def offer(self, change: Change | None) -> None:
        if self.queue.qsize() >= SUBSCRIPTION_BUFFER and change is not None:
            change = None  # too far behind: end it (the slot kept free makes room for this)
        self.queue.put_nowait(change)


class ChangeFeed:
    def __init__(self) -> None:
        self.position = 0
        # Whether what was published so far is complete: false until the listener has caught
        # up, and again from the moment its connection drops until it has caught up again.
        self.trusted = False
        self._waiters: dict[str, set[asyncio.Future[Change | None]]] = {}
        # Watched configurations by application: application_renamed and application_deleted
        # name no configuration, yet change what a read by name finds.
        self._watched_of_application: dict[str, set[str]] = {}
        self._application_of: dict[str, str] = {}
        self._subscriptions: set[Subscription] = set()
        self._observers: list[Callable[[Change], None]] = []
        self._reset_observers: list[Callable[[], None]] = []
        self.closed = False

    @property
    def waiting(self) -> int:
        return sum(len(futures) for futures in self._waiters.values())

    def observe(self, on_change: Callable[[Change], None], on_reset: Callable[[], None]) -> None:
        """Call `on_change` for each published change before anyone is woken (the cache)."""
        self._observers.append(on_change)
        self._reset_observers.append(on_reset)

    def watch(
        self, configuration_id: str, application_id: str | None = None
    ) -> asyncio.Future[Change | None]:
        """A future that completes with the next change to this configuration, or to its
        application when given (None: reset or shutdown, so read again). Register it BEFORE
        reading the current state."""
        future: asyncio.Future[Change | None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(configuration_id, set()).add(future)
        if application_id is not None:
            self._watched_of_application.setdefault(application_id, set()).add(configuration_id)
            self._application_of[configuration_id] = application_id
        return future

    def unwatch(self, configuration_id: str, future: asyncio.Future[Change | None]) -> None:
        futures = self._waiters.get(configuration_id)
        if futures is not None:
            futures.discard(future)
            if not futures:
                del self._waiters[configuration_id]
                self._forget_watched(configuration_id)

    def _forget_watched(self, configuration_id: str) -> None:
        application_id = self._application_of.pop(configuration_id, None)
        watched = self._watched_of_application.get(application_id or "")
        if watched is not None:
            watched.discard(configuration_id)
            if not watched:
                del self._watched_of_application[application_id or ""]

    def subscribe(self, application_id: str | None) -> Subscription:
        subscription = Subscription(application_id)
        if self.closed:
            subscription.offer(None)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, changes: list[Change]) -> None:
        """Hand on changes in position order; ones already published are skipped."""
        for change in changes:
            if change.position <= self.position:
                continue
            self.position = change.position
            for on_change in self._observers:
                on_change(change)
            if change.configuration_id is not None:
                self._wake(change.configuration_id, change)
            else:
                watched = self._watched_of_application.get(change.application_id, set())
                for configuration_id in list(watched):
                    self._wake(configuration_id, change)
            for subscription in self._subscriptions:
                if subscription.application_id in (None, change.application_id):
                    subscription.offer(change)

    def start_at(self, head: int) -> None:
        """The first connection: later changes count from `head`, and whatever was cached
        before (this process's own writes while it was not yet listening) is forgotten, since
        changes before `head` are not replayed."""
        self.position = head
        for on_reset in self._reset_observers:
            on_reset()

    def reset(self, head: int) -> None:
        """The log lost changes this process never saw: forget everything cached, wake every
        waiter to read again, and tell every stream to start over, from `head`."""
        self.position = head
        for on_reset in self._reset_observers:
            on_reset()
        for configuration_id in list(self._waiters):
            self._wake(configuration_id, None)
        for subscription in self._subscriptions:
            subscription.reset_position = head
            subscription.offer(None)

    def close(self) -> None:
        """Shutdown: end every stream and wake every waiter, so the server can exit."""
        self.closed = True
        for configuration_id in list(self._waiters):
            self._wake(configuration_id, None)
        for subscription in self._subscriptions:
            subscription.offer(None)

    def _wake(self, configuration_id: str, change: Change | None) -> None:
        self._forget_watched(configuration_id)
        for future in self._waiters.pop(configuration_id, set()):
            if not future.done():
                future.set_result(change)
