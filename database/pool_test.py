"""The connection pool against the real PostgreSQL: transactions, returns, exhaustion, failures."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from conftest import make_settings
from database.error_classification import translate_database_error
from database.errors import ConstraintConflict, DatabaseUnavailable, PoolExhausted, UnstorableValue
from database.pool import Connection, Database, connect
from services.ids import new_id

UNREACHABLE_DSN = "host=127.0.0.1 port=1 dbname=nothing user=nobody connect_timeout=1"


def small_pool(database_url: str, **overrides: Any) -> Database:
    values: dict[str, Any] = {"database_pool_max_size": 2, "database_pool_timeout_seconds": 0.2}
    values.update(overrides)
    return Database.from_settings(make_settings(database_url, **values), database_url)


@pytest.fixture
def pool(database_url: str) -> Iterator[Database]:
    database = small_pool(database_url)
    yield database
    database.close()


@pytest.fixture
def observer(database_url: str) -> Iterator[Connection]:
    """A connection outside the pool, to see what the pool's sessions committed."""
    connection = connect(database_url)
    connection.autocommit = True
    yield connection
    connection.close()


def insert_application(connection: Connection, *, name: str) -> str:
    application_id = new_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO applications (id, name) VALUES (%(id)s, %(name)s)",
            {"id": application_id, "name": name},
        )
    return application_id


def stored_names(connection: Connection, application_id: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM applications WHERE id = %(id)s", {"id": application_id})
        return [row[0] for row in cursor.fetchall()]


def backend_pid(connection: Connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    pid: int = row[0]
    return pid


def select_one(database: Database) -> int:
    with database.connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    assert row is not None
    value: int = row[0]
    return value


def terminate_backend(observer: Connection, pid: int) -> None:
    with observer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        assert cursor.fetchone() == (True,)
        # pg_terminate_backend only signals; wait (bounded) until the session is really gone.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %(pid)s", {"pid": pid}
            )
            if cursor.fetchone() == (0,):
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} was still alive 10 s after pg_terminate_backend")


def test_transaction_commits_when_the_block_succeeds(pool: Database, observer: Connection) -> None:
    with pool.transaction() as connection:
        application_id = insert_application(connection, name="pool-commit-" + new_id())
        name = stored_names(connection, application_id)[0]

    assert stored_names(observer, application_id) == [name]


def test_transaction_rolls_back_when_the_block_raises(pool: Database, observer: Connection) -> None:
    inserted: list[str] = []

    def insert_then_fail() -> None:
        with pool.transaction() as connection:
            inserted.append(insert_application(connection, name="pool-rollback-" + new_id()))
            assert len(stored_names(connection, inserted[0])) == 1
            raise RuntimeError("abandon the unit of work")

    with pytest.raises(RuntimeError, match=r"^abandon the unit of work$"):
        insert_then_fail()

    assert stored_names(observer, inserted[0]) == []
    # The rolled-back connection went back to the pool clean: the next unit of work commits.
    with pool.transaction() as connection:
        application_id = insert_application(connection, name="pool-after-rollback-" + new_id())
    assert len(stored_names(observer, application_id)) == 1


def test_a_connection_is_returned_after_every_use_success_or_failure(pool: Database) -> None:
    for round_number in range(10):
        assert select_one(pool) == 1
        with pytest.raises(ValueError, match=rf"^round {round_number}$"), pool.connection():
            raise ValueError(f"round {round_number}")
        with (
            pytest.raises(psycopg2.errors.UndefinedTable),
            pool.connection() as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT id FROM no_such_table")

    # Every slot is free again: max_size connections can be held at the same time.
    with ExitStack() as stack:
        held = [stack.enter_context(pool.connection()) for _ in range(2)]
        assert len({backend_pid(connection) for connection in held}) == 2


def test_exhausted_pool_raises_pool_exhausted_after_the_wait(pool: Database) -> None:
    holding = [threading.Event(), threading.Event()]
    release = threading.Event()
    failures: list[BaseException] = []

    def hold(signal: threading.Event) -> None:
        try:
            with pool.connection() as connection:
                backend_pid(connection)
                signal.set()
                release.wait(timeout=30)
        except BaseException as error:  # pragma: no cover - reported by the assertion below
            failures.append(error)
            signal.set()

    threads = [threading.Thread(target=hold, args=(signal,)) for signal in holding]
    for thread in threads:
        thread.start()
    try:
        for signal in holding:
            assert signal.wait(timeout=30)
        assert failures == []

        with pytest.raises(PoolExhausted) as raised, pool.connection():
            pass  # pragma: no cover - the borrow itself fails
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)

    assert str(raised.value) == "no database connection became free within 0.2 seconds"
    assert raised.value.retry_after_seconds == 1
    assert isinstance(raised.value, DatabaseUnavailable)
    assert [thread.is_alive() for thread in threads] == [False, False]
    assert select_one(pool) == 1


