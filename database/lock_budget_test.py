"""A request's whole wait for locks is DATABASE_LOCK_TIMEOUT_MS, against the real PostgreSQL:
two waits in one statement, waits in several transactions of one request, and statements that
work rather than wait (never cut for the budget).

The bounds asserted lie midway between what the budget allows and what PostgreSQL's own
per-lock timeout would (twice as long), so that a slow machine does not fail them."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2.errors
import pytest

from conftest import make_settings
from database.errors import ConstraintConflict, DatabaseUnavailable
from database.lock_budget import LockWatch, new_request_budget
from database.pool import Connection, Database, connect
from services.ids import new_id
from testing.databases import wait_for_lock_waiters

LOCKED = "the data is locked by another operation; try again"


class Errors:
    """A pool listener that keeps the error kinds it is told."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def connection_wait_finished(self, seconds: float) -> None:
        del seconds

    def database_error(self, kind: str) -> None:
        self.kinds.append(kind)


@pytest.fixture
def errors() -> Errors:
    return Errors()


@pytest.fixture
def pool(database_url: str, errors: Errors) -> Iterator[Database]:
    settings = make_settings(database_url, database_lock_timeout_ms=1500, database_pool_max_size=4)
    database = Database.from_settings(settings, database_url, listener=errors)
    yield database
    database.close()


@pytest.fixture
def row(database_url: str) -> Iterator[str]:
    """An application row to lock, and a session that holds its lock until the test ends."""
    holder = connect(database_url)
    row_id = new_row(holder)
    lock(holder, row_id)
    yield row_id
    holder.rollback()
    holder.close()


def new_row(connection: Connection) -> str:
    row_id = new_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO applications (id, name) VALUES (%(id)s, %(id)s)", {"id": row_id}
        )
    connection.commit()
    return row_id


def lock(connection: Connection, row_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM applications WHERE id = %(id)s FOR UPDATE", {"id": row_id})


def locking_transaction(pool: Database, row_id: str) -> None:
    with pool.transaction() as connection:
        lock(connection, row_id)


def timed(work: Callable[[], Any]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        work()
    except Exception as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


def test_a_statement_queued_behind_a_waiting_one_gets_the_budget_not_twice_it(
    pool: Database, row: str, database_url: str, errors: Errors
) -> None:
    results: dict[str, tuple[float, BaseException | None]] = {}

    def run(name: str) -> None:
        results[name] = timed(lambda: locking_transaction(pool, row))

    first = threading.Thread(target=run, args=("first",))
    first.start()
    wait_for_lock_waiters(database_url, 1)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)

    for _, error in results.values():
        assert isinstance(error, DatabaseUnavailable)
        assert error.reason == LOCKED
    # PostgreSQL alone: 1.5 s for the tuple lock, then 1.5 s more for the holder.
    assert results["second"][0] < 2.25
    assert errors.kinds == ["lock_timeout", "lock_timeout"]


def test_a_request_s_transactions_share_one_budget(
    pool: Database, row: str, database_url: str
) -> None:
    holder = connect(database_url)
    briefly_held = new_row(holder)
    lock(holder, briefly_held)
    released = threading.Timer(0.9, holder.rollback)

    def request() -> tuple[float, BaseException | None]:
        new_request_budget()
        released.start()
        locking_transaction(pool, briefly_held)  # waits about 0.9 s of the 1.5 s
        # `row` stays locked by the fixture's session for the whole test.
        return timed(lambda: locking_transaction(pool, row))

    try:
        seconds, error = contextvars.copy_context().run(request)
    finally:
        released.cancel()
        holder.close()

    assert isinstance(error, DatabaseUnavailable)
    assert error.reason == LOCKED
    # What remained (about 0.6 s), not another 1.5 s.
    assert seconds < 1.05


def test_a_statement_that_works_past_the_budget_is_not_cut(pool: Database, errors: Errors) -> None:
    with pool.transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(2.0), 'done'")
        assert cursor.fetchone() == ("", "done")

    assert errors.kinds == []


def wait_twice_then_take_a_name(pool: Database, row: str) -> None:
    """Wait for `row`'s lock twice in one transaction (a savepoint lets it go on after the
    first cancel), then insert an application with the name `row`'s already has."""
    with pool.transaction() as connection, connection.cursor() as cursor:
        # PostgreSQL's own limits well after the budget, so that only the watch cuts a wait.
        cursor.execute("SET LOCAL lock_timeout = '4s'; SET LOCAL statement_timeout = '8s'")
        cursor.execute("SAVEPOINT before_waiting")
        for _ in range(2):
            with pytest.raises(psycopg2.errors.QueryCanceled):
                lock(connection, row)
            cursor.execute("ROLLBACK TO SAVEPOINT before_waiting")
        cursor.execute(
            "INSERT INTO applications (id, name) VALUES (%(id)s, %(name)s)",
            {"id": new_id(), "name": row},
        )


def test_after_a_cancel_the_transaction_stays_watched_and_its_errors_are_its_own(
    pool: Database, row: str, errors: Errors
) -> None:
    """A cancel the watch sent may come too late (the wait ended, the statement too) and be
    ignored by PostgreSQL; the transaction goes on. A savepoint lets a test go on the same
    way: a later wait is still cut at the budget (a QueryCanceled of the watch's, not
    PostgreSQL's own LockNotAvailable), and a later error keeps its own meaning."""
    with pytest.raises(ConstraintConflict):
        wait_twice_then_take_a_name(pool, row)

    assert errors.kinds == ["integrity"]


def test_a_watch_that_cannot_ask_postgresql_says_so_and_cancels_nothing(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = "host=127.0.0.1 port=1 dbname=nothing user=nobody connect_timeout=1"
    watch = LockWatch(dsn=unreachable, connect_options={}, lock_timeout_seconds=0.0)
    connection = connect(database_url)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="database.lock_budget"),
            watch.watching(connection) as watched,
        ):
            deadline = time.monotonic() + 10
            while not caplog.records:
                assert time.monotonic() < deadline, "the watch never tried"
                time.sleep(0.01)
            time.sleep(0.5)  # the watch keeps trying meanwhile, without saying it again
            assert not watched.cancelled
    finally:
        watch.close()
        connection.close()

    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith("the lock watch cannot ask PostgreSQL who waits for a lock: ")
    assert "Connection refused" in message
