"""ConfigurationRepository against the real PostgreSQL, each test in a transaction rolled back."""

from __future__ import annotations

import secrets
import select
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from database.pool import Connection, Database, connect
from models.audit import Actor, AuditAction, AuditEntry, TargetType
from models.change import ChangeEntry, ChangeKind
from models.configuration import Configuration, JsonObject
from models.json_document import canonical_value
from repositories.application_repository import ApplicationRepository
from repositories.change_log_repository import ChangeLogRepository
from repositories.configuration_repository import ConfigurationRepository, WriteRecord
from repositories.errors import DuplicateKey, MissingReference
from services.ids import new_id


def unique_name(prefix: str = "config") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def add_application(connection: Connection) -> str:
    added = ApplicationRepository(connection).add(
        application_id=new_id(), name=unique_name("app"), comments=None
    )
    assert added is not None
    return added.value.id


@pytest.fixture
def committed(database: Database) -> Iterator[Configuration]:
    """A configuration committed in transactions of its own (deleted afterwards), for tests
    that need a later transaction, and so a later now().

    Ask for it before `connection`, so that it is deleted after that rolls back its locks.
    """
    with database.transaction() as connection:
        added = ConfigurationRepository(connection).add(
            configuration_id=new_id(),
            application_id=add_application(connection),
            name=unique_name(),
            comments="before",
            config={"version": 1},
        )
    assert added is not None
    yield added
    with database.transaction() as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM applications WHERE id = %(id)s", {"id": added.application_id})


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    """A connection whose work is rolled back after the test, whatever it did."""
    with database.connection() as borrowed:
        try:
            yield borrowed
        finally:
            borrowed.rollback()


@pytest.fixture
def repository(connection: Connection) -> ConfigurationRepository:
    return ConfigurationRepository(connection)


@pytest.fixture
def application_id(connection: Connection) -> str:
    return add_application(connection)


def add(
    repository: ConfigurationRepository,
    application_id: str,
    *,
    name: str | None = None,
    config: JsonObject | None = None,
    configuration_id: str | None = None,
) -> Configuration:
    added = repository.add(
        configuration_id=configuration_id or new_id(),
        application_id=application_id,
        name=name or unique_name(),
        comments=None,
        config={"key": "value"} if config is None else config,
    )
    assert added is not None
    return added


def transaction_start(connection: Connection) -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        row = cursor.fetchone()
    assert row is not None
    started: datetime = row[0]
    return started


def test_add_returns_the_configuration_with_server_made_timestamps(
    repository: ConfigurationRepository, connection: Connection, application_id: str
) -> None:
    configuration_id, name = new_id(), unique_name()
    config = {"database": {"pool_size": 20}}
    schema = {"type": "object"}

    added = repository.add(
        configuration_id=configuration_id,
        application_id=application_id,
        name=name,
        comments="EU",
        config=config,
        schema=schema,
        message="first",
    )

    assert added is not None
    assert (added.id, added.application_id, added.name, added.comments) == (
        configuration_id,
        application_id,
        name,
        "EU",
    )
    assert (added.config, added.json_schema, added.revision) == (config, schema, 1)
    assert added.created_at.utcoffset() == timedelta(0)
    assert added.created_at == added.updated_at == transaction_start(connection)
    assert repository.get(configuration_id=configuration_id) == added


def test_add_records_revision_one(repository: ConfigurationRepository, application_id: str) -> None:
    added = repository.add(
        configuration_id=new_id(),
        application_id=application_id,
        name="n",
        comments=None,
        config={"a": [1]},
        message="why",
    )
    assert added is not None

    revisions = repository.list_revisions(configuration_id=added.id, before=None, limit=10)

    assert [
        (r.revision, r.name, r.comments, r.config, r.json_schema, r.message, r.restored_from)
        for r in revisions
    ] == [(1, "n", None, {"a": [1]}, None, "why", None)]
    assert revisions[0].created_at == added.updated_at


