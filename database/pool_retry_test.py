"""Database.run_in_transaction: a unit of work that meets a serialization failure runs again."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from database.errors import TransactionConflict
from database.pool import Connection, Database, connect
from services.ids import new_id

REPEATABLE_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
READ_COMMENTS = "SELECT comments FROM applications WHERE id = %(id)s"
WRITE_COMMENTS = "UPDATE applications SET comments = %(comments)s WHERE id = %(id)s"


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


def stored_comments(session: Connection, application_id: str) -> str:
    with session.cursor() as cursor:
        cursor.execute(READ_COMMENTS, {"id": application_id})
        row = cursor.fetchone()
    assert row is not None
    comments: str = row[0]
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

    assert database.run_in_transaction(work) == 2

    assert attempts == [1, 2]
    assert stored_comments(other_session, application_id) == "mine"


def test_persistent_serialization_failures_give_up_after_the_attempts(
    database: Database, other_session: Connection
) -> None:
    application_id = new_application(other_session)
    attempts: list[int] = []
    work = conflicting_work(application_id, other_session, conflicts=99, attempts=attempts)

    with pytest.raises(TransactionConflict) as raised:
        database.run_in_transaction(work, attempts=4)

    assert attempts == [1, 2, 3, 4]
    assert str(raised.value) == "the write collided with a concurrent one; try again"
    assert stored_comments(other_session, application_id) == "other-4"
