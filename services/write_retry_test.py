"""retry_write: a write that loses a compare-and-set, meets a serialization failure or is
chosen as a deadlock victim runs again, in a new transaction, and its retry commits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext

import pytest

from database.errors import TransactionConflict
from database.pool import Connection, Database, connect
from services.errors import ConcurrentModification
from services.ids import new_id
from services.write_retry import (
    FIRST_PAUSE_SECONDS,
    LONGEST_PAUSE_SECONDS,
    MAX_WRITE_ATTEMPTS,
    StaleRead,
    pause_before_attempt,
    retry_write,
)

REPEATABLE_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
READ_COMMENTS = "SELECT comments FROM applications WHERE id = %(id)s"
WRITE_COMMENTS = "UPDATE applications SET comments = %(comments)s WHERE id = %(id)s"
LOCK_ROW = "SELECT id FROM applications WHERE id = %(id)s FOR UPDATE"


@pytest.fixture
def other_session(database_url: str) -> Iterator[Connection]:
    connection = connect(database_url)
    connection.autocommit = True
    yield connection
    connection.close()


def new_application(session: Connection) -> str:
    application_id = new_id()
    with session.cursor() as cursor:
        cursor.execute(
            "INSERT INTO applications (id, name) VALUES (%(id)s, %(name)s)",
            {"id": application_id, "name": "retry-" + application_id},
        )
    return application_id


def stored_comments(session: Connection, application_id: str) -> str | None:
    with session.cursor() as cursor:
        cursor.execute(READ_COMMENTS, {"id": application_id})
        row = cursor.fetchone()
    assert row is not None
    comments: str | None = row[0]
    return comments


def conflicting_work(
    application_id: str, other_session: Connection, *, conflicts: int, attempts: list[int]
) -> Callable[[Connection], int]:
    """A read-then-write that another session overwrites in between, `conflicts` times."""

    def work(connection: Connection) -> int:
        attempts.append(len(attempts) + 1)
        with connection.cursor() as cursor:
            cursor.execute(REPEATABLE_READ)
            cursor.execute(READ_COMMENTS, {"id": application_id})
            if len(attempts) <= conflicts:
                with other_session.cursor() as other:
                    other.execute(
                        WRITE_COMMENTS, {"id": application_id, "comments": f"other-{len(attempts)}"}
                    )
            cursor.execute(WRITE_COMMENTS, {"id": application_id, "comments": "mine"})
        return len(attempts)

    return work


def test_a_serialization_failure_is_retried_and_the_retry_commits(
    database: Database, other_session: Connection
) -> None:
    application_id = new_application(other_session)
    attempts: list[int] = []
    work = conflicting_work(application_id, other_session, conflicts=1, attempts=attempts)

    assert retry_write(database.transaction, work) == 2

    assert attempts == [1, 2]
    assert stored_comments(other_session, application_id) == "mine"


def test_persistent_serialization_failures_give_up_after_the_attempts(
    database: Database, other_session: Connection
) -> None:
    application_id = new_application(other_session)
    attempts: list[int] = []
    work = conflicting_work(application_id, other_session, conflicts=99, attempts=attempts)

    with pytest.raises(TransactionConflict) as raised:
        retry_write(database.transaction, work, attempts=4)

    assert attempts == [1, 2, 3, 4]
    assert str(raised.value) == "the write collided with a concurrent one; try again"
    assert stored_comments(other_session, application_id) == "other-4"


def test_a_deadlock_victim_is_retried_and_both_writes_commit(
    database: Database, other_session: Connection
) -> None:
    # Two writers lock the same two rows in opposite orders, each waiting at a barrier after
    # its first lock: PostgreSQL finds the deadlock and aborts one (40P01), which runs again.
    first, second = new_application(other_session), new_application(other_session)
    barrier = threading.Barrier(2, timeout=30)
    attempts = {"forward": 0, "backward": 0}
    results: dict[str, int] = {}
    failures: list[BaseException] = []

    def writer(name: str, order: tuple[str, str]) -> None:
        def work(connection: Connection) -> int:
            attempts[name] += 1
            with connection.cursor() as cursor:
                cursor.execute(LOCK_ROW, {"id": order[0]})
                if attempts[name] == 1:
                    barrier.wait()
                cursor.execute(LOCK_ROW, {"id": order[1]})
                for application_id in order:
                    cursor.execute(WRITE_COMMENTS, {"id": application_id, "comments": name})
            return attempts[name]

        try:
            results[name] = retry_write(database.transaction, work)
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=writer, args=("forward", (first, second))),
        threading.Thread(target=writer, args=("backward", (second, first))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert set(results) == {"forward", "backward"}
    # At least one was a deadlock victim and ran again (under load a retry can meet the other
    # writer again, so it may take more than one).
    assert max(results.values()) >= 2
    # Each writer writes both rows: the one that committed last wrote both.
    assert stored_comments(other_session, first) == stored_comments(other_session, second)
    assert stored_comments(other_session, first) in results


def test_a_lost_compare_and_set_is_retried_until_it_wins() -> None:
    calls: list[int] = []

    def attempt(unit: None) -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 3:
            raise StaleRead(resource="configuration", resource_id="X")
        return "written"

    assert retry_write(lambda: nullcontext(None), attempt) == "written"
    assert calls == [1, 2, 3]


def test_a_compare_and_set_lost_on_every_attempt_is_concurrent_modification() -> None:
    calls: list[int] = []

    def attempt(unit: None) -> str:
        calls.append(len(calls) + 1)
        raise StaleRead(resource="configuration", resource_id="01JQ3V7B2D4F6H8K0M2P4R6T8V")

    with pytest.raises(ConcurrentModification) as raised:
        retry_write(lambda: nullcontext(None), attempt)

    assert len(calls) == MAX_WRITE_ATTEMPTS
    assert (raised.value.resource, raised.value.resource_id) == (
        "configuration",
        "01JQ3V7B2D4F6H8K0M2P4R6T8V",
    )
    assert isinstance(raised.value.__cause__, StaleRead)


def test_a_lost_compare_and_set_rolls_its_attempt_back(
    database: Database, other_session: Connection
) -> None:
    application_id = new_application(other_session)
    calls: list[int] = []

    def attempt(connection: Connection) -> None:
        calls.append(len(calls) + 1)
        with connection.cursor() as cursor:
            cursor.execute(WRITE_COMMENTS, {"id": application_id, "comments": f"try-{len(calls)}"})
        raise StaleRead(resource="application", resource_id=application_id)

    with pytest.raises(ConcurrentModification):
        retry_write(database.transaction, attempt, attempts=2)

    assert calls == [1, 2]
    assert stored_comments(other_session, application_id) is None


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def attempt(unit: None) -> None:
        calls.append(1)
        raise KeyError("not a conflict")

    with pytest.raises(KeyError):
        retry_write(lambda: nullcontext(None), attempt)
    assert calls == [1]


def test_no_attempt_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match=r"attempts must be at least 1 \(got 0\)"):
        retry_write(lambda: nullcontext(None), lambda unit: unit, attempts=0)


@pytest.mark.parametrize("attempt", [2, 3, 4, 5, 10, 40])
def test_pauses_are_jittered_and_grow_up_to_a_bound(attempt: int) -> None:
    step = min(FIRST_PAUSE_SECONDS * 2 ** (attempt - 2), LONGEST_PAUSE_SECONDS)
    pauses = {pause_before_attempt(attempt) for _ in range(50)}
    assert all(step / 2 <= pause <= step for pause in pauses)
    assert len(pauses) > 1