def test_add_with_an_unknown_application_raises_missing_reference(
    repository: ConfigurationRepository,
) -> None:
    with pytest.raises(MissingReference) as caught:
        repository.add(
            configuration_id=new_id(),
            application_id=new_id(),
            name=unique_name(),
            comments=None,
            config={},
        )
    assert caught.value.constraint == "configurations_application_id_fkey"


def test_add_with_a_name_taken_in_the_same_application_returns_none(
    repository: ConfigurationRepository, application_id: str
) -> None:
    first = add(repository, application_id, config={"first": True})

    second = repository.add(
        configuration_id=new_id(),
        application_id=application_id,
        name=first.name,
        comments=None,
        config={"second": True},
    )

    assert second is None
    assert repository.list_page(application_id=application_id, after=None, limit=10) == [first]


def test_the_same_name_in_another_application_is_fine(
    repository: ConfigurationRepository, connection: Connection, application_id: str
) -> None:
    first = add(repository, application_id)
    other_application = add_application(connection)

    second = add(repository, other_application, name=first.name)

    assert (second.application_id, second.name) == (other_application, first.name)
    assert repository.get(configuration_id=first.id) == first


def test_get_of_a_missing_configuration_returns_none(repository: ConfigurationRepository) -> None:
    assert repository.get(configuration_id=new_id()) is None


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"nested": {"deeper": {"deepest": [1, [2, [3, {"x": None}]]]}}},
        {"big": 10**30, "negative_big": -(10**30), "zero": 0},
        {"floats": [0.1, -2.5, 1.5e-7, 123456.789, 1.0, -0.5]},
        {"int_and_float": [1, 1.0], "bool": [True, False], "null": None},
        {"unicode": "héllo wörld 🚀 日本語 e\u0301", "ключ": "значение", "🚀": "emoji key"},
        {"": "empty key", " ": "space key", "a/b~c": "pointer characters"},
        {"quotes": 'say "hi"', "backslash": "a\\b", "controls": "tab\tnew\nline\x01"},
        {"list_of_objects": [{"b": 2, "a": 1}, {}, []], "empty_string": ""},
    ],
)
def test_jsonb_round_trip(
    repository: ConfigurationRepository, application_id: str, config: dict[str, Any]
) -> None:
    added = add(repository, application_id, config=config)

    stored = repository.get(configuration_id=added.id)

    assert stored is not None
    assert stored.config == config == added.config
    # == says 1 == 1.0 == True; the canonical JSON text tells them apart.
    assert canonical_value(stored.config) == canonical_value(config)


def test_schema_round_trip_and_null(
    repository: ConfigurationRepository, application_id: str
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10**20}}}
    with_schema = repository.add(
        configuration_id=new_id(),
        application_id=application_id,
        name="with",
        comments=None,
        config={},
        schema=schema,
    )
    without = add(repository, application_id, name="without")

    assert with_schema is not None
    assert repository.get(configuration_id=with_schema.id) == with_schema
    assert with_schema.json_schema == schema
    assert without.json_schema is None


def test_list_page_orders_by_id_with_after_and_limit(
    repository: ConfigurationRepository, connection: Connection, application_id: str
) -> None:
    ids = sorted(new_id() for _ in range(4))
    for configuration_id in reversed(ids):
        add(repository, application_id, configuration_id=configuration_id)
    add(repository, add_application(connection))

    def listed(after: str | None, limit: int) -> list[str]:
        page = repository.list_page(application_id=application_id, after=after, limit=limit)
        return [configuration.id for configuration in page]

    assert listed(None, 10) == ids
    assert listed(None, 2) == ids[:2]
    assert listed(ids[1], 10) == ids[2:]
    assert listed(ids[1], 1) == [ids[2]]
    assert listed(ids[3], 10) == []
    assert listed(None, 0) == []
    assert repository.list_page(application_id=new_id(), after=None, limit=10) == []


