"""One LISTEN connection per process: hears committed changes and hands them to the feed.

The connection is watched with the event loop's `add_reader` (psycopg2's `poll()` and
`notifies`), so no thread sits waiting on it. A notification only says "the log grew"; the
changes themselves are then read from the change log after the last position published (on the
same connection, in the threadpool, while the loop stops watching it), so a lost or merged
notification loses nothing, and the listener never competes with requests for the pool. When
the connection drops, the feed is marked untrusted (reads go to PostgreSQL), and the listener
reconnects with backoff, listens again, catches up from the log and trusts the feed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

import psycopg2
import psycopg2.extensions
from starlette.concurrency import run_in_threadpool

from repositories.change_log_repository import ChangeLogRepository
from services.change_feed import ChangeFeed
from services.delivery_service import prune_change_log, read_changes_after
from services.errors import ChangePositionExpired

logger = logging.getLogger(__name__)

Connection = psycopg2.extensions.connection

LISTENER_APPLICATION_NAME = "config-service-listener"
LISTEN = "LISTEN config_changes"  # the channel of repositories/change_log_repository.py
CATCH_UP_BATCH = 1000
FIRST_RETRY_SECONDS = 0.1
LAST_RETRY_SECONDS = 5.0
# Also catch up and prune this often without a notification: a safety net, not the main path.
HOUSEKEEPING_SECONDS = 30.0


class ChangeListener:
    def __init__(
        self,
        *,
        dsn: str,
        connect_options: dict[str, Any],
        feed: ChangeFeed,
        retention: timedelta,
    ) -> None:
        self._dsn = dsn
        self._connect_options = connect_options
        self._feed = feed
        self._retention = retention
        self._started = False
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.backend_pid: int | None = None  # of the listening session, for operators and tests

    async def run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                connection = await run_in_threadpool(self._connect)
                try:
                    await self._catch_up(connection)
                    self._feed.trusted = True
                    self.connected.set()
                    delay = FIRST_RETRY_SECONDS
                    await self._listen(connection)
                finally:
                    self._feed.trusted = False
                    self.connected.clear()
                    connection.close()
            except (psycopg2.Error, OSError) as error:
                logger.warning(
                    "change listener lost its connection, retrying in %.1f s: %s", delay, error
                )
            except Exception:  # the listener must outlive any one failure
                logger.exception("change listener failed, retrying in %.1f s", delay)
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)

    def _connect(self) -> Connection:
        connection: Connection = psycopg2.connect(
            self._dsn, application_name=LISTENER_APPLICATION_NAME, **self._connect_options
        )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(LISTEN)
        self.backend_pid = connection.info.backend_pid
        return connection

    async def _catch_up(self, connection: Connection) -> None:
        """Publish everything committed after the feed's position. At start-up there is
        nothing to replay: the feed starts at the log's head."""
        change_log = ChangeLogRepository(connection)
        if not self._started:
            head, _ = await run_in_threadpool(change_log.bounds)
            self._feed.start_at(head)
            self._started = True
            return
        while True:
            try:
                changes = await run_in_threadpool(
                    lambda: read_changes_after(
                        change_log, position=self._feed.position, limit=CATCH_UP_BATCH
                    )
                )
            except ChangePositionExpired as expired:
                logger.warning("change log pruned past this process's position: %s", expired)
                self._feed.reset(expired.head)
                return
            self._feed.publish(changes)
            if len(changes) < CATCH_UP_BATCH:
                return

    async def _listen(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        notified = asyncio.Event()
        lost: asyncio.Future[None] = loop.create_future()
        descriptor = connection.fileno()

        def on_readable() -> None:
            try:
                connection.poll()
            except psycopg2.Error as error:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(descriptor)
                if not lost.done():
                    lost.set_exception(error)
                return
            if connection.notifies:
                connection.notifies.clear()
                notified.set()

        while True:
            # Watched only between queries: the catch-up below uses the same connection.
            loop.add_reader(descriptor, on_readable)
            on_readable()  # what arrived while it was not watched
            waiter = asyncio.ensure_future(notified.wait())
            pending: list[asyncio.Future[Any]] = [waiter, lost]
            try:
                await asyncio.wait(
                    pending, timeout=HOUSEKEEPING_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(descriptor)
            if lost.done():
                lost.result()  # raises what broke the connection
            if not notified.is_set():
                await self._prune(connection)
            notified.clear()
            await self._catch_up(connection)

    async def _prune(self, connection: Connection) -> None:
        change_log = ChangeLogRepository(connection)
        dropped = await run_in_threadpool(
            lambda: prune_change_log(change_log, retention=self._retention)
        )
        if dropped:
            logger.info("pruned %d change log records older than %s", dropped, self._retention)
