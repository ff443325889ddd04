"""One LISTEN connection per process: hears committed changes and hands them to the feed.

The connection (database/listen_connection.py) is watched by the event loop, so no thread sits
waiting on it. A notification only says "the log grew"; the changes themselves are then read
from the change log after the last position published (on the same connection, in the
threadpool), so a lost or merged notification loses nothing, and the listener never competes
with requests for the pool. When the connection drops, the feed is marked untrusted (reads go
to PostgreSQL), and the listener reconnects with backoff, listens again, catches up from the
log and trusts the feed again. The log is pruned every PRUNE_INTERVAL_SECONDS, however busy.

Only the final part of the log is read (below the oldest running transaction, see
change_log_repository.py): a change that committed while an older transaction still runs is
read once that one ends, so while any committed change waits, the listener reads again shortly
(PENDING_FIRST_SECONDS, backing off) instead of waiting for the next notification.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from datetime import timedelta
from typing import Any

from database.listen_connection import ListenConnection, ListenConnectionLost
from database.pool import Connection
from delivery.change_feed import ChangeFeed
from models.change import Change
from repositories.change_log_repository import NOTIFY_CHANNEL, ChangeLogRepository, LogBounds
from services.delivery_service import prune_change_log, read_changes_and_bounds
from services.errors import ChangePositionExpired

logger = logging.getLogger(__name__)

LISTENER_APPLICATION_NAME = "config-service-listener"
CATCH_UP_BATCH = 1000
FIRST_RETRY_SECONDS = 0.1
LAST_RETRY_SECONDS = 5.0
# Also catch up this often without a notification: a safety net, not the main path.
HOUSEKEEPING_SECONDS = 30.0
# While committed changes wait for an older transaction to end (they are not final yet), read
# again after this long, doubling up to PENDING_LAST_SECONDS: that transaction's end sends no
# notification of its own unless it wrote to the log.
PENDING_FIRST_SECONDS = 0.01
PENDING_LAST_SECONDS = 1.0
# Prune this often, whether or not notifications keep arriving.
PRUNE_INTERVAL_SECONDS = 60.0


class ChangeListener:
    def __init__(
        self,
        *,
        dsn: str,
        connect_options: dict[str, Any],
        feed: ChangeFeed,
        retention: timedelta,
        prune_interval: float = PRUNE_INTERVAL_SECONDS,
    ) -> None:
        self._dsn = dsn
        self._connect_options = connect_options
        self._feed = feed
        self._retention = retention
        self._prune_interval = prune_interval
        self._last_prune: float | None = None
        self._pending_delay: float | None = None  # None: nothing committed waits to be final
        self._started = False
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.prunes = 0
        self.backend_pid: int | None = None  # of the listening session, for operators and tests

    async def run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                connection = await self._connect()
                self.backend_pid = connection.backend_pid
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
            except ListenConnectionLost as error:
                logger.warning(
                    "change listener lost its connection, retrying in %.1f s: %s", delay, error
                )
            except Exception:  # the listener must outlive any one failure
                logger.exception("change listener failed, retrying in %.1f s", delay)
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)

    async def _connect(self) -> ListenConnection:
        return await ListenConnection.open(
            dsn=self._dsn,
            channel=NOTIFY_CHANNEL,
            application_name=LISTENER_APPLICATION_NAME,
            options=self._connect_options,
        )

    async def _catch_up(self, connection: ListenConnection) -> None:
        """Publish everything committed after the feed's position. At start-up there is
        nothing to replay: the feed starts at the log's head."""
        if not self._started:
            bounds = await connection.run(lambda c: ChangeLogRepository(c).bounds())
            self._feed.start_at(bounds.head)
            self._started = True
            return
        while True:
            try:
                changes, bounds = await connection.run(
                    functools.partial(_changes_after, position=self._feed.position)
                )
            except ChangePositionExpired as expired:
                logger.warning("change log pruned past this process's position: %s", expired)
                self._feed.reset(expired.head)
                return
            self._feed.publish(changes)
            if len(changes) < CATCH_UP_BATCH:
                self._note_pending(bounds.pending, progressed=bool(changes))
                return

    def _note_pending(self, pending: bool, *, progressed: bool) -> None:
        """Back off while changes stay held back by the same old transaction; start again at
        PENDING_FIRST_SECONDS whenever some were published."""
        if not pending:
            self._pending_delay = None
        elif self._pending_delay is None or progressed:
            self._pending_delay = PENDING_FIRST_SECONDS
        else:
            self._pending_delay = min(self._pending_delay * 2, PENDING_LAST_SECONDS)

    async def _listen(self, connection: ListenConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._last_prune is None or loop.time() - self._last_prune >= self._prune_interval:
                await self._prune(connection)
                self._last_prune = loop.time()
            until_prune = self._last_prune + self._prune_interval - loop.time()
            timeout = min(HOUSEKEEPING_SECONDS, until_prune, self._pending_delay or math.inf)
            await connection.wait_for_notification(max(0.0, timeout))
            await self._catch_up(connection)

    async def _prune(self, connection: ListenConnection) -> None:
        retention = self._retention
        dropped = await connection.run(
            lambda c: prune_change_log(ChangeLogRepository(c), retention=retention)
        )
        self.prunes += 1
        if dropped:
            logger.info("pruned %d change log records older than %s", dropped, retention)


def _changes_after(connection: Connection, *, position: int) -> tuple[list[Change], LogBounds]:
    return read_changes_and_bounds(
        ChangeLogRepository(connection), position=position, limit=CATCH_UP_BATCH
    )
