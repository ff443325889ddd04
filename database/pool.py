"""The connection pool: borrow a connection for one unit of work and always give it back.

psycopg2's ThreadedConnectionPool fails at once when it is empty; a semaphore in front of it
makes a request wait a bounded time instead, and then fail with PoolExhausted (to retry
later). It also closes every connection given back while `minconn` are idle, so under load
above the min size each request would open a new server session: here its `minconn` is the max
size (it keeps every connection given back), and this class closes a connection only once it
has been idle for `idle_seconds`, and never below the min size. Idle connections are looked at
whenever one is borrowed or given back (a pool nobody uses keeps what it has).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2.pool import ThreadedConnectionPool

from config.settings import Settings
from database.error_classification import (
    classify_database_error,
    is_connection_failure,
    translate_database_error,
)
from database.errors import DatabaseUnavailable, PoolExhausted
from database.lock_budget import LockWatch, Watched
from database.pool_events import IgnoringListener, PoolListener, PoolUsage

logger = logging.getLogger(__name__)

Connection = psycopg2.extensions.connection


def connection_options(settings: Settings) -> dict[str, Any]:
    """The libpq options of every connection the service keeps (the pool's and the change
    listener's): the one place that maps the DATABASE_* settings onto a connection."""
    return {
        "connect_timeout": settings.database_connect_timeout_seconds,
        # Server settings every session starts with (sent in the startup packet).
        "options": (
            f"-c statement_timeout={int(settings.database_statement_timeout_ms)} "
            f"-c lock_timeout={int(settings.database_lock_timeout_ms)} "
            "-c idle_in_transaction_session_timeout=60000 "
            "-c timezone=UTC"
        ),
        "keepalives": 1,
        "keepalives_idle": settings.database_keepalives_idle_seconds,
        "keepalives_interval": settings.database_keepalives_interval_seconds,
        "keepalives_count": settings.database_keepalives_count,
        "tcp_user_timeout": settings.database_tcp_user_timeout_ms,
    }


class Database:
    """A bounded pool of connections to one PostgreSQL database."""

    def __init__(
        self,
        *,
        dsn: str,
        min_size: int,
        max_size: int,
        wait_seconds: float,
        connect_options: dict[str, Any] | None = None,
        listener: PoolListener | None = None,
        lock_timeout_seconds: float | None = None,
        idle_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`idle_seconds`: how long a connection above `min_size` may stay idle before it is
        closed; `clock`: seconds, for that (tests pass their own). `connect_options`: libpq
        options of every connection (`connection_options` maps the settings onto them); None:
        libpq's defaults. `lock_timeout_seconds`: each request's whole wait for locks
        (database/lock_budget.py); None: only PostgreSQL's own limit on each wait."""
        self._wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(max_size)
        self._min_size = min_size
        self.listener: PoolListener = listener or IgnoringListener()
        self._state_lock = threading.Lock()
        self._waiting = 0
        # Bumped on every connection failure: a connection borrowed before the bump may be
        # one of the dead ones, so it is closed when given back instead of pooled.
        self._failure_generation = 0
        # minconn=0 so that creating the pool never connects: the service must start even
        # while the database is down. minconn is then raised to keep idle connections open.
        self._pool = ThreadedConnectionPool(
            0, max_size, dsn, application_name="config-service", **(connect_options or {})
        )
        self._pool.minconn = max_size  # keep every connection given back (see above)
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._idle_since: dict[Connection, float] = {}  # guarded by the pool's own lock
        self._lock_watch = (
            None
            if lock_timeout_seconds is None
            else LockWatch(
                dsn=dsn,
                connect_options=connect_options or {},
                lock_timeout_seconds=lock_timeout_seconds,
            )
        )
        # Set once the shutdown grace is over: work cancelled from then on is reported as such.
        self._cancelled_for_shutdown = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        database_url: str,
        *,
        listener: PoolListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Database:
        """The pool the service runs on, configured from its settings."""
        return cls(
            dsn=database_url,
            min_size=settings.database_pool_min_size,
            max_size=settings.database_pool_max_size,
            wait_seconds=settings.database_pool_timeout_seconds,
            connect_options=connection_options(settings),
            listener=listener,
            lock_timeout_seconds=settings.database_lock_timeout_ms / 1000,
            idle_seconds=settings.database_pool_idle_seconds,
            clock=clock,
        )

    def cancel_running(self) -> int:
        """Shutdown: ask PostgreSQL to cancel the statement on every lent-out connection (from
        any thread; psycopg2's cancel() does not wait for the query's thread). The work so cut
        off fails with DatabaseUnavailable, and no connection is lent from now on. Returns how
        many connections were lent out."""
        self._cancelled_for_shutdown = True
        lock, lent_out, _ = _pool_internals(self._pool)
        with lock:
            connections = list(lent_out.values())
        for connection in connections:
            try:
                connection.cancel()
            except psycopg2.Error:
                logger.debug("could not cancel a statement at shutdown", exc_info=True)
        return len(connections)

    def warm_up(self) -> None:
        """Open the idle connections now rather than on the first requests; never raises."""
        borrowed = []
        try:
            for _ in range(self._min_size):
                borrowed.append(self._pool.getconn())
        except psycopg2.Error as error:
            logger.warning("could not open database connections at start-up: %s", error)
        finally:
            for connection in borrowed:
                self._give_back(connection, close=False)

    def close(self) -> None:
        if self._lock_watch is not None:
            self._lock_watch.close()
        self._pool.closeall()

    def usage(self) -> PoolUsage:
        """How many connections are lent out and idle, and how many borrowers wait for one."""
        with self._state_lock:
            waiting = self._waiting
        lock, lent_out, idle = _pool_internals(self._pool)
        with lock:
            return PoolUsage(in_use=len(lent_out), idle=len(idle), waiting=waiting)

    def discard_idle(self) -> int:
        """Close every idle connection; after a database restart they are all dead, and each
        would otherwise fail one request before being noticed. Returns how many were closed."""
        lock, _, pooled = _pool_internals(self._pool)
        with lock:
            idle = list(pooled)
            pooled.clear()
            self._idle_since.clear()
        for connection in idle:
            connection.close()
        return len(idle)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Borrow a connection; return it afterwards, discarding it if it broke."""
        self._acquire_slot()
        try:
            generation = self._failure_generation
            connection = self._checkout()
            broken = False
            try:
                with self._watching(connection) as watched:
                    yield connection
            except psycopg2.Error as error:
                broken = connection.closed != 0 or is_connection_failure(error)
                # The lock watch cancelled this statement (a cancel it sent may also have come too
                # late to stop any): the request's whole wait for locks is spent.
                cancelled = isinstance(error, psycopg2.errors.QueryCanceled)
                budget_spent = cancelled and watched is not None and watched.cancelled
                kind = "lock_timeout" if budget_spent else classify_database_error(error)
                self.listener.database_error(kind)
                if broken:
                    self._connection_failed()
                if self._cancelled_for_shutdown:
                    raise _shutting_down() from error
                if budget_spent:
                    raise _lock_budget_spent() from error
                raise translate_database_error(error) from error
            finally:
                stale = generation != self._failure_generation
                self._give_back(connection, close=broken or stale or connection.closed != 0)
        finally:
            self._slots.release()

    def _give_back(self, connection: Connection, *, close: bool) -> None:
        lock, _, _ = _pool_internals(self._pool)
        self._pool.putconn(connection, close=close)
        with lock:
            if close or connection.closed:
                self._idle_since.pop(connection, None)
            else:
                self._idle_since[connection] = self._clock()
        self.close_idle()

    def close_idle(self) -> int:
        """Close the connections idle for `idle_seconds` or more, longest idle first, while
        more than the min size are open; how many were closed."""
        now = self._clock()
        lock, lent_out, idle = _pool_internals(self._pool)
        expired: list[Connection] = []
        with lock:
            # Borrowing takes the newest from the end of the list: the front has waited longest.
            while idle and len(idle) + len(lent_out) > self._min_size:
                since = self._idle_since.get(idle[0], now)
                if now - since < self._idle_seconds:
                    break
                expired.append(idle.pop(0))
                self._idle_since.pop(expired[-1], None)
        for connection in expired:
            connection.close()
        return len(expired)

    def _watching(self, connection: Connection) -> AbstractContextManager[Watched | None]:
        if self._lock_watch is None:
            return nullcontext()
        return self._lock_watch.watching(connection)

    def _acquire_slot(self) -> None:
        started = time.monotonic()
        with self._state_lock:
            self._waiting += 1
        try:
            acquired = self._wait_for_slot(deadline=started + self._wait_seconds)
        finally:
            with self._state_lock:
                self._waiting -= 1
            self.listener.connection_wait_finished(time.monotonic() - started)
        if not acquired:
            self.listener.database_error("pool_exhausted")
            raise PoolExhausted(
                f"no database connection became free within {self._wait_seconds:g} seconds"
            )

    def _wait_for_slot(self, *, deadline: float) -> bool:
        # In short slices, so that a shutdown cut-off also ends the waits for a connection.
        while not self._cancelled_for_shutdown:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._slots.acquire(timeout=min(remaining, 0.1)):
                return True
        raise _shutting_down()

    def _connection_failed(self) -> None:
        with self._state_lock:
            self._failure_generation += 1
        closed = self.discard_idle()
        if closed:
            logger.warning("a database connection failed; closed %d idle connections", closed)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: commit when the block succeeds, roll back when it raises."""
        with self.connection() as connection:
            try:
                yield connection
                connection.commit()
            except BaseException:
                _rollback_quietly(connection)
                raise

    def _checkout(self) -> Connection:
        if self._cancelled_for_shutdown:
            raise _shutting_down()
        self.close_idle()
        connection = self._getconn()
        if connection.closed:
            self._give_back(connection, close=True)
            connection = self._getconn()
        return connection

    def _getconn(self) -> Connection:
        try:
            connection: Connection = self._pool.getconn()
        except psycopg2.Error as error:
            self.listener.database_error(classify_database_error(error))
            raise translate_database_error(error) from error
        return connection


def _pool_internals(
    pool: ThreadedConnectionPool,
) -> tuple[threading.Lock, dict[Any, Connection], list[Connection]]:
    """psycopg2 exposes no counts: its lock, its lent-out map and its idle list."""
    return pool._lock, pool._used, pool._pool  # type: ignore[attr-defined]


def _lock_budget_spent() -> DatabaseUnavailable:
    # The same words as PostgreSQL's own lock timeout (database/error_classification.py).
    return DatabaseUnavailable("the data is locked by another operation; try again")


def _shutting_down() -> DatabaseUnavailable:
    return DatabaseUnavailable(
        "the service is shutting down and cancelled this request's database work"
    )


def _rollback_quietly(connection: Connection) -> None:
    if connection.closed:
        return
    try:
        connection.rollback()
    except psycopg2.Error:
        logger.debug("rollback failed on a broken connection", exc_info=True)


def connect(dsn: str, **options: Any) -> Connection:
    """A single connection outside the pool (migrations, tests)."""
    connection: Connection = psycopg2.connect(dsn, **options)
    return connection
