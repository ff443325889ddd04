"""Reading a current configuration for delivery, and waiting for it to change.

`read_current` answers from this process's memory when it can be trusted, else from PostgreSQL
(in the threadpool), filling the memory; concurrent misses of one configuration share one
query. `wait_for_change` is a long poll around it, which waits on an asyncio future only: no
thread, no connection. What a client asked for (ETags, `Prefer: wait`) is the caller's to read
(api/v1/delivery_reads.py); here it is a predicate and a number of seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from anyio import to_thread

from delivery.response_cache import CachedConfiguration, ResponseCache
from delivery.runtime import Delivery
from services.delivery_service import DeliveryService


@dataclass(frozen=True)
class Source:
    """Where a configuration is found: in the cache (`lookup`) or in PostgreSQL (`load`, sync,
    raising the service's NotFound). Concurrent loads of one `key` share one query."""

    key: tuple[str, ...]
    lookup: Callable[[ResponseCache], CachedConfiguration | None]
    load: Callable[[DeliveryService], CachedConfiguration]


def by_id(configuration_id: str) -> Source:
    return Source(
        key=("id", configuration_id),
        lookup=lambda cache: cache.get(configuration_id),
        load=lambda service: CachedConfiguration.of(service.get(configuration_id=configuration_id)),
    )


def by_names(application_name: str, name: str) -> Source:
    return Source(
        key=("name", application_name, name),
        lookup=lambda cache: cache.get_by_name(application_name, name),
        load=lambda service: CachedConfiguration.of(
            service.get_by_names(application_name=application_name, name=name), application_name
        ),
    )


async def read_current(delivery: Delivery, source: Source, *, fresh: bool) -> CachedConfiguration:
    """From memory when trusted (and not `fresh`); from PostgreSQL otherwise (raising the
    service's NotFound)."""
    cache, feed = delivery.cache, delivery.feed
    use_cache = feed.trusted and cache.max_bytes > 0 and not fresh
    if use_cache:
        hit = source.lookup(cache)
        if hit is not None:
            return hit
        shared = delivery.loads.get(source.key)
        if shared is not None:
            joined = await asyncio.shield(shared)
            if not cache.outdated(joined):  # it may have started before a write here
                return joined
    epoch = cache.epoch
    load = asyncio.ensure_future(to_thread.run_sync(source.load, delivery.service))
    if use_cache:
        delivery.loads[source.key] = load
        load.add_done_callback(lambda _: _forget_load(delivery, source.key, load))
    entry = await asyncio.shield(load)
    if feed.trusted and cache.max_bytes > 0:
        cache.fill(entry, epoch=epoch)
    return entry


def _forget_load(
    delivery: Delivery, key: tuple[str, ...], load: asyncio.Future[CachedConfiguration]
) -> None:
    if delivery.loads.get(key) is load:
        del delivery.loads[key]


@dataclass(frozen=True)
class Outcome:
    entry: CachedConfiguration
    modified: bool
    waited: float | None


async def wait_for_change(
    delivery: Delivery,
    source: Source,
    entry: CachedConfiguration,
    *,
    unchanged: Callable[[CachedConfiguration], bool],
    seconds: float,
    fresh: bool,
    after_waiting: Callable[[], Awaitable[object]],
) -> Outcome:
    """Hold the read until the configuration is no longer `unchanged` (modified), is deleted
    (NotFound raised by the re-read) or `seconds` pass (not modified). `after_waiting` runs
    after each wait, before anything is answered (the caller checks its key again there)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    feed = delivery.feed
    while not feed.closed:
        future = feed.watch(entry.configuration_id, entry.application_id)
        try:
            # Read again after registering, so a change between the reads is not missed.
            entry = await read_current(delivery, source, fresh=fresh)
            if not unchanged(entry):
                return Outcome(entry, modified=True, waited=seconds)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait({future}, timeout=remaining)
            await after_waiting()
            if not future.done():
                break
        finally:
            feed.unwatch(entry.configuration_id, future)
    return Outcome(entry, modified=False, waited=seconds)
