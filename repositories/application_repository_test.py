"""ApplicationRepository against the real PostgreSQL, each test in a transaction rolled back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg2.errors
import pytest

from database.pool import Connection, Database
from models.application import Application
from models.versioned import Versioned
from repositories.application_repository import ApplicationRepository
from repositories.configuration_repository import ConfigurationRepository
from repositories.errors import DuplicateKey
from services.ids import new_id


def unique_name(prefix: str = "app") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@pytest.fixture
def committed(database: Database) -> Iterator[Versioned[Application]]:
    """An application committed in a transaction of its own (deleted afterwards), for tests
    that need a later transaction, and so a later now(), or a second session.

    Ask for it before `connection`, so that it is deleted after that rolls back its locks.
    """
    with database.transaction() as connection:
        added = ApplicationRepository(connection).add(
            application_id=new_id(), name=unique_name("committed"), comments="before"
        )
    assert added is not None
    yield added
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM applications WHERE id = %(id)s", {"id": added.value.id})


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    """A connection whose work is rolled back after the test, whatever it did."""
    with database.connection() as borrowed:
        try:
            yield borrowed
        finally:
            borrowed.rollback()


@pytest.fixture
def repository(connection: Connection) -> ApplicationRepository:
    return ApplicationRepository(connection)


def add(repository: ApplicationRepository, *, comments: str | None = None) -> Application:
    added = repository.add(application_id=new_id(), name=unique_name(), comments=comments)
    assert added is not None
    return added.value


def ids_of(rows: list[Versioned[Application]]) -> list[str]:
    return [row.value.id for row in rows]


def transaction_start(connection: Connection) -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        row = cursor.fetchone()
    assert row is not None
    started: datetime = row[0]
    return started


@pytest.mark.parametrize("comments", [None, "", "Owned by the payments team\nsecond line"])
def test_add_returns_the_application_with_server_made_timestamps(
    repository: ApplicationRepository, connection: Connection, comments: str | None
) -> None:
    application_id, name = new_id(), unique_name()

    added = repository.add(application_id=application_id, name=name, comments=comments)

    assert added is not None
    application = added.value
    assert (application.id, application.name, application.comments) == (
        application_id,
        name,
        comments,
    )
    assert (application.revision, added.version) == (1, 1)
    assert application.created_at.utcoffset() == timedelta(0)
    assert application.created_at == application.updated_at == transaction_start(connection)
    assert repository.get(application_id=application_id) == added


def test_add_with_a_taken_name_returns_none_and_keeps_the_first(
    repository: ApplicationRepository,
) -> None:
    first = add(repository, comments="first")

    second = repository.add(application_id=new_id(), name=first.name, comments="second")

    assert second is None
    assert repository.list_page(after=None, limit=10, name=first.name) == [Versioned(first, 1)]


def test_names_are_case_sensitive(repository: ApplicationRepository) -> None:
    first = add(repository)
    other = repository.add(application_id=new_id(), name=first.name.upper(), comments=None)
    assert other is not None
    assert other.value.name == first.name.upper()


def test_get_returns_the_stored_application(repository: ApplicationRepository) -> None:
    added = add(repository, comments="c")
    assert repository.get(application_id=added.id) == Versioned(added, version=1)


def test_get_of_a_missing_application_returns_none(repository: ApplicationRepository) -> None:
    assert repository.get(application_id=new_id()) is None


def test_list_page_orders_by_id_and_starts_after(repository: ApplicationRepository) -> None:
    marker = new_id()
    ids = sorted(new_id() for _ in range(4))
    for application_id in reversed(ids):
        assert repository.add(application_id=application_id, name=unique_name(), comments=None)

    assert ids_of(repository.list_page(after=marker, limit=4, name=None)) == ids
    assert ids_of(repository.list_page(after=ids[1], limit=2, name=None)) == ids[2:]
    assert ids_of(repository.list_page(after=marker, limit=2, name=None)) == ids[:2]


def test_list_page_from_the_start_is_ordered_by_id(repository: ApplicationRepository) -> None:
    for _ in range(3):
        add(repository)
    listed = ids_of(repository.list_page(after=None, limit=1000, name=None))
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_list_page_returns_at_most_limit_rows(
    repository: ApplicationRepository, limit: int
) -> None:
    marker = new_id()
    added = [Versioned(add(repository), 1) for _ in range(3)]
    assert repository.list_page(after=marker, limit=limit, name=None) == added[:limit]


def test_list_page_filters_by_exact_name(repository: ApplicationRepository) -> None:
    wanted = add(repository)
    add(repository)
    assert repository.list_page(after=None, limit=10, name=wanted.name) == [Versioned(wanted, 1)]
    assert repository.list_page(after=None, limit=10, name=wanted.name.upper()) == []
    assert repository.list_page(after=None, limit=10, name=wanted.name[:-1]) == []
    assert repository.list_page(after=wanted.id, limit=10, name=wanted.name) == []


def test_update_returns_new_values_and_advances_updated_at(
    committed: Versioned[Application], repository: ApplicationRepository, connection: Connection
) -> None:
    before = committed.value
    new_name = unique_name("renamed")

    updated = repository.update_if_version(
        application_id=before.id, expected_version=1, name=new_name, comments=None
    )

    assert updated is not None
    after = updated.value
    assert (after.id, after.name, after.comments) == (before.id, new_name, None)
    assert (after.revision, updated.version) == (2, 2)
    assert after.created_at == before.created_at
    assert after.updated_at == transaction_start(connection)
    assert after.updated_at > before.updated_at
    assert repository.get(application_id=before.id) == updated


@pytest.mark.parametrize("expected_version", [0, 2, 99])
def test_update_of_another_version_changes_nothing(
    repository: ApplicationRepository, expected_version: int
) -> None:
    added = add(repository, comments="kept")

    updated = repository.update_if_version(
        application_id=added.id, expected_version=expected_version, name="other", comments=None
    )

    assert updated is None
    assert repository.get(application_id=added.id) == Versioned(added, 1)


def test_update_of_a_missing_application_returns_none(repository: ApplicationRepository) -> None:
    updated = repository.update_if_version(
        application_id=new_id(), expected_version=1, name=unique_name(), comments=None
    )
    assert updated is None


def test_update_to_a_taken_name_raises_duplicate_key(repository: ApplicationRepository) -> None:
    first, second = add(repository), add(repository)

    with pytest.raises(DuplicateKey) as caught:
        repository.update_if_version(
            application_id=second.id, expected_version=1, name=first.name, comments=None
        )

    assert caught.value.constraint == "applications_name_key"


def test_bump_version_changes_only_the_version(repository: ApplicationRepository) -> None:
    added = add(repository)

    assert repository.bump_version(application_id=added.id) is True
    assert repository.bump_version(application_id=added.id) is True

    assert repository.get(application_id=added.id) == Versioned(added, version=3)
    assert repository.bump_version(application_id=new_id()) is False


def test_bump_version_locks_the_row(
    committed: Versioned[Application], repository: ApplicationRepository, database: Database
) -> None:
    assert repository.bump_version(application_id=committed.value.id) is True

    with database.connection() as other, other.cursor() as cursor:
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            cursor.execute(
                "SELECT id FROM applications WHERE id = %(id)s FOR UPDATE NOWAIT",
                {"id": committed.value.id},
            )
        other.rollback()


def test_delete_returns_whether_it_deleted(repository: ApplicationRepository) -> None:
    added = add(repository)

    assert repository.delete_if_version(application_id=added.id, expected_version=2) is False
    assert repository.get(application_id=added.id) == Versioned(added, 1)
    assert repository.delete_if_version(application_id=added.id, expected_version=1) is True
    assert repository.get(application_id=added.id) is None
    assert repository.delete_if_version(application_id=added.id, expected_version=1) is False
    assert repository.delete_if_version(application_id=new_id(), expected_version=1) is False


def test_configuration_ids_are_ordered_by_id(
    repository: ApplicationRepository, connection: Connection
) -> None:
    application, other = add(repository), add(repository)
    ids = sorted(new_id() for _ in range(3))
    configurations = ConfigurationRepository(connection)
    for configuration_id in reversed(ids):
        configurations.add(
            configuration_id=configuration_id,
            application_id=application.id,
            name=unique_name("config"),
            comments=None,
            config={},
        )
    configurations.add(
        configuration_id=new_id(), application_id=other.id, name="x", comments=None, config={}
    )

    assert repository.configuration_ids(application_id=application.id) == ids
    assert repository.configuration_ids(application_id=new_id()) == []


def test_deleting_an_application_deletes_its_configurations(
    repository: ApplicationRepository, connection: Connection
) -> None:
    application, other = add(repository), add(repository)
    configurations = ConfigurationRepository(connection)
    owned = [new_id(), new_id()]
    kept = new_id()
    for configuration_id in owned:
        configurations.add(
            configuration_id=configuration_id,
            application_id=application.id,
            name=configuration_id,
            comments=None,
            config={"a": 1},
        )
    configurations.add(
        configuration_id=kept, application_id=other.id, name="kept", comments=None, config={}
    )

    assert repository.delete_if_version(application_id=application.id, expected_version=1) is True

    assert [configurations.get(configuration_id=each) for each in owned] == [None, None]
    assert repository.configuration_ids(application_id=application.id) == []
    assert repository.configuration_ids(application_id=other.id) == [kept]