def test_update_writes_the_next_revision_and_advances_updated_at(
    committed: Configuration, repository: ConfigurationRepository, connection: Connection
) -> None:
    updated = repository.update_if_revision(
        configuration_id=committed.id,
        expected_revision=1,
        name="renamed",
        comments=None,
        config={"version": 2, "nested": {"x": [1]}},
        schema={"type": "object"},
        message="second",
        restored_from=1,
        record=record_for(committed.id, committed.application_id),
    )

    assert updated is not None
    assert (updated.id, updated.application_id) == (committed.id, committed.application_id)
    assert (updated.name, updated.comments, updated.revision) == ("renamed", None, 2)
    assert (updated.config, updated.json_schema) == (
        {"version": 2, "nested": {"x": [1]}},
        {"type": "object"},
    )
    assert updated.created_at == committed.created_at
    assert updated.updated_at == transaction_start(connection)
    assert updated.updated_at > committed.updated_at
    assert repository.get(configuration_id=committed.id) == updated
    revision = repository.get_revision(configuration_id=committed.id, revision=2)
    assert revision is not None
    assert (revision.name, revision.config, revision.message, revision.restored_from) == (
        "renamed",
        {"version": 2, "nested": {"x": [1]}},
        "second",
        1,
    )
    assert revision.created_at == updated.updated_at


@pytest.mark.parametrize("expected_revision", [0, 2, 5])
def test_update_of_another_revision_changes_nothing(
    repository: ConfigurationRepository, application_id: str, expected_revision: int
) -> None:
    added = add(repository, application_id)

    updated = repository.update_if_revision(
        configuration_id=added.id,
        expected_revision=expected_revision,
        name="other",
        comments="c",
        config={},
        record=record_for(added.id, application_id, expected_revision),
    )

    assert updated is None
    assert repository.get(configuration_id=added.id) == added
    revisions = repository.list_revisions(configuration_id=added.id, before=None, limit=10)
    assert [revision.revision for revision in revisions] == [1]


def test_update_of_a_missing_configuration_returns_none(
    repository: ConfigurationRepository,
) -> None:
    updated = repository.update_if_revision(
        configuration_id=new_id(),
        expected_revision=1,
        name="n",
        comments=None,
        config={},
        record=record_for(new_id(), new_id()),
    )
    assert updated is None


def test_update_to_a_taken_name_raises_duplicate_key(
    repository: ConfigurationRepository, application_id: str
) -> None:
    first, second = add(repository, application_id), add(repository, application_id)

    with pytest.raises(DuplicateKey) as caught:
        repository.update_if_revision(
            configuration_id=second.id,
            expected_revision=1,
            name=first.name,
            comments=None,
            config={},
            record=record_for(second.id, application_id),
        )

    assert caught.value.constraint == "configurations_application_id_name_key"


def test_list_revisions_newest_first_with_before_and_limit(
    repository: ConfigurationRepository, application_id: str
) -> None:
    added = add(repository, application_id, config={"n": 1})
    for revision in range(1, 4):
        assert repository.update_if_revision(
            configuration_id=added.id,
            expected_revision=revision,
            name=added.name,
            comments=None,
            config={"n": revision + 1},
            record=record_for(added.id, application_id, revision),
        )

    def listed(before: int | None, limit: int) -> list[tuple[int, JsonObject]]:
        revisions = repository.list_revisions(configuration_id=added.id, before=before, limit=limit)
        return [(revision.revision, revision.config) for revision in revisions]

    assert listed(None, 10) == [(4, {"n": 4}), (3, {"n": 3}), (2, {"n": 2}), (1, {"n": 1})]
    assert listed(None, 2) == [(4, {"n": 4}), (3, {"n": 3})]
    assert listed(3, 10) == [(2, {"n": 2}), (1, {"n": 1})]
    assert listed(1, 10) == []
    assert repository.get_revision(configuration_id=added.id, revision=5) is None
    assert repository.list_revisions(configuration_id=new_id(), before=None, limit=10) == []


def test_delete_returns_whether_it_deleted(
    repository: ConfigurationRepository, application_id: str
) -> None:
    added = add(repository, application_id)

    assert repository.delete_if_revision(configuration_id=added.id, expected_revision=2) is False
    assert repository.get(configuration_id=added.id) == added
    assert repository.delete_if_revision(configuration_id=added.id, expected_revision=1) is True
    assert repository.get(configuration_id=added.id) is None
    assert repository.list_revisions(configuration_id=added.id, before=None, limit=10) == []
    assert repository.delete_if_revision(configuration_id=added.id, expected_revision=1) is False
    assert repository.delete_if_revision(configuration_id=new_id(), expected_revision=1) is False


