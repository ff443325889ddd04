"""Delivery wiring: the per-process feed, cache and listener, and the read path they serve.

`start_delivery`/`stop_delivery` run in the lifespan. `read_current` serves a configuration
from the cache when it can be trusted, else from PostgreSQL (in the threadpool), filling the
cache; `read_until_changed` is the long poll around it, which waits on an asyncio future only.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from api.auth.authorization import authenticate
from api.problems.handlers import entity_tag
from api.v1.conditional import none_match
from config.settings import Settings
from database.pool import Database, session_options
from delivery.change_feed import ChangeFeed
from delivery.change_listener import ChangeListener
from delivery.response_cache import CachedConfiguration, ResponseCache
from models.change import Change
from models.configuration import Configuration
from repositories.unit_of_work import unit_of_work_factory
from services.delivery_service import DeliveryService

_WAIT_VALUE = re.compile(r'"?([0-9]{1,9})"?')
DRAIN_CHECK_SECONDS = 0.5


@dataclass
class Delivery:
    service: DeliveryService
    feed: ChangeFeed
    cache: ResponseCache
    settings: Settings
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    loads: dict[tuple[str, ...], asyncio.Future[CachedConfiguration]] = field(default_factory=dict)

    def apply_change_to_cache(self, change: Change) -> None:
        with self.cache.lock:
            self.cache.apply(change)

    def clear_cache(self) -> None:
        with self.cache.lock:
            self.cache.clear()

    def written(self, configuration: Configuration) -> None:
        """Read-your-writes: call before a write's response is sent."""
        with self.cache.lock:
            self.cache.written(configuration)

    def application_changed(self, application_id: str, *, deleted: bool) -> None:
        with self.cache.lock:
            self.cache.forget_application(application_id, deleted=deleted)

    def deleted(self, configuration_id: str) -> None:
        with self.cache.lock:
            self.cache.deleted(configuration_id)


def listener_options(settings: Settings) -> dict[str, object]:
    return {
        "options": session_options(
            statement_timeout_ms=settings.database_statement_timeout_ms,
            lock_timeout_ms=settings.database_lock_timeout_ms,
        ),
        "connect_timeout": settings.database_connect_timeout_seconds,
        "keepalives": 1,
        "keepalives_idle": settings.database_keepalives_idle_seconds,
        "keepalives_interval": settings.database_keepalives_interval_seconds,
        "keepalives_count": settings.database_keepalives_count,
        "tcp_user_timeout": settings.database_tcp_user_timeout_ms,
    }


async def start_delivery(app: FastAPI, database: Database, database_url: str) -> None:
    settings: Settings = app.state.settings
    feed = ChangeFeed()
    delivery = Delivery(
        service=DeliveryService(unit_of_work_factory(database)),
        feed=feed,
        cache=ResponseCache(max_bytes=settings.config_cache_max_bytes),
        settings=settings,
    )
    feed.observe(delivery.apply_change_to_cache, delivery.clear_cache)
    listener = ChangeListener(
        dsn=database_url,
        connect_options=listener_options(settings),
        feed=feed,
        retention=timedelta(hours=settings.change_log_retention_hours),
    )
    delivery.tasks.append(asyncio.create_task(listener.run(), name="change-listener"))
    delivery.tasks.append(
        asyncio.create_task(_close_when_draining(feed, app.state.draining), name="drain-watch")
    )
    app.state.delivery = delivery
    app.state.change_listener = listener


async def _close_when_draining(feed: ChangeFeed, draining: threading.Event) -> None:
    """End streams and long polls as soon as SIGTERM arrives, so the server can exit."""
    while not draining.is_set():
        await asyncio.sleep(DRAIN_CHECK_SECONDS)
    feed.close()


async def stop_delivery(app: FastAPI) -> None:
    delivery: Delivery | None = getattr(app.state, "delivery", None)
    if delivery is None:
        return
    delivery.feed.close()
    for task in delivery.tasks:
        task.cancel()
    for task in delivery.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def get_delivery(request: Request) -> Delivery:
    delivery: Delivery = request.app.state.delivery
    return delivery


DeliveryDep = Annotated[Delivery, Depends(get_delivery)]


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


async def read_current(delivery: Delivery, request: Request, source: Source) -> CachedConfiguration:
    """From memory when trusted; from PostgreSQL otherwise (raising the service's NotFound)."""
    cache, feed = delivery.cache, delivery.feed
    use_cache = feed.trusted and cache.max_bytes > 0 and not wants_fresh(request)
    if use_cache:
        with cache.lock:
            hit = source.lookup(cache)
        if hit is not None:
            return hit
        shared = delivery.loads.get(source.key)
        if shared is not None:
            joined = await asyncio.shield(shared)
            with cache.lock:
                if not cache.outdated(joined):  # it may have started before a write here
                    return joined
    epoch = cache.epoch
    load = asyncio.ensure_future(run_in_threadpool(source.load, delivery.service))
    if use_cache:
        delivery.loads[source.key] = load
        load.add_done_callback(lambda _: _forget_load(delivery, source.key, load))
    entry = await asyncio.shield(load)
    if feed.trusted and cache.max_bytes > 0:
        with cache.lock:
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


async def read_until_changed(
    delivery: Delivery,
    request: Request,
    source: Source,
    if_none_match: str | None,
) -> Outcome:
    """Current entry; with If-None-Match and `Prefer: wait`, held until it changes (modified),
    is deleted (NotFound raised by the re-read) or the wait ends (not modified). After each
    wait the request's key is checked again: a key revoked meanwhile gets its 401."""
    entry = await read_current(delivery, request, source)
    if not still_current(if_none_match, entry):
        return Outcome(entry, modified=True, waited=None)
    wait = preferred_wait(request, delivery.settings.long_poll_max_seconds)
    if not wait:
        return Outcome(entry, modified=False, waited=None)
    # An answer after waiting says so, even a problem (a 404 when it was deleted meanwhile).
    request.state.preference_applied = f"wait={wait:g}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    feed = delivery.feed
    while not feed.closed:
        future = feed.watch(entry.configuration_id, entry.application_id)
        try:
            # Read again after registering, so a change between the reads is not missed.
            entry = await read_current(delivery, request, source)
            if not still_current(if_none_match, entry):
                return Outcome(entry, modified=True, waited=wait)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait({future}, timeout=remaining)
            # The key may have been revoked or expired while it waited: 401 then, as for a
            # new request (through the same key cache).
            await authenticate(request)
            if not future.done():
                break
        finally:
            feed.unwatch(entry.configuration_id, future)
    return Outcome(entry, modified=False, waited=wait)


def entry_tag(entry: CachedConfiguration) -> str:
    return entity_tag(entry.revision)


def still_current(if_none_match: str | None, entry: CachedConfiguration) -> bool:
    tag = entry_tag(entry)
    return if_none_match == tag or none_match(if_none_match, tag)  # the common case first