def test_a_connection_killed_by_the_server_is_discarded_and_the_next_borrow_works(
    database_url: str, observer: Connection
) -> None:
    pool = small_pool(database_url, database_pool_max_size=1)
    try:
        with pool.connection() as connection:
            killed_pid = backend_pid(connection)
        terminate_backend(observer, killed_pid)

        with pytest.raises(DatabaseUnavailable) as raised, pool.connection() as connection:
            backend_pid(connection)

        assert raised.value.reason == "the database is unreachable"
        assert raised.value.retry_after_seconds == 2
        assert isinstance(raised.value.__cause__, psycopg2.OperationalError)
        with pool.connection() as connection:
            assert backend_pid(connection) != killed_pid
            assert connection.closed == 0
    finally:
        pool.close()


def test_a_killed_connection_inside_a_transaction_is_discarded_too(
    database_url: str, observer: Connection
) -> None:
    pool = small_pool(database_url, database_pool_max_size=1)
    try:
        with pool.connection() as connection:
            killed_pid = backend_pid(connection)
        terminate_backend(observer, killed_pid)

        with (
            pytest.raises(DatabaseUnavailable, match=r"^the database is unreachable$"),
            pool.transaction() as connection,
        ):
            insert_application(connection, name="pool-killed-" + new_id())

        with pool.transaction() as connection:
            assert backend_pid(connection) != killed_pid
    finally:
        pool.close()


def test_statement_timeout_raises_database_unavailable_and_keeps_the_connection(
    database_url: str,
) -> None:
    pool = small_pool(database_url, database_pool_max_size=1, database_statement_timeout_ms=100)
    try:
        with pool.connection() as connection:
            pid = backend_pid(connection)

        with (
            pytest.raises(DatabaseUnavailable) as raised,
            pool.connection() as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_sleep(1)")

        assert raised.value.reason == "the database did not answer within the statement timeout"
        assert isinstance(raised.value.__cause__, psycopg2.errors.QueryCanceled)
        # A canceled statement leaves the session healthy: the same connection serves on.
        with pool.connection() as connection:
            assert backend_pid(connection) == pid
        assert select_one(pool) == 1
    finally:
        pool.close()


def test_lock_timeout_raises_database_unavailable_and_keeps_the_connection(
    database_url: str, observer: Connection
) -> None:
    application_id = insert_application(observer, name="pool-locked-" + new_id())
    locker = connect(database_url)
    pool = small_pool(database_url, database_pool_max_size=1, database_lock_timeout_ms=100)
    try:
        with locker.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM applications WHERE id = %(id)s FOR UPDATE", {"id": application_id}
            )
        with pool.connection() as connection:
            pid = backend_pid(connection)

        with (
            pytest.raises(DatabaseUnavailable) as raised,
            pool.transaction() as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE applications SET comments = 'changed' WHERE id = %(id)s",
                {"id": application_id},
            )

        assert raised.value.reason == "the data is locked by another operation; try again"
        assert isinstance(raised.value.__cause__, psycopg2.errors.LockNotAvailable)
        with pool.connection() as connection:
            assert backend_pid(connection) == pid
        locker.rollback()
        with pool.transaction() as connection, connection.cursor() as cursor:
            cursor.execute(
                "UPDATE applications SET comments = 'changed' WHERE id = %(id)s",
                {"id": application_id},
            )
            assert cursor.rowcount == 1
    finally:
        pool.close()
        locker.close()


def driver_error(connection: Connection, statement: str, parameters: dict[str, Any]) -> Exception:
    with connection.cursor() as cursor:
        try:
            cursor.execute(statement, parameters)
        except psycopg2.Error as error:
            return error
    raise AssertionError(f"{statement!r} did not fail")


@pytest.mark.parametrize(
    ("statement", "driver_type", "translated_type", "message"),
    [
        (
            "INSERT INTO applications (id, name) VALUES (%(id)s, %(name)s)",
            psycopg2.errors.UniqueViolation,
            ConstraintConflict,
            "the change conflicts with the current state of the data",
        ),
        (
            "SELECT %(name)s::integer",
            psycopg2.errors.InvalidTextRepresentation,
            UnstorableValue,
            "a value cannot be stored by the database",
        ),
        (
            "SELECT 1 / 0 WHERE %(name)s IS NOT NULL",
            psycopg2.errors.DivisionByZero,
            UnstorableValue,
            "a value cannot be stored by the database",
        ),
    ],
)
def test_translate_database_error_maps_driver_errors(
    observer: Connection,
    statement: str,
    driver_type: type[psycopg2.Error],
    translated_type: type[Exception],
    message: str,
) -> None:
    name = "pool-translate-" + new_id()
    insert_application(observer, name=name)

    error = driver_error(observer, statement, {"id": new_id(), "name": name})

    assert type(error) is driver_type
    translated = translate_database_error(error)
    assert type(translated) is translated_type
    assert str(translated) == message


