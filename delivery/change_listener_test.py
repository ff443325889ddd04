"""The change listener against a real PostgreSQL: retention is enforced while writes keep
arriving (a busy log is pruned on its own schedule, not only when it falls quiet)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from database.migration_runner import MigrationRunner
from database.pool import connect
from delivery.change_feed import ChangeFeed
from delivery.change_listener import ChangeListener
from models.change import ChangeEntry, ChangeKind
from repositories.change_log_repository import ChangeLogRepository
from testing.databases import temporary_database

APPLICATION_ID = "01JQ3V6KX8Q7M4Z2W9R5T1N0BC"
CONFIGURATION_ID = "01JQ3V7B2D4F6H8K0M2P4R6T8V"


def keep_writing(url: str, stop: threading.Event, written: list[int]) -> None:
    """Append a change every 20 ms (each with its NOTIFY) until `stop`."""
    connection = connect(url)
    try:
        revision = 0
        while not stop.is_set():
            revision += 1
            entry = ChangeEntry(
                kind=ChangeKind.UPDATED,
                configuration_id=CONFIGURATION_ID,
                name="prod",
                revision=revision,
            )
            with connection:
                position = ChangeLogRepository(connection).append(
                    application_id=APPLICATION_ID, entries=[entry]
                )
            written.append(position)
            stop.wait(0.02)
    finally:
        connection.close()


def pruned_up_to(url: str) -> int:
    connection = connect(url)
    try:
        with connection:
            return ChangeLogRepository(connection).bounds().pruned
    finally:
        connection.close()


def test_the_log_is_pruned_while_writes_keep_arriving(server_url: str) -> None:
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        feed = ChangeFeed()
        listener = ChangeListener(
            dsn=url, connect_options={}, feed=feed, retention=timedelta(0), prune_interval=0.2
        )
        stop = threading.Event()
        written: list[int] = []
        writer = threading.Thread(target=keep_writing, args=(url, stop, written))

        async def scenario() -> tuple[int, int, int]:
            task = asyncio.create_task(listener.run())
            try:
                await asyncio.wait_for(listener.connected.wait(), 10)
                writer.start()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 30
                # Writes arrive every 20 ms, ten times within each prune interval. Only final
                # records are pruned: a transaction elsewhere on the server may hold them back.
                pruned = 0
                while loop.time() < deadline:
                    pruned = await asyncio.to_thread(pruned_up_to, url)
                    if listener.prunes >= 4 and written and pruned >= written[0]:
                        break
                    await asyncio.sleep(0.05)
                return listener.prunes, pruned, len(written)
            finally:
                stop.set()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        try:
            prunes, pruned, count = asyncio.run(scenario())
        finally:
            stop.set()
            if writer.is_alive():
                writer.join()

    assert prunes >= 4
    assert count > 1
    assert pruned >= written[0]  # the first records were pruned
    assert feed.position >= written[0]  # and the listener kept publishing all along


def test_a_change_held_back_by_an_older_transaction_is_published_when_that_one_ends(
    server_url: str,
) -> None:
    """The older transaction writes nothing to the log, so its end sends no notification: the
    listener must read again by itself (long before its 30 s housekeeping)."""
    with temporary_database(server_url) as url:
        MigrationRunner(url).up()
        feed = ChangeFeed()
        listener = ChangeListener(
            dsn=url, connect_options={}, feed=feed, retention=timedelta(hours=1)
        )
        older = connect(url)
        newer = connect(url)

        async def scenario() -> tuple[list[int], list[int], int]:
            published: list[int] = []
            feed.observe(lambda change: published.append(change.position), lambda: None)
            task = asyncio.create_task(listener.run())
            try:
                await asyncio.wait_for(listener.connected.wait(), 10)
                with older.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")  # holds an id, stays open
                entry = ChangeEntry(
                    kind=ChangeKind.UPDATED, configuration_id=CONFIGURATION_ID, revision=2
                )
                with newer:
                    position = ChangeLogRepository(newer).append(
                        application_id=APPLICATION_ID, entries=[entry]
                    )
                await asyncio.sleep(0.3)  # notified, read, but not final: nothing published
                before_end = list(published)
                older.commit()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 10
                while not published and loop.time() < deadline:
                    await asyncio.sleep(0.01)
                return before_end, published, position
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        try:
            before_end, published, position = asyncio.run(scenario())
        finally:
            older.close()
            newer.close()

    assert before_end == []
    assert published == [position]
    assert feed.position == position