RECORD = WriteRecord(
    actor=Actor(key_id=None, key_name="test key", request_id="req-1"),
    audit=AuditEntry(
        action=AuditAction.CONFIGURATION_UPDATED,
        target_type=TargetType.CONFIGURATION,
        target_id="set per test",
    ),
    kind=ChangeKind.UPDATED,
)


def record_for(configuration_id: str, application_id: str, revision: int = 1) -> WriteRecord:
    """RECORD for the write that makes `revision + 1` of a configuration."""
    return replace(
        RECORD,
        audit=replace(
            RECORD.audit,
            target_id=configuration_id,
            application_id=application_id,
            configuration_id=configuration_id,
            revision_before=revision,
            revision_after=revision + 1,
        ),
    )


def records_of(connection: Connection, configuration_id: str) -> list[tuple[Any, ...]]:
    """(audit action, revisions before/after, key name) and (change kind, revision, name)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT action, revision_before, revision_after, key_name FROM audit_log"
            " WHERE configuration_id = %(id)s ORDER BY id",
            {"id": configuration_id},
        )
        audited = cursor.fetchall()
        cursor.execute(
            "SELECT kind, revision, configuration_name, position FROM change_log"
            " WHERE configuration_id = %(id)s ORDER BY position",
            {"id": configuration_id},
        )
        logged = cursor.fetchall()
    return [*audited, *logged]


def test_an_update_with_its_record_audits_logs_and_notifies_in_its_one_statement(
    database: Database, database_url: str
) -> None:
    listener = connect(database_url)
    listener.autocommit = True
    try:
        with listener.cursor() as cursor:
            cursor.execute("LISTEN config_changes")
        with database.transaction() as connection:
            application_id = add_application(connection)
            added = add(ConfigurationRepository(connection), application_id)
        record = record_for(added.id, application_id)
        with database.transaction() as connection:
            repository = ConfigurationRepository(connection)
            stale = repository.update_if_revision(
                configuration_id=added.id,
                expected_revision=2,
                name="renamed",
                comments=None,
                config={"v": 2},
                record=record,
            )
            assert stale is None
            assert records_of(connection, added.id) == []  # a lost compare-and-set records nothing
            updated = repository.update_if_revision(
                configuration_id=added.id,
                expected_revision=1,
                name="renamed",
                comments=None,
                config={"v": 2},
                record=record,
            )
        assert updated is not None
        assert (updated.revision, updated.name, updated.config) == (2, "renamed", {"v": 2})
        with database.transaction() as connection:
            found = records_of(connection, added.id)
        assert found[:2] == [
            ("configuration.updated", 1, 2, "test key"),
            ("updated", 2, "renamed", found[1][3]),
        ]
        position = found[1][3]
        select.select([listener], [], [], 10)  # delivered on commit; bounded wait for it here
        listener.poll()
        assert [(notice.channel, notice.payload) for notice in listener.notifies] == [
            ("config_changes", str(position))
        ]
    finally:
        listener.close()


def test_an_update_after_an_append_in_its_transaction_takes_the_next_position(
    database: Database,
) -> None:
    with database.transaction() as connection:
        application_id = add_application(connection)
        added = add(ConfigurationRepository(connection), application_id)
    record = record_for(added.id, application_id)
    with database.transaction() as connection:
        earlier = ChangeLogRepository(connection).append(
            application_id=application_id,
            entries=[ChangeEntry(kind=ChangeKind.UPDATED, configuration_id="other", name="x")],
        )
        updated = ConfigurationRepository(connection).update_if_revision(
            configuration_id=added.id,
            expected_revision=1,
            name="renamed",
            comments=None,
            config={"v": 2},
            record=record,
        )
        assert updated is not None
        logged = records_of(connection, added.id)[1]
    assert logged == ("updated", 2, "renamed", earlier + 1)