def test_translate_database_error_passes_other_errors_through(observer: Connection) -> None:
    error = driver_error(observer, "SELECT id FROM no_such_table", {})

    assert type(error) is psycopg2.errors.UndefinedTable
    assert translate_database_error(error) is error


def test_a_unique_violation_inside_the_pool_surfaces_as_constraint_conflict(
    pool: Database, observer: Connection
) -> None:
    name = "pool-duplicate-" + new_id()
    insert_application(observer, name=name)

    with pytest.raises(ConstraintConflict) as raised, pool.transaction() as connection:
        insert_application(connection, name=name)

    assert isinstance(raised.value.__cause__, psycopg2.errors.UniqueViolation)
    # A constraint error is not a connection failure: the pool still serves.
    assert select_one(pool) == 1


def test_an_unreachable_database_still_makes_a_pool_that_fails_each_borrow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = Database(dsn=UNREACHABLE_DSN, min_size=1, max_size=1, wait_seconds=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="database.pool"):
            pool.warm_up()
        assert [
            (record.levelname, record.getMessage().splitlines()[0]) for record in caplog.records
        ] == [
            (
                "WARNING",
                "could not open database connections at start-up: connection to server at "
                '"127.0.0.1", port 1 failed: Connection refused',
            )
        ]

        # Twice with max_size=1: a failed borrow gives its slot back (no PoolExhausted).
        for _ in range(2):
            with pytest.raises(DatabaseUnavailable) as raised, pool.connection():
                pass  # pragma: no cover - the borrow itself fails
            assert type(raised.value) is DatabaseUnavailable
            assert raised.value.reason == "the database is unreachable"
            assert raised.value.retry_after_seconds == 2
            assert isinstance(raised.value.__cause__, psycopg2.OperationalError)
    finally:
        pool.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def open_pids(database: Database, count: int) -> set[int]:
    """The backend pids of `count` connections borrowed at once (then all given back)."""
    with ExitStack() as stack:
        borrowed = [stack.enter_context(database.connection()) for _ in range(count)]
        return {backend_pid(connection) for connection in borrowed}


def test_connections_given_back_stay_open_up_to_the_max_until_idle_too_long(
    database_url: str,
) -> None:
    clock = FakeClock()
    database = Database(
        dsn=database_url, min_size=1, max_size=4, wait_seconds=1, idle_seconds=300, clock=clock
    )
    try:
        first = open_pids(database, 4)
        # psycopg2's own pool would have closed three of them as they came back.
        assert (database.usage().idle, database.usage().in_use) == (4, 0)
        for _ in range(5):
            assert open_pids(database, 4) == first  # no new server session
            clock.now += 299  # each is used again before it has been idle 300 s
        assert database.usage().idle == 4

        clock.now += 300
        # One borrowed and given back: the three idle longer are closed, it stays.
        [kept] = open_pids(database, 1)
        assert kept in first
        assert database.usage().idle == 1
        assert open_pids(database, 1) == {kept}

        clock.now += 10_000  # however long it idles, the min size stays open
        assert database.close_idle() == 0
        assert open_pids(database, 1) == {kept}
    finally:
        database.close()


def test_idle_connections_are_closed_on_the_server_too(
    database_url: str, observer: Connection
) -> None:
    clock = FakeClock()
    database = Database(
        dsn=database_url, min_size=0, max_size=2, wait_seconds=1, idle_seconds=60, clock=clock
    )
    try:
        pids = open_pids(database, 2)
        clock.now += 60
        assert database.close_idle() == 2
        assert database.usage().idle == 0
        # A closed client connection ends its backend; wait (bounded) for the server to see it.
        deadline = time.monotonic() + 10
        remaining = pids
        while remaining and time.monotonic() < deadline:
            with observer.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%(pids)s)",
                    {"pids": sorted(pids)},
                )
                remaining = {row[0] for row in cursor.fetchall()}
            time.sleep(0.05)
        assert remaining == set()
    finally:
        database.close()


def test_the_idle_setting_reaches_the_pool(database_url: str) -> None:
    clock = FakeClock()
    settings = make_settings(
        database_url,
        database_pool_min_size=0,
        database_pool_max_size=2,
        database_pool_idle_seconds=42.5,
    )
    database = Database.from_settings(settings, database_url, clock=clock)
    try:
        open_pids(database, 2)
        clock.now += 42
        assert database.close_idle() == 0
        clock.now += 0.5
        assert database.close_idle() == 2
    finally:
        database.close()
