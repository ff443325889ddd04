"""Event streams against the real PostgreSQL, below the HTTP layer: where a stream that starts
live begins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from config.settings import Settings
from conftest import make_settings
from database.migration_runner import MigrationRunner
from database.pool import Database
from delivery.runtime import Delivery
from delivery.streams import Resume, open_stream, resume_position
from models.change import ChangeEntry, ChangeKind
from repositories.change_log_repository import ChangeLogRepository
from repositories.unit_of_work import unit_of_work_factory
from services.delivery_service import DeliveryService
from testing.change_log import wait_until_final
from testing.databases import temporary_database


@pytest.fixture
def own_database_url(server_url: str) -> Iterator[str]:
    """A database of this test's own: it records changes of an application that does not
    exist, which no other test should read."""
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        yield url


async def _always_usable() -> bool:
    return True


async def _close(events: AsyncIterator[str]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()  # the stream unsubscribes from the feed


def test_a_live_stream_sends_a_change_published_before_its_first_read(
    own_database_url: str,
) -> None:
    """A change that commits after a live stream opened is sent, even when the feed publishes
    it before the response has started reading the stream (the stream subscribed first)."""
    settings = make_settings(own_database_url, events_heartbeat_seconds=0.2)
    database = Database.from_settings(settings, own_database_url)
    try:
        _check_live_start(database, settings)
    finally:
        database.close()


def _check_live_start(database: Database, settings: Settings) -> None:
    delivery = Delivery(
        service=DeliveryService(unit_of_work_factory(database)),
        settings=settings,
    )
    delivery.feed.start_at(wait_until_final(database))

    async def scenario() -> list[str]:
        events = await open_stream(
            delivery, "app-of-stream", Resume(None), key_usable=_always_usable
        )
        with database.transaction() as connection:
            entry = ChangeEntry(
                kind=ChangeKind.UPDATED, configuration_id="cfg", name="prod", revision=2
            )
            ChangeLogRepository(connection).append(application_id="app-of-stream", entries=[entry])
        wait_until_final(database)
        with database.transaction() as connection:
            head = ChangeLogRepository(connection).bounds().head
            changes = ChangeLogRepository(connection).after(
                position=delivery.feed.position, limit=100, application_id="app-of-stream"
            )
        assert head > delivery.feed.position
        delivery.feed.publish(changes)  # as the listener does, before the first read
        texts = [await anext(events), await anext(events)]
        await _close(events)
        return texts

    opened, first = asyncio.run(scenario())
    assert opened == ": stream open\n\n"
    assert first.startswith("id: ")
    assert "event: updated\n" in first


def test_a_last_event_id_of_digits_outside_ascii_is_no_position() -> None:
    """Headers arrive decoded as Latin-1: '\xb2' is a digit to str.isdigit but no number to
    int(), so it must be answered as any other Last-Event-ID that is no position (a reset
    first), not raise (a 500)."""
    assert resume_position(None, "\xb2") == Resume(None, invalid_last_event_id="\xb2")
    assert resume_position(None, " 17 ") == Resume(17)
