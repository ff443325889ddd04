"""Delivery in one process: the feed, the cache and the listener, started and stopped by main's
lifespan, and the questions the rest of the service asks of them.

Writes on this instance say what they acknowledged (`written`, `deleted`,
`application_changed`) before their response is sent, so reads here see them at once.
Authorization asks who owns a configuration and which application has a name (`owner_of`,
`application_id_by_name`): both are answered from memory when it can tell, else from
PostgreSQL. Reading and waiting are in delivery/reads.py, streams in delivery/streams.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections import OrderedDict
from datetime import timedelta

from anyio import to_thread

from config.settings import Settings
from database.pool import Database, connection_options
from delivery.change_feed import ChangeFeed
from delivery.change_listener import ChangeListener
from delivery.response_cache import CachedConfiguration, ResponseCache
from models.configuration import Configuration
from repositories.unit_of_work import unit_of_work_factory
from services.delivery_service import DeliveryService

DRAIN_CHECK_SECONDS = 0.5
MAX_REMEMBERED_OWNERS = 100_000


class Delivery:
    def __init__(
        self,
        *,
        service: DeliveryService,
        settings: Settings,
        feed: ChangeFeed | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.feed = feed or ChangeFeed()
        self.cache = cache or ResponseCache(max_bytes=settings.config_cache_max_bytes)
        self.feed.observe(self.cache.apply, self.cache.clear)
        # Reads of PostgreSQL under way, by what they read: concurrent misses share one.
        self.loads: dict[tuple[str, ...], asyncio.Future[CachedConfiguration]] = {}
        self.listener: ChangeListener | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Owners never change, so they are remembered (the event loop's alone: no lock).
        self._owners: OrderedDict[str, str] = OrderedDict()

    @classmethod
    async def start(
        cls,
        *,
        settings: Settings,
        database: Database,
        database_url: str,
        draining: threading.Event,
    ) -> Delivery:
        """Start listening for changes (the listener connects, and reconnects, by itself) and
        watch for SIGTERM, which ends every stream and long poll so the server can exit."""
        delivery = cls(service=DeliveryService(unit_of_work_factory(database)), settings=settings)
        listener = ChangeListener(
            dsn=database_url,
            connect_options=connection_options(settings),
            feed=delivery.feed,
            retention=timedelta(hours=settings.change_log_retention_hours),
        )
        delivery.listener = listener
        delivery._tasks = [
            asyncio.create_task(listener.run(), name="change-listener"),
            asyncio.create_task(_close_when_draining(delivery.feed, draining), name="drain-watch"),
        ]
        return delivery

    async def stop(self) -> None:
        self.feed.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # What this instance's writes acknowledged (called before their response is sent).

    def written(self, configuration: Configuration) -> None:
        self.cache.written(configuration)

    def deleted(self, configuration_id: str) -> None:
        self.cache.deleted(configuration_id)

    def application_changed(self, application_id: str, *, deleted: bool) -> None:
        self.cache.forget_application(application_id, deleted=deleted)

    # What authorization asks.

    async def owner_of(self, configuration_id: str) -> str | None:
        """The id of the application that owns the configuration; None when it does not
        exist."""
        owner = self._owners.get(configuration_id)
        if owner is not None:
            return owner
        entry = self.cache.get(configuration_id)  # any entry will do: owners never change
        if entry is not None:
            owner = entry.application_id
        else:
            owner = await to_thread.run_sync(
                functools.partial(self.service.owner_of, configuration_id=configuration_id)
            )
        if owner is not None:
            self._owners[configuration_id] = owner
            while len(self._owners) > MAX_REMEMBERED_OWNERS:
                self._owners.popitem(last=False)
        return owner

    async def application_id_by_name(
        self, application_name: str, configuration_name: str
    ) -> str | None:
        """The id of the application named `application_name`; None when none is. The
        configuration's name lets the cache answer, which it may only while it is current
        (names change)."""
        if self.feed.trusted:
            entry = self.cache.get_by_name(application_name, configuration_name)
            if entry is not None:
                return entry.application_id
        return await to_thread.run_sync(
            functools.partial(self.service.application_id_by_name, name=application_name)
        )


async def _close_when_draining(feed: ChangeFeed, draining: threading.Event) -> None:
    """End streams and long polls as soon as SIGTERM arrives, so the server can exit."""
    while not draining.is_set():
        await asyncio.sleep(DRAIN_CHECK_SECONDS)
    feed.close()
