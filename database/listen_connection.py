"""The driver side of LISTEN/NOTIFY: one autocommit connection that listens on a channel.

It is watched with the event loop's `add_reader` (psycopg2's `poll()` and `notifies`), so no
thread sits waiting on it; queries on it (`run`) go to anyio's threadpool (the one the web
framework runs sync routes on) while the loop stops watching it. Every driver failure surfaces
as `ListenConnectionLost`, so callers above `database/` never see psycopg2.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
import psycopg2.extensions
from anyio import to_thread
from psycopg2 import sql

Connection = psycopg2.extensions.connection
T = TypeVar("T")


class ListenConnectionLost(Exception):
    """The listening connection could not be opened, or broke."""


class ListenConnection:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.backend_pid: int = connection.info.backend_pid

    @classmethod
    async def open(
        cls, *, dsn: str, channel: str, application_name: str, options: dict[str, Any]
    ) -> ListenConnection:
        def connect() -> Connection:
            connection: Connection = psycopg2.connect(
                dsn, application_name=application_name, **options
            )
            try:
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            except BaseException:
                connection.close()
                raise
            return connection

        try:
            return cls(await to_thread.run_sync(connect))
        except (psycopg2.Error, OSError) as error:
            raise ListenConnectionLost(str(error).strip()) from error

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run a sync `work(connection)` (queries on this connection) in the threadpool."""
        try:
            return await to_thread.run_sync(work, self._connection)
        except (psycopg2.Error, OSError) as error:
            raise ListenConnectionLost(str(error).strip()) from error

    async def wait_for_notification(self, timeout: float) -> bool:
        """Whether a notification arrived within `timeout` seconds (notifications that arrived
        since the last call count at once; several count as one)."""
        loop = asyncio.get_running_loop()
        notified = asyncio.Event()
        lost: asyncio.Future[None] = loop.create_future()
        connection = self._connection
        descriptor = connection.fileno()

        def on_readable() -> None:
            try:
                connection.poll()
            except psycopg2.Error as error:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(descriptor)
                if not lost.done():
                    lost.set_exception(ListenConnectionLost(str(error).strip()))
                return
            if connection.notifies:
                connection.notifies.clear()
                notified.set()

        # Watched only while waiting: `run` uses the same connection.
        loop.add_reader(descriptor, on_readable)
        on_readable()  # what arrived while it was not watched
        waiter = asyncio.ensure_future(notified.wait())
        pending: list[asyncio.Future[Any]] = [waiter, lost]
        try:
            await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(descriptor)
        if lost.done():
            lost.result()  # raises what broke the connection
        return notified.is_set()

    def close(self) -> None:
        self._connection.close()
