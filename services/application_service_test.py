"""ApplicationService rules, through the real database pool (each call commits its own work)."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import pytest

from database.pool import Database
from models.application import ApplicationCreate, ApplicationDetail, ApplicationUpdate
from models.configuration import ConfigurationCreate
from models.versioned import Precondition, Versioned
from repositories import change_log_repository
from repositories.unit_of_work import unit_of_work_factory
from services.application_service import ApplicationService
from services.configuration_service import ConfigurationService
from services.errors import (
    ApplicationNameTaken,
    ApplicationNotFound,
    Conflict,
    PreconditionFailed,
)
from services.ids import new_id
from testing.actors import TEST_ACTOR


def unique_name(prefix: str = "app") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@pytest.fixture
def service(database: Database) -> ApplicationService:
    return ApplicationService(unit_of_work_factory(database), actor=TEST_ACTOR)


def create(
    service: ApplicationService, *, comments: str | None = "original"
) -> Versioned[ApplicationDetail]:
    return service.create(data=ApplicationCreate(name=unique_name(), comments=comments))


def update(
    service: ApplicationService, application_id: str, **changes: Any
) -> Versioned[ApplicationDetail]:
    return service.update(
        application_id=application_id, changes=ApplicationUpdate.model_validate(changes)
    )


def test_create_returns_the_new_application_without_configurations(
    service: ApplicationService,
) -> None:
    name = unique_name()

    created = service.create(data=ApplicationCreate(name=name, comments="c"))

    detail = created.value
    assert (detail.name, detail.comments, detail.configuration_ids) == (name, "c", [])
    assert (detail.revision, created.version) == (1, 1)
    assert detail.created_at == detail.updated_at
    assert service.get(application_id=detail.id) == created


def test_create_with_a_taken_name_raises_application_name_taken(
    service: ApplicationService,
) -> None:
    existing = create(service).value

    with pytest.raises(ApplicationNameTaken) as caught:
        service.create(data=ApplicationCreate(name=existing.name))

    assert caught.value.name == existing.name
    assert str(caught.value) == f"an application named {existing.name!r} already exists"


@pytest.mark.parametrize(
    "call",
    [
        lambda service, missing: service.get(application_id=missing),
        lambda service, missing: service.update(
            application_id=missing, changes=ApplicationUpdate(comments="x")
        ),
        lambda service, missing: service.delete(application_id=missing),
    ],
    ids=["get", "update", "delete"],
)
def test_unknown_ids_raise_application_not_found(service: ApplicationService, call: Any) -> None:
    missing = new_id()

    with pytest.raises(ApplicationNotFound) as caught:
        call(service, missing)

    assert str(caught.value) == f"application {missing} does not exist"
    assert caught.value.resource_id == missing


@pytest.mark.parametrize(
    "changes",
    [{}, {"name": "<same>"}, {"comments": "original"}, {"name": "<same>", "comments": "original"}],
)
def test_update_without_an_actual_change_returns_the_current_application(
    service: ApplicationService, changes: dict[str, Any]
) -> None:
    created = create(service)
    if changes.get("name") == "<same>":
        changes["name"] = created.value.name

    updated = update(service, created.value.id, **changes)

    assert updated == created
    assert service.get(application_id=created.value.id) == created


@pytest.mark.parametrize(
    ("changes", "expected_comments", "renamed"),
    [
        ({"comments": "new comments"}, "new comments", False),
        ({"comments": None}, None, False),
        ({"name": "<new>"}, "original", True),
        ({"name": "<new>", "comments": None}, None, True),
    ],
)
def test_update_changes_only_the_fields_given(
    service: ApplicationService,
    changes: dict[str, Any],
    expected_comments: str | None,
    renamed: bool,
) -> None:
    created = create(service).value
    new_name = unique_name("renamed")
    if renamed:
        changes["name"] = new_name

    updated = update(service, created.id, **changes)

    after = updated.value
    assert (after.name, after.comments) == (
        new_name if renamed else created.name,
        expected_comments,
    )
    assert (after.revision, updated.version) == (2, 2)
    assert after.created_at == created.created_at
    assert after.updated_at > created.updated_at
    assert service.get(application_id=created.id) == updated


def test_update_to_a_taken_name_raises_application_name_taken(
    service: ApplicationService,
) -> None:
    first, second = create(service).value, create(service)

    with pytest.raises(ApplicationNameTaken) as caught:
        update(service, second.value.id, name=first.name)

    assert caught.value.name == first.name
    assert service.get(application_id=second.value.id) == second


def test_update_with_a_stale_precondition_raises_and_changes_nothing(
    service: ApplicationService,
) -> None:
    created = create(service)
    application_id = created.value.id
    update(service, application_id, comments="moved on")

    with pytest.raises(PreconditionFailed) as caught:
        service.update(
            application_id=application_id,
            changes=ApplicationUpdate(comments="based on version 1"),
            precondition=Precondition(versions=frozenset({1})),
        )

    assert (caught.value.current.version, caught.value.current.value.revision) == (2, 2)
    assert (caught.value.resource, caught.value.resource_id) == ("application", application_id)
    assert not caught.value.unwanted
    assert service.get(application_id=application_id).value.comments == "moved on"


def test_update_with_the_current_version_as_precondition_succeeds(
    service: ApplicationService,
) -> None:
    created = create(service)

    updated = service.update(
        application_id=created.value.id,
        changes=ApplicationUpdate(comments="checked"),
        precondition=Precondition(versions=frozenset({created.version})),
    )

    assert (updated.value.comments, updated.version) == ("checked", 2)


def test_concurrent_updates_all_apply(service: ApplicationService) -> None:
    """Without If-Match a writer that loses the compare-and-set re-reads and retries."""
    application_id = create(service).value.id
    writers = 4
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(index: int) -> None:
        start.wait()
        try:
            update(service, application_id, comments=f"writer {index}")
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    final = service.get(application_id=application_id)
    assert failures == []
    assert (final.value.revision, final.version) == (1 + writers, 1 + writers)
    assert final.value.comments in {f"writer {index}" for index in range(writers)}


def test_delete_removes_the_application(service: ApplicationService) -> None:
    application_id = create(service).value.id

    service.delete(application_id=application_id)

    with pytest.raises(ApplicationNotFound):
        service.get(application_id=application_id)
    with pytest.raises(ApplicationNotFound):
        service.delete(application_id=application_id)


def test_an_application_with_more_configurations_than_one_transaction_records_is_a_conflict(
    service: ApplicationService, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its deletion would record one change per configuration and one for itself, more than
    a transaction's positions hold: a 409 that says what to do, and nothing is deleted (not a
    500 from the change log)."""
    application_id = create(service).value.id
    configurations = ConfigurationService(
        unit_of_work_factory(database), max_json_depth=32, actor=TEST_ACTOR
    )
    for name in ("one", "two"):
        configurations.create(
            data=ConfigurationCreate(application_id=application_id, name=name, config={})
        )
    # Three records (two configurations, then the application) where two fit.
    monkeypatch.setattr(change_log_repository, "MAX_RECORDS_PER_TRANSACTION", 2)

    with pytest.raises(Conflict) as raised:
        service.delete(application_id=application_id)

    assert "delete some of its configurations first" in str(raised.value)
    assert service.get(application_id=application_id).value.configuration_ids != []
    monkeypatch.undo()
    service.delete(application_id=application_id)
    with pytest.raises(ApplicationNotFound):
        service.get(application_id=application_id)


