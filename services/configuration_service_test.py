"""ConfigurationService rules, through the real database pool (each call commits its own work)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from database.pool import Database
from models.application import ApplicationCreate
from models.configuration import Configuration, ConfigurationCreate, ConfigurationUpdate
from models.versioned import Versioned
from repositories.unit_of_work import unit_of_work_factory
from services.application_service import ApplicationService
from services.configuration_service import ConfigurationService
from services.errors import (
    ApplicationNotFound,
    ConfigurationNameTaken,
    ConfigurationNotFound,
    FieldProblem,
    InvalidRequest,
)
from services.ids import new_id
from testing.actors import TEST_ACTOR

MAX_DEPTH = 4


def unique_name(prefix: str = "config") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@pytest.fixture
def service(database: Database) -> ConfigurationService:
    return ConfigurationService(
        unit_of_work_factory(database), max_json_depth=MAX_DEPTH, actor=TEST_ACTOR
    )


@pytest.fixture
def applications(database: Database) -> ApplicationService:
    return ApplicationService(unit_of_work_factory(database), actor=TEST_ACTOR)


def unversioned(configuration: Versioned[Configuration]) -> Configuration:
    """The configuration, after checking that its version is its revision."""
    assert configuration.version == configuration.value.revision
    return configuration.value


@pytest.fixture
def application_id(applications: ApplicationService) -> str:
    return applications.create(data=ApplicationCreate(name=unique_name("app"))).value.id


def create(service: ConfigurationService, application_id: str, **fields: Any) -> Configuration:
    fields.setdefault("name", unique_name())
    fields.setdefault("comments", "original")
    fields.setdefault("config", {"flag": 1, "nested": {"a": [1, 2]}})
    return unversioned(
        service.create(
            data=ConfigurationCreate.model_validate({"application_id": application_id, **fields})
        )
    )


def update(service: ConfigurationService, configuration_id: str, **changes: Any) -> Configuration:
    return unversioned(
        service.update(
            configuration_id=configuration_id, changes=ConfigurationUpdate.model_validate(changes)
        )
    )


def test_create_returns_revision_one_and_changes_the_application_version(
    service: ConfigurationService, applications: ApplicationService, application_id: str
) -> None:
    name = unique_name()

    created = create(service, application_id, name=name, config={"a": {"b": 1}})

    assert (created.application_id, created.name, created.comments) == (
        application_id,
        name,
        "original",
    )
    assert (created.config, created.json_schema, created.revision) == ({"a": {"b": 1}}, None, 1)
    assert unversioned(service.get(configuration_id=created.id)) == created
    application = applications.get(application_id=application_id)
    assert (application.value.configuration_ids, application.version) == ([created.id], 2)


def test_create_with_a_lowercase_application_id(
    service: ConfigurationService, application_id: str
) -> None:
    created = create(service, application_id.lower())
    assert created.application_id == application_id


def test_create_for_an_unknown_application_is_an_invalid_request(
    service: ConfigurationService,
) -> None:
    missing = new_id()

    with pytest.raises(InvalidRequest) as caught:
        create(service, missing)

    assert caught.value.problems == [
        FieldProblem(
            field="application_id",
            rule="application_exists",
            message=f"application {missing} does not exist",
        )
    ]


def test_create_with_a_taken_name_raises_configuration_name_taken(
    service: ConfigurationService, applications: ApplicationService, application_id: str
) -> None:
    existing = create(service, application_id)

    with pytest.raises(ConfigurationNameTaken) as caught:
        create(service, application_id, name=existing.name)

    assert (caught.value.application_id, caught.value.name) == (application_id, existing.name)
    assert str(caught.value) == (
        f"application {application_id} already has a configuration named {existing.name!r}"
    )
    # Nothing of the failed attempt stays, not even the application's new version.
    assert applications.get(application_id=application_id).version == 2


def test_the_same_name_in_another_application_is_fine(
    service: ConfigurationService, applications: ApplicationService, application_id: str
) -> None:
    existing = create(service, application_id)
    other = applications.create(data=ApplicationCreate(name=unique_name("app"))).value.id

    created = create(service, other, name=existing.name)

    assert (created.application_id, created.name) == (other, existing.name)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"a": "\x00"}, [("/config/a", "config.a", "text_nul")]),
        (
            {"a/b": {"c~d": float("inf")}},
            [("/config/a~1b/c~0d", "config.a~1b.c~0d", "number_out_of_range")],
        ),
        ({"list": [1, "\ud800"]}, [("/config/list/1", "config.list.1", "unicode_surrogate")]),
        (
            {"a": {"a": {"a": {"a": {}}}}},
            [("/config/a/a/a/a", "config.a.a.a.a", "nesting_too_deep")],
        ),
        (
            {"x": float("nan"), "k\x00": 1},
            [
                ("/config/k\x00", "config.k\x00", "text_nul"),
                ("/config/x", "config.x", "number_out_of_range"),
            ],
        ),
    ],
)
def test_create_reports_document_problems_with_pointers(
    service: ConfigurationService,
    application_id: str,
    config: dict[str, Any],
    expected: list[tuple[str, str, str]],
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        create(service, application_id, config=config)

    assert [
        (problem.pointer, problem.field, problem.rule) for problem in caught.value.problems
    ] == expected
    assert (
        service.list_for_application(application_id=application_id, after=None, limit=5).items == []
    )


def test_nesting_exactly_at_the_limit_is_accepted(
    service: ConfigurationService, application_id: str
) -> None:
    created = create(service, application_id, config={"a": {"a": {"a": {}}}})
    assert created.config == {"a": {"a": {"a": {}}}}


@pytest.mark.parametrize(
    "call",
    [
        lambda service, missing: unversioned(service.get(configuration_id=missing)),
        lambda service, missing: service.update(
            configuration_id=missing, changes=ConfigurationUpdate(comments="x")
        ),
        lambda service, missing: service.delete(configuration_id=missing),
    ],
    ids=["get", "update", "delete"],
)
def test_unknown_ids_raise_configuration_not_found(
    service: ConfigurationService, call: Any
) -> None:
    missing = new_id()

    with pytest.raises(ConfigurationNotFound) as caught:
        call(service, missing)

    assert str(caught.value) == f"configuration {missing} does not exist"
    assert caught.value.resource_id == missing


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"comments": "original"},
        {"config": {"nested": {"a": [1, 2]}, "flag": 1}},
        {"name": "<same>", "comments": "original", "config": {"flag": 1, "nested": {"a": [1, 2]}}},
        {"schema": None},
    ],
)
def test_update_without_an_actual_change_returns_the_current_configuration(
    service: ConfigurationService, application_id: str, changes: dict[str, Any]
) -> None:
    created = create(service, application_id)
    if changes.get("name") == "<same>":
        changes["name"] = created.name

    updated = update(service, created.id, **changes)

    assert updated == created
    assert unversioned(service.get(configuration_id=created.id)) == created


def test_the_same_number_written_differently_is_no_change(
    service: ConfigurationService, application_id: str
) -> None:
    # JSON numbers are values: jsonb keeps 1e20 as 100000000000000000000, and 1.0 equals 1.
    created = create(service, application_id, config={"flag": 1, "big": 1e20})

    updated = update(service, created.id, config={"flag": 1.0, "big": 10**20})

    assert updated == created
    assert updated.revision == 1


@pytest.mark.parametrize("new_flag", [True, "1", [1]], ids=["bool", "string", "array"])
def test_a_change_of_json_type_is_a_real_change(
    service: ConfigurationService, application_id: str, new_flag: object
) -> None:
    created = create(service, application_id, config={"flag": 1})

    updated = update(service, created.id, config={"flag": new_flag})

    assert updated.revision == 2
    assert updated.updated_at > created.updated_at
    stored = unversioned(service.get(configuration_id=created.id))
    assert (type(stored.config["flag"]), stored.config["flag"]) == (type(new_flag), new_flag)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"comments": "new"}, {"comments": "new"}),
        ({"comments": None}, {"comments": None}),
        ({"config": {"other": []}}, {"config": {"other": []}}),
        ({"name": "<new>"}, {"name": "<new>"}),
        ({"name": "<new>", "comments": None}, {"name": "<new>", "comments": None}),
        ({"schema": {"type": "object"}}, {"json_schema": {"type": "object"}}),
    ],
)
def test_update_changes_only_the_fields_given(
    service: ConfigurationService,
    application_id: str,
    changes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    created = create(service, application_id)
    new_name = unique_name("renamed")
    for values in (changes, expected):
        if values.get("name") == "<new>":
            values["name"] = new_name

    updated = update(service, created.id, **changes)

    unchanged = {
        field: getattr(created, field)
        for field in ("name", "comments", "config", "json_schema")
        if field not in expected
    }
    assert {field: getattr(updated, field) for field in unchanged} == unchanged
    assert {field: getattr(updated, field) for field in expected} == expected
    assert (updated.id, updated.application_id, updated.revision) == (
        created.id,
        application_id,
        2,
    )
    assert updated.created_at == created.created_at
    assert updated.updated_at > created.updated_at
    assert unversioned(service.get(configuration_id=created.id)) == updated


def test_update_to_a_taken_name_raises_configuration_name_taken(
    service: ConfigurationService, application_id: str
) -> None:
    first, second = create(service, application_id), create(service, application_id)

    with pytest.raises(ConfigurationNameTaken) as caught:
        update(service, second.id, name=first.name)

    assert (caught.value.application_id, caught.value.name) == (application_id, first.name)
    assert unversioned(service.get(configuration_id=second.id)) == second


def test_update_reports_document_problems_and_keeps_the_configuration(
    service: ConfigurationService, application_id: str
) -> None:
    created = create(service, application_id)

    with pytest.raises(InvalidRequest) as caught:
        update(service, created.id, config={"ok": 1, "bad": ["\x00"]})

    assert [(problem.pointer, problem.rule) for problem in caught.value.problems] == [
        ("/config/bad/0", "text_nul")
    ]
    assert unversioned(service.get(configuration_id=created.id)) == created


def test_delete_removes_the_configuration(
    service: ConfigurationService, applications: ApplicationService, application_id: str
) -> None:
    created = create(service, application_id)

    service.delete(configuration_id=created.id)

    with pytest.raises(ConfigurationNotFound):
        unversioned(service.get(configuration_id=created.id))
    assert applications.get(application_id=application_id).value.configuration_ids == []


def test_list_for_an_unknown_application_raises_application_not_found(
    service: ConfigurationService,
) -> None:
    missing = new_id()

    with pytest.raises(ApplicationNotFound) as caught:
        service.list_for_application(application_id=missing, after=None, limit=10)

    assert str(caught.value) == f"application {missing} does not exist"


@pytest.mark.parametrize(
    ("after_index", "limit", "expected_indexes", "more"),
    [
        (None, 2, [0, 1], True),
        (None, 3, [0, 1, 2], False),
        (None, 10, [0, 1, 2], False),
        (0, 1, [1], True),
        (1, 1, [2], False),
        (2, 5, [], False),
    ],
)
def test_list_sets_next_after_exactly_when_more_rows_exist(
    service: ConfigurationService,
    application_id: str,
    after_index: int | None,
    limit: int,
    expected_indexes: list[int],
    more: bool,
) -> None:
    ids = [create(service, application_id).id for _ in range(3)]
    after = None if after_index is None else ids[after_index]

    page = service.list_for_application(application_id=application_id, after=after, limit=limit)

    expected = [ids[index] for index in expected_indexes]
    assert [configuration.id for configuration in page.items] == expected
    assert page.next_after == (expected[-1] if more else None)