def test_delete_with_a_stale_precondition_keeps_the_application(
    service: ApplicationService,
) -> None:
    created = create(service)
    update(service, created.value.id, comments="moved on")

    with pytest.raises(PreconditionFailed):
        service.delete(
            application_id=created.value.id, precondition=Precondition(versions=frozenset({1}))
        )

    assert service.get(application_id=created.value.id).version == 2


def test_list_sets_next_after_exactly_when_more_rows_exist(service: ApplicationService) -> None:
    # Ids grow with time, so nothing but these three lies after `marker`.
    marker = new_id()
    ids = [create(service).value.id for _ in range(3)]

    def page(after: str, limit: int) -> tuple[list[str], str | None]:
        listed = service.list(after=after, limit=limit, name=None)
        return [application.id for application in listed.items], listed.next_after

    assert page(marker, 2) == (ids[:2], ids[1])
    assert page(ids[1], 2) == ([ids[2]], None)
    assert page(marker, 3) == (ids, None)
    assert page(marker, 4) == (ids, None)
    assert page(ids[2], 1) == ([], None)


def test_list_filters_by_name(service: ApplicationService) -> None:
    wanted = create(service).value
    create(service)

    listed = service.list(after=None, limit=1, name=wanted.name)

    assert ([application.id for application in listed.items], listed.next_after) == (
        [wanted.id],
        None,
    )
